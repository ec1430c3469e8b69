/**
 * IPv4 header (RFC 791 §3.1): allocation-free parse and build over a Uint8Array at an offset, the
 * header checksum (RFC 1071) and its incremental update when a field or an address changes
 * (RFC 1624). Every function works on subarrays with any byteOffset and never allocates.
 */

import { copyBytes, readU16, writeU16 } from '../util/bytes.js';
import { finishChecksum, internetChecksum, sumWords, updateChecksum16 } from '../util/checksum.js';
import {
  BYTE_BITS,
  DEFAULT_TTL,
  INET_WORD_LEN,
  IPV4_ADDR_LEN,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_FRAG_OFFSET_MASK,
  IPV4_FRAG_UNIT,
  IPV4_IHL_MASK,
  IPV4_IHL_UNIT,
  IPV4_MIN_HDR_LEN,
  IPV4_OFF_CHECKSUM,
  IPV4_OFF_DST,
  IPV4_OFF_FLAGS_FRAG,
  IPV4_OFF_ID,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  IPV4_OFF_TOS,
  IPV4_OFF_TOTAL_LEN,
  IPV4_OFF_TTL,
  IPV4_OFF_VER_IHL,
  IPV4_VERSION,
  IPV4_VERSION_SHIFT,
  U8_MAX,
} from './constants.js';

/** The fields of a parsed IPv4 header. Offsets are absolute indexes into the parsed buffer. */
export interface Ipv4Header {
  /** IHL in bytes (20-60), options included. */
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes (the field times 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  /** True when the header checksum verifies (RFC 791 §3.1). Parsing does not reject a bad one. */
  checksumValid: boolean;
  /** Absolute offsets of the 4-byte source and destination addresses in the parsed buffer. */
  srcOffset: number;
  dstOffset: number;
  /** Absolute offset of the payload (first byte after the header and its options). */
  payloadOffset: number;
  /** Payload bytes according to Total Length. */
  payloadLength: number;
}

/** A zeroed Ipv4Header for `parseIpv4` to fill; allocate once and reuse it per packet. */
export function newIpv4Header(): Ipv4Header {
  return {
    headerLength: 0,
    tos: 0,
    totalLength: 0,
    id: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 0,
    protocol: 0,
    checksum: 0,
    checksumValid: false,
    srcOffset: 0,
    dstOffset: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/**
 * Parses the IPv4 header at `buf[off, off+len)` into the caller-owned `out`. Returns false (and
 * leaves `out` unspecified) when the bytes cannot be an IPv4 packet: shorter than 20 bytes, version
 * not 4, IHL below 5 or past `len`, or Total Length below the header or past `len`. Bytes after
 * Total Length (link padding) are allowed. A bad header checksum is reported in `checksumValid`,
 * not rejected. The offsets in `out` index `buf` and stay meaningful while `buf` holds this packet
 * (for a PacketBatch slot: until the batch is recycled). Never throws, never allocates.
 */
export function parseIpv4(buf: Uint8Array, off: number, len: number, out: Ipv4Header): boolean {
  if (len < IPV4_MIN_HDR_LEN || off < 0 || off + len > buf.length) return false;
  const verIhl = buf[off + IPV4_OFF_VER_IHL]!;
  if (verIhl >> IPV4_VERSION_SHIFT !== IPV4_VERSION) return false;
  const hdrLen = (verIhl & IPV4_IHL_MASK) * IPV4_IHL_UNIT;
  if (hdrLen < IPV4_MIN_HDR_LEN || hdrLen > len) return false;
  const total = readU16(buf, off + IPV4_OFF_TOTAL_LEN);
  if (total < hdrLen || total > len) return false;
  const flagsFrag = readU16(buf, off + IPV4_OFF_FLAGS_FRAG);
  out.headerLength = hdrLen;
  out.tos = buf[off + IPV4_OFF_TOS]!;
  out.totalLength = total;
  out.id = readU16(buf, off + IPV4_OFF_ID);
  out.dontFragment = (flagsFrag & IPV4_FLAG_DF) !== 0;
  out.moreFragments = (flagsFrag & IPV4_FLAG_MF) !== 0;
  out.fragmentOffset = (flagsFrag & IPV4_FRAG_OFFSET_MASK) * IPV4_FRAG_UNIT;
  out.ttl = buf[off + IPV4_OFF_TTL]!;
  out.protocol = buf[off + IPV4_OFF_PROTO]!;
  out.checksum = readU16(buf, off + IPV4_OFF_CHECKSUM);
  out.checksumValid = internetChecksum(buf, off, hdrLen) === 0;
  out.srcOffset = off + IPV4_OFF_SRC;
  out.dstOffset = off + IPV4_OFF_DST;
  out.payloadOffset = off + hdrLen;
  out.payloadLength = total - hdrLen;
  return true;
}

/** The IP version nibble of the header at `buf[off]` (same place in IPv4 and IPv6; no validation). */
export function ipVersion(buf: Uint8Array, off: number): number {
  return buf[off + IPV4_OFF_VER_IHL]! >> IPV4_VERSION_SHIFT;
}

/** The header length in bytes from the IHL field at `buf[off]` (no validation). */
export function ipv4HeaderLength(buf: Uint8Array, off: number): number {
  return (buf[off + IPV4_OFF_VER_IHL]! & IPV4_IHL_MASK) * IPV4_IHL_UNIT;
}

/**
 * The header checksum value for the header at `buf[off]` (length from its IHL), computed as if the
 * checksum field were zero (RFC 791 §3.1). Does not write it.
 */
export function computeIpv4Checksum(buf: Uint8Array, off: number): number {
  const hdrLen = ipv4HeaderLength(buf, off);
  const before = sumWords(buf, off, IPV4_OFF_CHECKSUM);
  const after = IPV4_OFF_CHECKSUM + INET_WORD_LEN;
  return finishChecksum(sumWords(buf, off + after, hdrLen - after, before));
}

/** Computes and stores the header checksum of the header at `buf[off]`; returns the value written. */
export function fillIpv4Checksum(buf: Uint8Array, off: number): number {
  const ck = computeIpv4Checksum(buf, off);
  writeU16(buf, off + IPV4_OFF_CHECKSUM, ck);
  return ck;
}

/** True when the header at `buf[off]` (length from its IHL) has a valid checksum. */
export function verifyIpv4Checksum(buf: Uint8Array, off: number): boolean {
  return internetChecksum(buf, off, ipv4HeaderLength(buf, off)) === 0;
}

/**
 * Writes a 20-byte IPv4 header without options at `buf[off]`, checksum included, and returns the
 * bytes written (20). The first 4 bytes of `src` and `dst` are the addresses (a 16-byte FlowTuple
 * buffer works); `payloadLength` excludes the header.
 * `flags` holds the DF/MF bits and fragment offset field as they appear in the header word.
 */
export function writeIpv4Header(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  payloadLength: number,
  ttl = DEFAULT_TTL,
  id = 0,
  tos = 0,
  flags = IPV4_FLAG_DF,
): number {
  buf[off + IPV4_OFF_VER_IHL] = (IPV4_VERSION << IPV4_VERSION_SHIFT) | (IPV4_MIN_HDR_LEN / IPV4_IHL_UNIT);
  buf[off + IPV4_OFF_TOS] = tos;
  writeU16(buf, off + IPV4_OFF_TOTAL_LEN, IPV4_MIN_HDR_LEN + payloadLength);
  writeU16(buf, off + IPV4_OFF_ID, id);
  writeU16(buf, off + IPV4_OFF_FLAGS_FRAG, flags);
  buf[off + IPV4_OFF_TTL] = ttl;
  buf[off + IPV4_OFF_PROTO] = protocol;
  writeU16(buf, off + IPV4_OFF_CHECKSUM, 0);
  copyBytes(buf, off + IPV4_OFF_SRC, src, 0, IPV4_ADDR_LEN);
  copyBytes(buf, off + IPV4_OFF_DST, dst, 0, IPV4_ADDR_LEN);
  fillIpv4Checksum(buf, off);
  return IPV4_MIN_HDR_LEN;
}

/**
 * Sets the 16-bit header word at `off + fieldOffset` (an even offset: Total Length, ID,
 * flags/fragment, the TTL|Protocol word, the Version|IHL|TOS word) to `value` and updates the
 * header checksum incrementally (RFC 1624 eqn. 3).
 */
export function ipv4SetWord(buf: Uint8Array, off: number, fieldOffset: number, value: number): void {
  const old = readU16(buf, off + fieldOffset);
  writeU16(buf, off + fieldOffset, value);
  const ck = readU16(buf, off + IPV4_OFF_CHECKSUM);
  writeU16(buf, off + IPV4_OFF_CHECKSUM, updateChecksum16(ck, old, value));
}

/** Sets Total Length, fixing the checksum incrementally (RFC 1624). */
export function ipv4SetTotalLength(buf: Uint8Array, off: number, totalLength: number): void {
  ipv4SetWord(buf, off, IPV4_OFF_TOTAL_LEN, totalLength);
}

/** Sets TTL, fixing the checksum incrementally (RFC 1624; TTL shares a word with Protocol). */
export function ipv4SetTtl(buf: Uint8Array, off: number, ttl: number): void {
  ipv4SetWord(buf, off, IPV4_OFF_TTL, (ttl << BYTE_BITS) | buf[off + IPV4_OFF_PROTO]!);
}

/** Sets Protocol, fixing the checksum incrementally (RFC 1624), e.g. to 50 for transport-mode ESP. */
export function ipv4SetProtocol(buf: Uint8Array, off: number, protocol: number): void {
  ipv4SetWord(buf, off, IPV4_OFF_TTL, (buf[off + IPV4_OFF_TTL]! << BYTE_BITS) | (protocol & U8_MAX));
}

/**
 * Overwrites the source (`field` = IPV4_OFF_SRC) or destination (IPV4_OFF_DST) address with the 4
 * bytes at `addr[addrOff]`, fixing the header checksum incrementally (RFC 1624), one word at a time.
 * Upper-layer checksums that cover the address are the caller's (l4checksum.ts); fix them first,
 * while the old address is still in place.
 */
export function ipv4SetAddress(
  buf: Uint8Array,
  off: number,
  field: typeof IPV4_OFF_SRC | typeof IPV4_OFF_DST,
  addr: Uint8Array,
  addrOff = 0,
): void {
  for (let i = 0; i < IPV4_ADDR_LEN; i += INET_WORD_LEN) {
    ipv4SetWord(buf, off, field + i, readU16(addr, addrOff + i));
  }
}
