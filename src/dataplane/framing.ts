/**
 * Header work the pipelines do around ESP, in place in a batch slot:
 * - restoring identities on a transport-mode (IRO) SA: a fresh IP header {src = peer identity,
 *   dst = own identity, protocol = ESP next header} in front of the decrypted payload
 *   (PROTOCOL.md A.5 inbound 3, C.3 RX 3). Upper-layer checksums inside were computed over the
 *   identities, so they verify without any fix-up (F.12, F.13);
 * - the real length of a tunnel-mode inner packet (TFC padding stripped, RFC 4303 §2.7);
 * - wrapping an ESP packet in IP (+UDP) so it can itself travel through the home tunnel
 *   ("safe by default", F.17), and finding such nested ESP after decapsulation.
 */
import {
  ESP_HDR_LEN,
  IPPROTO_ESP,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_UDP,
  IPV4_FLAG_MF,
  IPV4_FRAG_OFFSET_MASK,
  IPV4_MIN_HDR_LEN,
  IPV4_OFF_FLAGS_FRAG,
  IPV4_OFF_TOTAL_LEN,
  IPV4_VERSION,
  IPV6_HDR_LEN,
  IPV6_OFF_PAYLOAD_LEN,
  IPV6_VERSION,
  UDP_HDR_LEN,
} from '../packet/constants.js';
import { writeIpv4Header, ipVersion } from '../packet/ipv4.js';
import { writeIpv6Header } from '../packet/ipv6.js';
import { fillL4Checksum, pseudoSum6 } from '../packet/l4checksum.js';
import { writeUdpHeader } from '../packet/udp.js';
import type { FlowTuple } from '../packet/flow.js';
import { readU16, readU32, rangeEqual } from '../util/bytes.js';

/** Hop limit of restored packets when the outer one is unknown (UDP sockets do not report it). */
export const DEFAULT_RESTORED_HOP_LIMIT = 64;

/**
 * Writes the identity header in front of the payload at `buf[payloadOff, + payloadLen)`:
 * IPv6 when the identities are 16 bytes, IPv4 when 4. Returns the offset of the restored packet.
 * The caller guarantees 40 bytes of room before `payloadOff` (the ESP header and the slot's
 * headroom provide it).
 */
export function restoreIdentities(
  buf: Uint8Array,
  payloadOff: number,
  payloadLen: number,
  nextHeader: number,
  peerIdentity: Uint8Array,
  localIdentity: Uint8Array,
  hopLimit: number,
): number {
  const hops = hopLimit === 0 ? DEFAULT_RESTORED_HOP_LIMIT : hopLimit;
  if (localIdentity.length === 16) {
    const at = payloadOff - IPV6_HDR_LEN;
    writeIpv6Header(buf, at, peerIdentity, localIdentity, nextHeader, payloadLen, hops);
    return at;
  }
  const at = payloadOff - IPV4_MIN_HDR_LEN;
  writeIpv4Header(buf, at, peerIdentity, localIdentity, nextHeader, payloadLen, hops);
  return at;
}

/**
 * The length of the inner packet of a tunnel-mode SA whose decrypted payload is
 * `buf[off, + len)` with ESP next header `nh`: taken from the inner IP header, so TFC padding
 * after it is dropped (RFC 4303 §2.7). -1 when the inner header does not match `nh` or claims
 * more bytes than there are.
 */
export function tunnelInnerLength(buf: Uint8Array, off: number, len: number, nh: number): number {
  if (len < IPV4_MIN_HDR_LEN) return -1;
  const version = ipVersion(buf, off);
  let inner: number;
  if (nh === IPPROTO_IPIP && version === IPV4_VERSION) {
    inner = readU16(buf, off + IPV4_OFF_TOTAL_LEN);
  } else if (nh === IPPROTO_IPV6 && version === IPV6_VERSION && len >= IPV6_HDR_LEN) {
    inner = IPV6_HDR_LEN + readU16(buf, off + IPV6_OFF_PAYLOAD_LEN);
  } else {
    return -1;
  }
  return inner >= IPV4_MIN_HDR_LEN && inner <= len ? inner : -1;
}

/** True when the IPv4 packet at `off` is a fragment (first or later): transport-mode ESP must
 * never be applied to an inner fragment (PROTOCOL.md F.22). */
export function isIpv4Fragment(buf: Uint8Array, off: number): boolean {
  return (readU16(buf, off + IPV4_OFF_FLAGS_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0;
}

function isOwnAddress(flow: FlowTuple, identities: readonly Uint8Array[]): boolean {
  const n = flow.family === 4 ? 4 : 16;
  for (const id of identities) if (id.length === n && rangeEqual(flow.dst, 0, id, 0, n)) return true;
  return false;
}

/**
 * When the packet at `buf[off, + len)` (flow already extracted) is ESP addressed to one of
 * `identities` — raw (protocol 50) or in UDP to `listenPort` and not a keepalive or IKE — the
 * offset of its ESP header; otherwise -1. Such packets arrive through the home tunnel from a
 * correspondent that has not verified our care-of address yet.
 */
export function nestedEspOffset(
  buf: Uint8Array,
  off: number,
  len: number,
  flow: FlowTuple,
  identities: readonly Uint8Array[],
  listenPort: number,
): number {
  if (flow.fragment || !isOwnAddress(flow, identities)) return -1;
  const l4 = off + flow.l4Offset;
  if (flow.proto === IPPROTO_ESP) return l4;
  if (flow.proto !== IPPROTO_UDP || flow.dstPort !== listenPort) return -1;
  const esp = l4 + UDP_HDR_LEN;
  // RFC 3948 §2.2: a 1-byte 0xFF is a keepalive and four zero bytes mark IKE; neither is ESP.
  if (off + len - esp < ESP_HDR_LEN) return -1;
  return readU32(buf, esp) === 0 ? -1 : esp;
}

/**
 * Wraps the ESP packet at `buf[esp, + espLen)` in an IP header from `src` to `dst` (and a UDP
 * header `port` -> `port`, checksummed over IPv6, 0 over IPv4 per RFC 3948 §3.1.2, when `udp`),
 * in place in front of it. Returns the offset of the new packet. The caller guarantees 48 bytes of
 * room before `esp`.
 */
export function wrapEsp(
  buf: Uint8Array,
  esp: number,
  espLen: number,
  src: Uint8Array,
  dst: Uint8Array,
  udp: boolean,
  srcPort: number,
  dstPort: number,
): number {
  let l4 = esp;
  let l4Len = espLen;
  if (udp) {
    l4 = esp - UDP_HDR_LEN;
    l4Len = espLen + UDP_HDR_LEN;
    writeUdpHeader(buf, l4, srcPort, dstPort, espLen);
  }
  const proto = udp ? IPPROTO_UDP : IPPROTO_ESP;
  if (src.length === 16) {
    const at = l4 - IPV6_HDR_LEN;
    writeIpv6Header(buf, at, src, dst, proto, l4Len);
    if (udp) fillL4Checksum(buf, l4, l4Len, IPPROTO_UDP, pseudoSum6(src, 0, dst, 0, IPPROTO_UDP, l4Len));
    return at;
  }
  const at = l4 - IPV4_MIN_HDR_LEN;
  writeIpv4Header(buf, at, src, dst, proto, l4Len);
  return at;
}
