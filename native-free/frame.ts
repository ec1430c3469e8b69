/**
 * Frames of a macvtap character device. Every read(2) of /dev/tapN returns exactly one frame and
 * every write(2) takes exactly one: a `struct virtio_net_hdr` followed by an Ethernet II frame.
 * macvtap turns IFF_VNET_HDR on when the device is opened, with the 10-byte legacy header
 * (Linux drivers/net/tap.c, tap_open), so no ioctl is needed to know the layout.
 *
 * Specifications: virtio 1.2 §5.1.6 (virtio_net_hdr; the legacy header has no num_buffers and its
 * fields are in the host's byte order), IEEE 802.3 (Ethernet II header), RFC 826 (ARP),
 * RFC 4861 §4 (Neighbor Discovery message types), RFC 1071 (Internet checksum), RFC 768 (a UDP
 * checksum that computes to zero is sent as all ones).
 *
 * These functions never allocate and never throw on bad input: they classify a frame and return
 * what to do with it; the caller counts the outcome.
 */
import { endianness } from 'node:os';
import {
  IPPROTO_ICMPV6,
  IPV4_MIN_HDR_LEN,
  IPV4_OFF_TOTAL_LEN,
  IPV4_OFF_VER_IHL,
  IPV4_VERSION,
  IPV6_HDR_LEN,
  IPV6_OFF_NEXT_HDR,
  IPV6_OFF_PAYLOAD_LEN,
  IPV6_VERSION,
} from '../src/packet/constants.js';
import { readU16, writeU16 } from '../src/util/bytes.js';
import { finishChecksum, sumWords } from '../src/util/checksum.js';

// ---------------------------------------------------------------------------------------------
// Specification constants

/** struct virtio_net_hdr (virtio 1.2 §5.1.6, legacy layout without num_buffers). */
export const VNET_HDR_LEN = 10;
export const VNET_OFF_FLAGS = 0;
export const VNET_OFF_GSO_TYPE = 1;
export const VNET_OFF_HDR_LEN = 2;
export const VNET_OFF_GSO_SIZE = 4;
export const VNET_OFF_CSUM_START = 6;
export const VNET_OFF_CSUM_OFFSET = 8;
/** flags: the checksum at csum_start + csum_offset is partial (holds the pseudo-header sum). */
export const VNET_F_NEEDS_CSUM = 0x01;
/** gso_type: not a segmentation-offload super-frame. */
export const VNET_GSO_NONE = 0;
/** gso_type bit that may accompany any GSO type. */
export const VNET_GSO_ECN = 0x80;

/** Ethernet II header (IEEE 802.3 §3.1.1). */
export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
export const ETH_OFF_DST = 0;
export const ETH_OFF_SRC = 6;
export const ETH_OFF_TYPE = 12;
/** An 802.1Q tag that may sit between the source address and the EtherType. */
export const VLAN_TAG_LEN = 4;
/** EtherTypes (IEEE Registration Authority). */
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
/** IEEE 802 Local Experimental EtherType 1: iro's own wake-up frames, never IP. */
export const ETH_P_LOCAL_EXP1 = 0x88b5;

/** ICMPv6 Neighbor Discovery message types (RFC 4861 §4): Router Solicitation .. Redirect. */
export const ICMPV6_ND_FIRST = 133;
export const ICMPV6_ND_LAST = 137;
/** Offset of the ICMP type field inside an ICMP/ICMPv6 header (RFC 4443 §2.1). */
export const ICMP_OFF_TYPE = 0;

/** RFC 768: a computed UDP checksum of zero is transmitted as all ones (0 means "none"). */
export const CHECKSUM_ZERO_AS = 0xffff;

// ---------------------------------------------------------------------------------------------
// Implementation constants

/** Bytes written in front of every IP packet: the virtio-net header and the Ethernet header. */
export const FRAME_HDR_LEN = VNET_HDR_LEN + ETH_HLEN;

/** Legacy virtio-net headers use the host's byte order (Linux: virtio_legacy_is_little_endian). */
const VNET_LITTLE_ENDIAN = endianness() === 'LE';

/** What a frame read from the device is. */
export const FrameKind = {
  /** An IPv4 or IPv6 packet: `ipOffset`/`ipLength` locate it, its checksum is complete. */
  IP: 0,
  /** Neither IPv4 nor IPv6 (including iro's own wake-up frames). */
  NON_IP: 1,
  /** ARP or IPv6 Neighbor Discovery: never needed by a correct setup, dropped and counted. */
  NEIGHBOUR: 2,
  /** A segmentation-offload super-frame (gso_type set): the setup prevents these. */
  GSO: 3,
  /** Too short, lengths that disagree, or a partial-checksum location outside the packet. */
  MALFORMED: 4,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Where decodeFrame found the IP packet (reused across calls: no allocation per frame). */
export interface DecodedFrame {
  ipOffset: number;
  ipLength: number;
  /** Whether the frame's checksum was partial (NEEDS_CSUM) and decodeFrame finished it. */
  checksumFinished: boolean;
}

function vnetU16(b: Uint8Array, off: number): number {
  return VNET_LITTLE_ENDIAN ? b[off]! | (b[off + 1]! << 8) : (b[off]! << 8) | b[off + 1]!;
}

/**
 * Classifies the frame of `len` bytes at `b[start]` (virtio-net header first). For an IP packet,
 * finishes a partial checksum in place (flag NEEDS_CSUM: the one's-complement sum from
 * `csum_start` to the end of the IP packet, stored at `csum_start + csum_offset`, RFC 1071),
 * drops any Ethernet padding, and sets `out.ipOffset` (into `b`) and `out.ipLength`.
 * Modifies only the checksum field; `out` is written only for FrameKind.IP.
 */
export function decodeFrame(b: Uint8Array, start: number, len: number, out: DecodedFrame): FrameKind {
  if (len < FRAME_HDR_LEN) return FrameKind.MALFORMED;
  if ((b[start + VNET_OFF_GSO_TYPE]! & ~VNET_GSO_ECN) !== VNET_GSO_NONE) return FrameKind.GSO;
  const eth = start + VNET_HDR_LEN;
  const end = start + len;
  const type = readU16(b, eth + ETH_OFF_TYPE);
  const ip = eth + ETH_HLEN;
  let ipLen: number;
  if (type === ETH_P_IP) {
    if (end - ip < IPV4_MIN_HDR_LEN || b[ip + IPV4_OFF_VER_IHL]! >> 4 !== IPV4_VERSION) return FrameKind.MALFORMED;
    ipLen = readU16(b, ip + IPV4_OFF_TOTAL_LEN);
    if (ipLen < IPV4_MIN_HDR_LEN) return FrameKind.MALFORMED;
  } else if (type === ETH_P_IPV6) {
    if (end - ip < IPV6_HDR_LEN || b[ip]! >> 4 !== IPV6_VERSION) return FrameKind.MALFORMED;
    ipLen = IPV6_HDR_LEN + readU16(b, ip + IPV6_OFF_PAYLOAD_LEN);
    if (
      b[ip + IPV6_OFF_NEXT_HDR] === IPPROTO_ICMPV6 &&
      ipLen > IPV6_HDR_LEN &&
      b[ip + IPV6_HDR_LEN + ICMP_OFF_TYPE]! >= ICMPV6_ND_FIRST &&
      b[ip + IPV6_HDR_LEN + ICMP_OFF_TYPE]! <= ICMPV6_ND_LAST
    ) {
      return FrameKind.NEIGHBOUR;
    }
  } else if (type === ETH_P_ARP) {
    return FrameKind.NEIGHBOUR;
  } else {
    return FrameKind.NON_IP;
  }
  const ipEnd = ip + ipLen;
  if (ipEnd > end) return FrameKind.MALFORMED;
  if (b[start + VNET_OFF_FLAGS]! & VNET_F_NEEDS_CSUM) {
    const from = eth + vnetU16(b, start + VNET_OFF_CSUM_START);
    const field = from + vnetU16(b, start + VNET_OFF_CSUM_OFFSET);
    if (from < ip || field + 2 > ipEnd) return FrameKind.MALFORMED;
    // The field holds the pseudo-header sum; summing over it completes the checksum.
    writeU16(b, field, finishChecksum(sumWords(b, from, ipEnd - from)) || CHECKSUM_ZERO_AS);
    out.checksumFinished = true;
  } else {
    out.checksumFinished = false;
  }
  out.ipOffset = ip;
  out.ipLength = ipLen;
  return FrameKind.IP;
}

/** The EtherType for an IP packet whose first byte is `firstByte`, or 0 when it is neither IPv4 nor IPv6. */
export function etherTypeOf(firstByte: number): number {
  const version = firstByte >> 4;
  if (version === IPV4_VERSION) return ETH_P_IP;
  if (version === IPV6_VERSION) return ETH_P_IPV6;
  return 0;
}

/**
 * Writes the FRAME_HDR_LEN bytes that go in front of a packet at `b[off]`: an all-zero
 * virtio-net header (no offload requested: the packet's checksums are already complete) and an
 * Ethernet header from `src` to `dst` with `etherType`. Returns FRAME_HDR_LEN.
 */
export function writeFrameHeader(b: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  b.fill(0, off, off + VNET_HDR_LEN);
  const eth = off + VNET_HDR_LEN;
  b.set(dst, eth + ETH_OFF_DST);
  b.set(src, eth + ETH_OFF_SRC);
  writeU16(b, eth + ETH_OFF_TYPE, etherType);
  return FRAME_HDR_LEN;
}

/** Parses `aa:bb:cc:dd:ee:ff` into 6 bytes; null when it is not a MAC address. */
export function parseMac(text: string): Uint8Array | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) return null;
  const out = new Uint8Array(ETH_ALEN);
  for (let i = 0; i < ETH_ALEN; i++) out[i] = parseInt(m[i + 1]!, 16);
  return out;
}
