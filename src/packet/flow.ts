/**
 * The flow tuple the SPD classifies on (RFC 4301 §4.4.1.1 selectors): addresses, next-layer
 * protocol, and ports, ICMP type/code or MH type. Extraction never allocates: it fills a
 * caller-owned FlowTuple.
 */

import { copyBytes, readU16 } from '../util/bytes.js';
import {
  ICMP_HDR_LEN,
  ICMP_OFF_CODE,
  ICMP_OFF_TYPE,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_MH,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_ADDR_LEN,
  IPV4_VERSION,
  IPV6_ADDR_LEN,
  IPV6_VERSION,
  MH_MIN_LEN,
  MH_OFF_TYPE,
  SCTP_COMMON_HDR_LEN,
  TCP_MIN_HDR_LEN,
  TCP_OFF_DST_PORT,
  TCP_OFF_SRC_PORT,
  UDP_HDR_LEN,
} from './constants.js';
import { ipVersion, newIpv4Header, parseIpv4 } from './ipv4.js';
import { newIpv6Packet, parseIpv6 } from './ipv6.js';

export interface FlowTuple {
  /** 4 or 6; 0 when the packet could not be parsed. */
  family: 0 | 4 | 6;
  /** Source and destination addresses (4 or 16 bytes used; buffers are 16 bytes, reused). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Upper-layer protocol after walking IPv6 extension headers (RFC 4301 §4.4.1.1 "Next Layer Protocol"). */
  proto: number;
  /** TCP/UDP/SCTP ports; for ICMP/ICMPv6: srcPort = type, dstPort = code (RFC 4301 §4.4.1.1); for MH: srcPort = MH type. 0 when absent. */
  srcPort: number;
  dstPort: number;
  /** Offset of the upper-layer header from the start of the packet (the transport-mode split point). */
  l4Offset: number;
  /** True when the packet is a non-first fragment (ports are unavailable, RFC 4301 §4.4.1 "OPAQUE"). */
  fragment: boolean;
}

export function newFlowTuple(): FlowTuple {
  return {
    family: 0,
    src: new Uint8Array(IPV6_ADDR_LEN),
    dst: new Uint8Array(IPV6_ADDR_LEN),
    proto: 0,
    srcPort: 0,
    dstPort: 0,
    l4Offset: 0,
    fragment: false,
  };
}

/** Scratch headers reused by every call (one isolate runs one call at a time). */
const v4 = newIpv4Header();
const v6 = newIpv6Packet();

/** Copies a 4- or 16-byte address into a 16-byte tuple buffer, zeroing the unused tail. */
function setAddress(to: Uint8Array, pkt: Uint8Array, at: number, n: number): void {
  copyBytes(to, 0, pkt, at, n);
  to.fill(0, n);
}

/**
 * Fills `out` with the selectors of the IPv4 or IPv6 packet at `pkt[off, off+len)`: addresses,
 * the protocol after the extension-header walk (ipv6.ts), ports (TCP, UDP, SCTP), ICMP/ICMPv6 type
 * and code, MH type, the upper-layer offset relative to `off`, and the non-first-fragment flag
 * (no ports then: RFC 4301 §4.4.1 OPAQUE). Returns false, with `out.family` 0, when the packet is
 * malformed, including an upper-layer header too short for its selectors in an unfragmented packet
 * or a first fragment (RFC 7112: the first fragment holds the whole header chain). Other protocols
 * get ports 0. The IPv4 header checksum is not checked (classification does not depend on it).
 * The addresses are copied into the tuple's own buffers, so `out` stays valid after `pkt` is
 * reused. Never throws, never allocates.
 */
export function extractFlow(pkt: Uint8Array, off: number, len: number, out: FlowTuple): boolean {
  out.family = 0;
  out.proto = 0;
  out.srcPort = 0;
  out.dstPort = 0;
  out.l4Offset = 0;
  out.fragment = false;
  if (len < 1 || off < 0 || off + len > pkt.length) return false;
  const version = ipVersion(pkt, off);
  let l4: number;
  let l4Len: number;
  let family: 4 | 6;
  if (version === IPV4_VERSION) {
    if (!parseIpv4(pkt, off, len, v4)) return false;
    setAddress(out.src, pkt, v4.srcOffset, IPV4_ADDR_LEN);
    setAddress(out.dst, pkt, v4.dstOffset, IPV4_ADDR_LEN);
    out.proto = v4.protocol;
    out.fragment = v4.fragmentOffset !== 0;
    l4 = v4.payloadOffset;
    l4Len = v4.payloadLength;
    family = 4;
  } else if (version === IPV6_VERSION) {
    if (!parseIpv6(pkt, off, len, v6)) return false;
    setAddress(out.src, pkt, v6.srcOffset, IPV6_ADDR_LEN);
    setAddress(out.dst, pkt, v6.dstOffset, IPV6_ADDR_LEN);
    out.proto = v6.proto;
    out.fragment = v6.nonFirstFragment;
    l4 = v6.l4Offset;
    l4Len = v6.end - v6.l4Offset;
    family = 6;
  } else {
    return false;
  }
  out.l4Offset = l4 - off;
  if (!out.fragment) {
    switch (out.proto) {
      case IPPROTO_TCP:
      case IPPROTO_UDP:
      case IPPROTO_SCTP: {
        const min = out.proto === IPPROTO_TCP ? TCP_MIN_HDR_LEN : out.proto === IPPROTO_UDP ? UDP_HDR_LEN : SCTP_COMMON_HDR_LEN;
        if (l4Len < min) return false;
        // The ports are the first two words of TCP, UDP and SCTP headers alike.
        out.srcPort = readU16(pkt, l4 + TCP_OFF_SRC_PORT);
        out.dstPort = readU16(pkt, l4 + TCP_OFF_DST_PORT);
        break;
      }
      case IPPROTO_ICMP:
      case IPPROTO_ICMPV6:
        if (l4Len < ICMP_HDR_LEN) return false;
        out.srcPort = pkt[l4 + ICMP_OFF_TYPE]!;
        out.dstPort = pkt[l4 + ICMP_OFF_CODE]!;
        break;
      case IPPROTO_MH:
        if (l4Len < MH_MIN_LEN) return false;
        out.srcPort = pkt[l4 + MH_OFF_TYPE]!;
        break;
      default:
        break;
    }
  }
  out.family = family;
  return true;
}
