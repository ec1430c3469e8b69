/**
 * Upper-layer checksums: the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1), the IPv6 pseudo-header
 * (RFC 8200 §8.1), the full TCP / UDP / ICMP (RFC 792, no pseudo-header) / ICMPv6 (RFC 4443 §2.3) /
 * Mobility Header (RFC 6275 §6.1.1) checksums, and the RFC 1624 fix-up when an address in the
 * pseudo-header changes. Sums come from util/checksum.ts; nothing here allocates.
 *
 * UDP (RFC 768): a computed 0 is sent as 0xffff; 0 on the wire means "no checksum", valid over
 * IPv4 only (RFC 8200 §8.1 makes it mandatory over IPv6).
 */

import { readU16, writeU16 } from '../util/bytes.js';
import { finishChecksum, internetChecksum, sumWords, updateChecksum16 } from '../util/checksum.js';
import {
  ICMP_OFF_CHECKSUM,
  INET_WORD_LEN,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_MH,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_ADDR_LEN,
  IPV4_VERSION,
  IPV6_ADDR_LEN,
  MH_OFF_CHECKSUM,
  TCP_OFF_CHECKSUM,
  UDP_CHECKSUM_NONE,
  UDP_CHECKSUM_ZERO_AS,
  U16_MAX,
  U16_RANGE,
  UDP_OFF_CHECKSUM,
} from './constants.js';
import { ipVersion, newIpv4Header, parseIpv4 } from './ipv4.js';
import { newIpv6Packet, parseIpv6 } from './ipv6.js';

/**
 * Unfolded sum of the IPv4 pseudo-header {src, dst, zero, protocol, upper-layer length} (RFC 768,
 * RFC 9293 §3.1). The addresses are the 4 bytes at `src[srcOff]` and `dst[dstOff]`.
 */
export function pseudoSum4(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  proto: number,
  l4Len: number,
): number {
  return sumWords(dst, dstOff, IPV4_ADDR_LEN, sumWords(src, srcOff, IPV4_ADDR_LEN)) + proto + l4Len;
}

/**
 * Unfolded sum of the IPv6 pseudo-header {src, dst, 32-bit upper-layer length, zero, next header}
 * (RFC 8200 §8.1). The addresses are the 16 bytes at `src[srcOff]` and `dst[dstOff]`: the ones the
 * upper layer sees (the HoA with a HAO, the final destination with a routing header; in IRO the
 * identities, PROTOCOL.md F.12/F.13).
 */
export function pseudoSum6(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  nextHeader: number,
  l4Len: number,
): number {
  const addrs = sumWords(dst, dstOff, IPV6_ADDR_LEN, sumWords(src, srcOff, IPV6_ADDR_LEN));
  return addrs + Math.floor(l4Len / U16_RANGE) + (l4Len & U16_MAX) + nextHeader;
}

/** Offset of the checksum field inside the upper-layer header of `proto`, or -1 when iro does not
 * know one (TCP 16, UDP 6, ICMP/ICMPv6 2, MH 4). */
export function checksumFieldOffset(proto: number): number {
  switch (proto) {
    case IPPROTO_TCP:
      return TCP_OFF_CHECKSUM;
    case IPPROTO_UDP:
      return UDP_OFF_CHECKSUM;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      return ICMP_OFF_CHECKSUM;
    case IPPROTO_MH:
      return MH_OFF_CHECKSUM;
    default:
      return -1;
  }
}

/**
 * The checksum value for the upper-layer message `buf[l4Off, l4Off+l4Len)` of protocol `proto`,
 * computed with its checksum field taken as zero, over `pseudo` (pseudoSum4/pseudoSum6; 0 for
 * ICMP over IPv4, which has none). UDP's 0 becomes 0xffff. Returns -1 when `proto` has no known
 * checksum field or `l4Len` cannot hold it. Does not write.
 */
export function computeL4Checksum(buf: Uint8Array, l4Off: number, l4Len: number, proto: number, pseudo: number): number {
  const cs = checksumFieldOffset(proto);
  if (cs < 0 || cs + INET_WORD_LEN > l4Len) return -1;
  const head = sumWords(buf, l4Off, cs, pseudo);
  const after = cs + INET_WORD_LEN;
  const ck = finishChecksum(sumWords(buf, l4Off + after, l4Len - after, head));
  return proto === IPPROTO_UDP && ck === UDP_CHECKSUM_NONE ? UDP_CHECKSUM_ZERO_AS : ck;
}

/** Computes (see computeL4Checksum) and stores the checksum; returns false, writing nothing, when
 * `proto` has no known checksum field or the message is too short. */
export function fillL4Checksum(buf: Uint8Array, l4Off: number, l4Len: number, proto: number, pseudo: number): boolean {
  const ck = computeL4Checksum(buf, l4Off, l4Len, proto, pseudo);
  if (ck < 0) return false;
  writeU16(buf, l4Off + checksumFieldOffset(proto), ck);
  return true;
}

/**
 * True when the checksum stored in `buf[l4Off, l4Off+l4Len)` verifies over `pseudo`. UDP with
 * checksum 0 is valid over IPv4 ("none", RFC 768) and invalid over IPv6 (RFC 8200 §8.1), hence
 * `family`. False for a protocol without a known checksum field or a message too short to hold it.
 */
export function verifyL4Checksum(
  buf: Uint8Array,
  l4Off: number,
  l4Len: number,
  proto: number,
  pseudo: number,
  family: 4 | 6,
): boolean {
  const cs = checksumFieldOffset(proto);
  if (cs < 0 || cs + INET_WORD_LEN > l4Len) return false;
  if (proto === IPPROTO_UDP && readU16(buf, l4Off + cs) === UDP_CHECKSUM_NONE) return family === 4;
  return internetChecksum(buf, l4Off, l4Len, pseudo) === 0;
}

/** Where the upper layer of the last packet given to `locate` is, and its pseudo-header sum. */
interface Located {
  family: 4 | 6;
  proto: number;
  l4Off: number;
  l4Len: number;
  pseudo: number;
}

/** Scratch state reused by every call (one isolate runs one call at a time). */
const v4 = newIpv4Header();
const v6 = newIpv6Packet();
const found: Located = { family: 4, proto: 0, l4Off: 0, l4Len: 0, pseudo: 0 };

/** Fills `found` for the packet at `buf[off, off+len)`. False when malformed, fragmented, or its
 * final destination is in a routing header iro does not read (any but type 2 with segments left). */
function locate(buf: Uint8Array, off: number, len: number): boolean {
  if (len > 0 && ipVersion(buf, off) === IPV4_VERSION) {
    if (!parseIpv4(buf, off, len, v4) || v4.moreFragments || v4.fragmentOffset !== 0) return false;
    found.family = 4;
    found.proto = v4.protocol;
    found.l4Off = v4.payloadOffset;
    found.l4Len = v4.payloadLength;
    found.pseudo =
      v4.protocol === IPPROTO_ICMP ? 0 : pseudoSum4(buf, v4.srcOffset, buf, v4.dstOffset, v4.protocol, v4.payloadLength);
    return true;
  }
  if (!parseIpv6(buf, off, len, v6) || v6.fragment) return false;
  // RFC 6275 §6.3: with a HAO the upper layer sees the home address as source. RFC 8200 §8.1: the
  // destination is the final one, the routing header's last address while segments are left.
  const src = v6.haoOffset >= 0 ? v6.haoOffset : v6.srcOffset;
  let dst = v6.dstOffset;
  if (v6.segmentsLeft > 0) {
    if (v6.rh2Offset < 0) return false;
    dst = v6.rh2Offset;
  }
  found.family = 6;
  found.proto = v6.proto;
  found.l4Off = v6.l4Offset;
  found.l4Len = v6.end - v6.l4Offset;
  found.pseudo = pseudoSum6(buf, src, buf, dst, v6.proto, found.l4Len);
  return true;
}

/**
 * Verifies the TCP/UDP/ICMP/ICMPv6/MH checksum of the whole IPv4 or IPv6 packet at
 * `buf[off, off+len)` against its own header addresses (IPv6: HAO and Type 2 Routing Header
 * honoured, RFC 6275 §6.3/§6.4). False when malformed, fragmented, or of another protocol.
 */
export function verifyPacketChecksum(buf: Uint8Array, off: number, len: number): boolean {
  if (!locate(buf, off, len)) return false;
  return verifyL4Checksum(buf, found.l4Off, found.l4Len, found.proto, found.pseudo, found.family);
}

/** Computes and stores the upper-layer checksum of the packet at `buf[off, off+len)` (same rules as
 * verifyPacketChecksum). Returns false, writing nothing, when it cannot. */
export function fillPacketChecksum(buf: Uint8Array, off: number, len: number): boolean {
  if (!locate(buf, off, len)) return false;
  return fillL4Checksum(buf, found.l4Off, found.l4Len, found.proto, found.pseudo);
}

/**
 * RFC 1624 eqn. 3 fix-up of the checksum of the upper-layer message `buf[l4Off, l4Off+l4Len)` of
 * protocol `proto` for a pseudo-header address changing from the `addrLen` (4 or 16) bytes at
 * `oldAddr[oldOff]` to those at `newAddr[newOff]` (e.g. RFC 3948 §3.1.2 transport-mode NAT
 * handling). Call it before overwriting the address in place. Nothing changes for ICMP over IPv4
 * (no pseudo-header), for UDP with checksum 0 ("none"), or when the message cannot hold the field.
 */
export function updateL4ChecksumForAddress(
  buf: Uint8Array,
  l4Off: number,
  l4Len: number,
  proto: number,
  oldAddr: Uint8Array,
  oldOff: number,
  newAddr: Uint8Array,
  newOff: number,
  addrLen: number,
): void {
  if (proto === IPPROTO_ICMP) return;
  const cs = checksumFieldOffset(proto);
  if (cs < 0 || cs + INET_WORD_LEN > l4Len) return;
  let ck = readU16(buf, l4Off + cs);
  if (proto === IPPROTO_UDP && ck === UDP_CHECKSUM_NONE) return;
  for (let i = 0; i < addrLen; i += INET_WORD_LEN) {
    ck = updateChecksum16(ck, readU16(oldAddr, oldOff + i), readU16(newAddr, newOff + i));
  }
  if (proto === IPPROTO_UDP && ck === UDP_CHECKSUM_NONE) ck = UDP_CHECKSUM_ZERO_AS;
  writeU16(buf, l4Off + cs, ck);
}
