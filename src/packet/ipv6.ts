/**
 * IPv6 (RFC 8200): the fixed header, the extension-header walk and the transport-mode ESP split
 * point (RFC 4303 §3.1.1, PROTOCOL.md F.23), plus builders for the header, the Home Address
 * destination option (RFC 6275 §6.3) and the Type 2 Routing Header (RFC 6275 §6.4) that RFC 3776
 * packets carry and IRO packets do not (PROTOCOL.md A.6, E.3).
 *
 * Allocation-free: parsers fill caller-owned objects with absolute offsets into the parsed buffer
 * and never throw; they work on subarrays with any byteOffset.
 */

import { copyBytes, readU16, readU32, writeU16, writeU32 } from '../util/bytes.js';
import {
  DEFAULT_HOP_LIMIT,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ROUTING,
  IPV6_ADDR_LEN,
  IPV6_EXT_MIN_LEN,
  IPV6_EXT_OFF_LEN,
  IPV6_EXT_OFF_NEXT_HDR,
  IPV6_EXT_OFF_OPTIONS,
  IPV6_EXT_UNIT,
  IPV6_FLOW_MASK,
  IPV6_FRAG_HDR_LEN,
  IPV6_FRAG_M_FLAG,
  IPV6_FRAG_OFF_OFFSET,
  IPV6_FRAG_OFFSET_MASK,
  IPV6_HAO_ALIGN_OFFSET,
  IPV6_HAO_DSTOPT_LEN,
  IPV6_HDR_LEN,
  IPV6_OFF_DST,
  IPV6_OFF_HOP_LIMIT,
  IPV6_OFF_NEXT_HDR,
  IPV6_OFF_PAYLOAD_LEN,
  IPV6_OFF_SRC,
  IPV6_OFF_VER_TC_FLOW,
  IPV6_OPT_HDR_LEN,
  IPV6_OPT_HOME_ADDRESS,
  IPV6_OPT_HOME_ADDRESS_LEN,
  IPV6_OPT_OFF_LEN,
  IPV6_OPT_OFF_TYPE,
  IPV6_OPT_PAD1,
  IPV6_OPT_PAD1_LEN,
  IPV6_OPT_PADN,
  IPV6_RH2_HDR_EXT_LEN,
  IPV6_RH2_LEN,
  IPV6_RH2_OFF_ADDR,
  IPV6_RH2_OFF_RESERVED,
  IPV6_RH2_SEG_LEFT,
  IPV6_RH_OFF_SEG_LEFT,
  IPV6_RH_OFF_TYPE,
  IPV6_RH_TYPE2,
  IPV6_TC_MASK,
  IPV6_TC_SHIFT,
  IPV6_VERSION,
  IPV6_VERSION_SHIFT,
} from './constants.js';

/** The fixed IPv6 header. Offsets are absolute indexes into the parsed buffer. */
export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  /** Next Header of the fixed header (the first extension header or the upper layer). */
  nextHeader: number;
  hopLimit: number;
  /** Absolute offsets of the 16-byte source and destination addresses. */
  srcOffset: number;
  dstOffset: number;
  /** Absolute offset one past the packet: off + 40 + Payload Length. */
  end: number;
}

/** The fixed header plus what the extension-header walk found. Offsets are absolute. */
export interface Ipv6Packet extends Ipv6Header {
  /** The upper-layer protocol: the first Next Header that is not Hop-by-Hop, Routing, Fragment or
   * Destination Options (so ESP 50, AH 51, MH 135, No Next Header 59 end the walk too). For a
   * non-first fragment, the Fragment header's Next Header. */
  proto: number;
  /** Offset of the upper-layer header (for a non-first fragment: of the fragment's data). */
  l4Offset: number;
  /** A Fragment header is present (RFC 8200 §4.5). */
  fragment: boolean;
  /** The Fragment Offset is not 0: the upper-layer header is not in this packet. */
  nonFirstFragment: boolean;
  /** The Fragment header's M flag: more fragments follow. */
  moreFragments: boolean;
  /** Offset of the 16-byte address inside a Home Address option (RFC 6275 §6.3), or -1. */
  haoOffset: number;
  /** Offset of the 16-byte address inside a Type 2 Routing Header (RFC 6275 §6.4), or -1. */
  rh2Offset: number;
  /** Segments Left of the last Routing header, 0 when there is none. */
  segmentsLeft: number;
  /** Transport-mode split point (RFC 4303 §3.1.1, PROTOCOL.md F.23): where the ESP header goes.
   * Everything before it stays in clear; everything from it on is encrypted. */
  espOffset: number;
  /** Offset of the Next Header byte that names the header at `espOffset` and must become 50. */
  espNextHeaderOffset: number;
}

/** A zeroed Ipv6Packet for `parseIpv6` / `parseIpv6Header` to fill; allocate once and reuse it. */
export function newIpv6Packet(): Ipv6Packet {
  return {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    nextHeader: 0,
    hopLimit: 0,
    srcOffset: 0,
    dstOffset: 0,
    end: 0,
    proto: 0,
    l4Offset: 0,
    fragment: false,
    nonFirstFragment: false,
    moreFragments: false,
    haoOffset: -1,
    rh2Offset: -1,
    segmentsLeft: 0,
    espOffset: 0,
    espNextHeaderOffset: 0,
  };
}

/**
 * Parses the fixed IPv6 header at `buf[off, off+len)` into `out`. False when shorter than 40 bytes,
 * the version is not 6, or 40 + Payload Length exceeds `len` (bytes beyond it are allowed and not
 * part of the packet). Never throws, never allocates.
 */
export function parseIpv6Header(buf: Uint8Array, off: number, len: number, out: Ipv6Header): boolean {
  if (len < IPV6_HDR_LEN || off < 0 || off + len > buf.length) return false;
  const word = readU32(buf, off + IPV6_OFF_VER_TC_FLOW);
  if (word >>> IPV6_VERSION_SHIFT !== IPV6_VERSION) return false;
  const plen = readU16(buf, off + IPV6_OFF_PAYLOAD_LEN);
  if (IPV6_HDR_LEN + plen > len) return false;
  out.trafficClass = (word >>> IPV6_TC_SHIFT) & IPV6_TC_MASK;
  out.flowLabel = word & IPV6_FLOW_MASK;
  out.payloadLength = plen;
  out.nextHeader = buf[off + IPV6_OFF_NEXT_HDR]!;
  out.hopLimit = buf[off + IPV6_OFF_HOP_LIMIT]!;
  out.srcOffset = off + IPV6_OFF_SRC;
  out.dstOffset = off + IPV6_OFF_DST;
  out.end = off + IPV6_HDR_LEN + plen;
  return true;
}

const OPTIONS_BAD = -2;
const NO_ADDRESS = -1;

/**
 * Walks the TLV options of the Hop-by-Hop or Destination Options header at `buf[start, end)`
 * (RFC 8200 §4.2). Returns the offset of the Home Address option's address when `allowHao` and it
 * is present, NO_ADDRESS when absent, OPTIONS_BAD when an option overruns the header, a HAO has a
 * length other than 16 (RFC 6275 §6.3) or appears twice.
 */
function scanOptions(buf: Uint8Array, start: number, end: number, allowHao: boolean): number {
  let hao = NO_ADDRESS;
  let i = start + IPV6_EXT_OFF_OPTIONS;
  while (i < end) {
    const type = buf[i + IPV6_OPT_OFF_TYPE]!;
    if (type === IPV6_OPT_PAD1) {
      i += IPV6_OPT_PAD1_LEN;
      continue;
    }
    if (i + IPV6_OPT_HDR_LEN > end) return OPTIONS_BAD;
    const dataLen = buf[i + IPV6_OPT_OFF_LEN]!;
    if (i + IPV6_OPT_HDR_LEN + dataLen > end) return OPTIONS_BAD;
    if (allowHao && type === IPV6_OPT_HOME_ADDRESS) {
      // RFC 6275 §6.3: Option Length 16; the option MUST NOT appear more than once.
      if (dataLen !== IPV6_OPT_HOME_ADDRESS_LEN || hao !== NO_ADDRESS) return OPTIONS_BAD;
      hao = i + IPV6_OPT_HDR_LEN;
    }
    i += IPV6_OPT_HDR_LEN + dataLen;
  }
  return hao;
}

/**
 * Parses the IPv6 packet at `buf[off, off+len)`: the fixed header, then the extension-header chain
 * (RFC 8200 §4) up to the upper layer, filling `out`. Returns false on malformed input: a header
 * running past the packet end, Hop-by-Hop anywhere but first (RFC 8200 §4.3), a Type 2 Routing
 * Header with Hdr Ext Len other than 2 or Segments Left above 1 or present twice (RFC 6275 §6.4),
 * a bad options area. A non-first fragment ends the walk (its data is not the upper-layer header).
 *
 * The transport-mode split (RFC 4303 §3.1.1, PROTOCOL.md F.23): Hop-by-Hop, Routing and Fragment
 * headers stay in clear, so does every header before them (a Destination Options header before a
 * Routing header) and a Destination Options header carrying a HAO, which RFC 6275 §6.3 places
 * before ESP. Destination Options after the last of those go inside ESP.
 *
 * The offsets in `out` index `buf` and stay meaningful while `buf` holds this packet (for a
 * PacketBatch slot: until the batch is recycled). Never throws, never allocates.
 */
export function parseIpv6(buf: Uint8Array, off: number, len: number, out: Ipv6Packet): boolean {
  if (!parseIpv6Header(buf, off, len, out)) return false;
  const end = out.end;
  const first = off + IPV6_HDR_LEN;
  let nh = out.nextHeader;
  let nhOff = off + IPV6_OFF_NEXT_HDR;
  let pos = first;
  out.fragment = false;
  out.nonFirstFragment = false;
  out.moreFragments = false;
  out.haoOffset = NO_ADDRESS;
  out.rh2Offset = NO_ADDRESS;
  out.segmentsLeft = 0;
  out.espOffset = pos;
  out.espNextHeaderOffset = nhOff;
  for (;;) {
    if (nh !== IPPROTO_HOPOPTS && nh !== IPPROTO_ROUTING && nh !== IPPROTO_FRAGMENT && nh !== IPPROTO_DSTOPTS) break;
    if (pos + IPV6_EXT_MIN_LEN > end) return false;
    const hdrLen =
      nh === IPPROTO_FRAGMENT ? IPV6_FRAG_HDR_LEN : (buf[pos + IPV6_EXT_OFF_LEN]! + 1) * IPV6_EXT_UNIT;
    if (pos + hdrLen > end) return false;
    let clear = true;
    if (nh === IPPROTO_HOPOPTS) {
      if (pos !== first) return false;
      if (scanOptions(buf, pos, pos + hdrLen, false) === OPTIONS_BAD) return false;
    } else if (nh === IPPROTO_DSTOPTS) {
      const hao = scanOptions(buf, pos, pos + hdrLen, true);
      if (hao === OPTIONS_BAD) return false;
      if (hao === NO_ADDRESS) {
        clear = false;
      } else {
        if (out.haoOffset !== NO_ADDRESS) return false;
        out.haoOffset = hao;
      }
    } else if (nh === IPPROTO_ROUTING) {
      const segLeft = buf[pos + IPV6_RH_OFF_SEG_LEFT]!;
      if (buf[pos + IPV6_RH_OFF_TYPE] === IPV6_RH_TYPE2) {
        const extLen = buf[pos + IPV6_EXT_OFF_LEN];
        if (extLen !== IPV6_RH2_HDR_EXT_LEN || segLeft > IPV6_RH2_SEG_LEFT || out.rh2Offset !== NO_ADDRESS) return false;
        out.rh2Offset = pos + IPV6_RH2_OFF_ADDR;
      }
      out.segmentsLeft = segLeft;
    } else {
      const word = readU16(buf, pos + IPV6_FRAG_OFF_OFFSET);
      out.fragment = true;
      out.nonFirstFragment = (word & IPV6_FRAG_OFFSET_MASK) !== 0;
      out.moreFragments = (word & IPV6_FRAG_M_FLAG) !== 0;
    }
    if (clear) {
      out.espOffset = pos + hdrLen;
      out.espNextHeaderOffset = pos + IPV6_EXT_OFF_NEXT_HDR;
    }
    nhOff = pos + IPV6_EXT_OFF_NEXT_HDR;
    nh = buf[nhOff]!;
    pos += hdrLen;
    if (out.nonFirstFragment) break;
  }
  out.proto = nh;
  out.l4Offset = pos;
  return true;
}

/**
 * Writes a 40-byte IPv6 header at `buf[off]` and returns the bytes written (40). `src` and `dst`
 * are 16-byte addresses; `payloadLength` counts everything after the fixed header.
 */
export function writeIpv6Header(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  payloadLength: number,
  hopLimit = DEFAULT_HOP_LIMIT,
  trafficClass = 0,
  flowLabel = 0,
): number {
  const word =
    ((IPV6_VERSION << IPV6_VERSION_SHIFT) |
      ((trafficClass & IPV6_TC_MASK) << IPV6_TC_SHIFT) |
      (flowLabel & IPV6_FLOW_MASK)) >>>
    0;
  writeU32(buf, off + IPV6_OFF_VER_TC_FLOW, word);
  writeU16(buf, off + IPV6_OFF_PAYLOAD_LEN, payloadLength);
  buf[off + IPV6_OFF_NEXT_HDR] = nextHeader;
  buf[off + IPV6_OFF_HOP_LIMIT] = hopLimit;
  copyBytes(buf, off + IPV6_OFF_SRC, src, 0, IPV6_ADDR_LEN);
  copyBytes(buf, off + IPV6_OFF_DST, dst, 0, IPV6_ADDR_LEN);
  return IPV6_HDR_LEN;
}

/**
 * Writes a Destination Options header holding only a Home Address option (RFC 6275 §6.3) at
 * `buf[off]`: Next Header, Hdr Ext Len 2, PadN(2) so the option starts at 8n+6, type 0xC9, length
 * 16, the 16-byte `hoa` (PROTOCOL.md A.6). Returns the bytes written (24).
 */
export function writeHaoDestOpts(buf: Uint8Array, off: number, nextHeader: number, hoa: Uint8Array): number {
  buf[off + IPV6_EXT_OFF_NEXT_HDR] = nextHeader;
  buf[off + IPV6_EXT_OFF_LEN] = IPV6_HAO_DSTOPT_LEN / IPV6_EXT_UNIT - 1;
  // PadN fills the bytes between the options start and 8n+6.
  const pad = off + IPV6_EXT_OFF_OPTIONS;
  const padData = IPV6_HAO_ALIGN_OFFSET - IPV6_EXT_OFF_OPTIONS - IPV6_OPT_HDR_LEN;
  buf[pad + IPV6_OPT_OFF_TYPE] = IPV6_OPT_PADN;
  buf[pad + IPV6_OPT_OFF_LEN] = padData;
  buf.fill(0, pad + IPV6_OPT_HDR_LEN, pad + IPV6_OPT_HDR_LEN + padData);
  const opt = off + IPV6_HAO_ALIGN_OFFSET;
  buf[opt + IPV6_OPT_OFF_TYPE] = IPV6_OPT_HOME_ADDRESS;
  buf[opt + IPV6_OPT_OFF_LEN] = IPV6_OPT_HOME_ADDRESS_LEN;
  copyBytes(buf, opt + IPV6_OPT_HDR_LEN, hoa, 0, IPV6_ADDR_LEN);
  return IPV6_HAO_DSTOPT_LEN;
}

/**
 * Writes a Type 2 Routing Header (RFC 6275 §6.4) at `buf[off]`: Next Header, Hdr Ext Len 2, type 2,
 * Segments Left 1, 4 reserved zero bytes, the 16-byte `hoa`. Returns the bytes written (24).
 */
export function writeRh2(buf: Uint8Array, off: number, nextHeader: number, hoa: Uint8Array): number {
  buf[off + IPV6_EXT_OFF_NEXT_HDR] = nextHeader;
  buf[off + IPV6_EXT_OFF_LEN] = IPV6_RH2_HDR_EXT_LEN;
  buf[off + IPV6_RH_OFF_TYPE] = IPV6_RH_TYPE2;
  buf[off + IPV6_RH_OFF_SEG_LEFT] = IPV6_RH2_SEG_LEFT;
  writeU32(buf, off + IPV6_RH2_OFF_RESERVED, 0);
  copyBytes(buf, off + IPV6_RH2_OFF_ADDR, hoa, 0, IPV6_ADDR_LEN);
  return IPV6_RH2_LEN;
}
