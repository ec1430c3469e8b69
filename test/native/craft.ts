/**
 * Crafted TCP and UDP packets and virtio_net_hdr frames for the offload tests (test/native/
 * offload.test.ts, test/io/tun-offload.test.ts). Every packet comes out with valid IPv4 header
 * and transport checksums unless told otherwise; addresses are documentation ones.
 *
 * virtio_net_hdr (include/uapi/linux/virtio_net.h): flags, gso_type, then hdr_len, gso_size,
 * csum_start, csum_offset as 16-bit fields in the host's byte order (legacy virtio on a TUN).
 */
import { endianness } from 'node:os';
import { writeIpv4Header } from '../../src/packet/ipv4.js';
import { writeIpv6Header } from '../../src/packet/ipv6.js';
import { fillPacketChecksum, pseudoSum4, pseudoSum6 } from '../../src/packet/l4checksum.js';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_MIN_HDR_LEN,
  IPV4_OFF_SRC,
  IPV6_HDR_LEN,
  IPV6_OFF_SRC,
  TCP_OFF_CHECKSUM,
  UDP_HDR_LEN,
  UDP_OFF_CHECKSUM,
} from '../../src/packet/constants.js';
import { parseIp } from '../../src/util/addr.js';
import { writeU16, writeU32 } from '../../src/util/bytes.js';
import { foldSum } from '../../src/util/checksum.js';

export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_UDP_L4 = 5;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_CWR = 0x80;
export const TCP_OFF_SEQ = 4;
export const TCP_OFF_ACK = 8;
export const TCP_OFF_FLAGS = 13;
export const TCP_HDR = 20;

const LE = endianness() === 'LE';

export const A4 = parseIp('192.0.2.1')!;
export const B4 = parseIp('192.0.2.2')!;
export const A6 = parseIp('2001:db8::1')!;
export const B6 = parseIp('2001:db8::2')!;

export interface TcpSpec {
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  window?: number;
  /** TCP options (a multiple of 4 bytes). */
  options?: Uint8Array;
  id?: number;
  ttl?: number;
  tos?: number;
}

/** An IPv4 or IPv6 (by address length) TCP packet with valid checksums. */
export function tcpPacket(s: TcpSpec): Uint8Array {
  const v6 = s.src.length === 16;
  const iphl = v6 ? IPV6_HDR_LEN : IPV4_MIN_HDR_LEN;
  const opts = s.options ?? new Uint8Array(0);
  const thl = TCP_HDR + opts.length;
  const p = new Uint8Array(iphl + thl + s.payload.length);
  if (v6) writeIpv6Header(p, 0, s.src, s.dst, IPPROTO_TCP, thl + s.payload.length, s.ttl ?? 64, s.tos ?? 0);
  else writeIpv4Header(p, 0, s.src, s.dst, IPPROTO_TCP, thl + s.payload.length, s.ttl ?? 64, s.id ?? 0, s.tos ?? 0);
  writeU16(p, iphl, s.sport);
  writeU16(p, iphl + 2, s.dport);
  writeU32(p, iphl + TCP_OFF_SEQ, s.seq >>> 0);
  writeU32(p, iphl + TCP_OFF_ACK, s.ack >>> 0);
  p[iphl + 12] = (thl / 4) << 4;
  p[iphl + TCP_OFF_FLAGS] = s.flags;
  writeU16(p, iphl + 14, s.window ?? 0xffff);
  p.set(opts, iphl + TCP_HDR);
  p.set(s.payload, iphl + thl);
  if (!fillPacketChecksum(p, 0, p.length)) throw new Error('could not checksum the crafted packet');
  return p;
}

/** An IPv4 or IPv6 UDP packet with a valid checksum. */
export function udpPacket(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const v6 = src.length === 16;
  const iphl = v6 ? IPV6_HDR_LEN : IPV4_MIN_HDR_LEN;
  const p = new Uint8Array(iphl + UDP_HDR_LEN + payload.length);
  if (v6) writeIpv6Header(p, 0, src, dst, IPPROTO_UDP, UDP_HDR_LEN + payload.length);
  else writeIpv4Header(p, 0, src, dst, IPPROTO_UDP, UDP_HDR_LEN + payload.length);
  writeU16(p, iphl, sport);
  writeU16(p, iphl + 2, dport);
  writeU16(p, iphl + 4, UDP_HDR_LEN + payload.length);
  p.set(payload, iphl + UDP_HDR_LEN);
  if (!fillPacketChecksum(p, 0, p.length)) throw new Error('could not checksum the crafted packet');
  return p;
}

/** Bytes 0, 1, 2, ... (mod 251, so segment boundaries never line up with the pattern). */
export function pattern(len: number, start = 0): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (start + i) % 251;
  return b;
}

export interface Vnet {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function encodeVnet(v: Vnet): Uint8Array {
  const b = new Uint8Array(VNET_HDR_LEN);
  const dv = new DataView(b.buffer);
  b[0] = v.flags;
  b[1] = v.gsoType;
  dv.setUint16(2, v.hdrLen, LE);
  dv.setUint16(4, v.gsoSize, LE);
  dv.setUint16(6, v.csumStart, LE);
  dv.setUint16(8, v.csumOffset, LE);
  return b;
}

export function decodeVnet(b: Uint8Array, off = 0): Vnet {
  const dv = new DataView(b.buffer, b.byteOffset + off, VNET_HDR_LEN);
  return {
    flags: b[off]!,
    gsoType: b[off + 1]!,
    hdrLen: dv.getUint16(2, LE),
    gsoSize: dv.getUint16(4, LE),
    csumStart: dv.getUint16(6, LE),
    csumOffset: dv.getUint16(8, LE),
  };
}

/** Folded (not inverted) pseudo-header sum of packet `p` for an upper-layer length `l4Len`, as
 * a partial checksum field holds it. */
export function pseudoField(p: Uint8Array, proto: number, l4Len: number): number {
  const v6 = p[0]! >> 4 === 6;
  const sum = v6
    ? pseudoSum6(p, IPV6_OFF_SRC, p, IPV6_OFF_SRC + 16, proto, l4Len)
    : pseudoSum4(p, IPV4_OFF_SRC, p, IPV4_OFF_SRC + 4, proto, l4Len);
  return foldSum(sum);
}

/**
 * What the kernel hands a TUN with TSO/USO: `packet` (headers + the payload of every segment)
 * as a GSO frame, its transport checksum partial (the pseudo-header sum over the whole length).
 */
export function gsoFrame(packet: Uint8Array, gsoSize: number): Uint8Array {
  const v6 = packet[0]! >> 4 === 6;
  const iphl = v6 ? IPV6_HDR_LEN : (packet[0]! & 0x0f) * 4;
  const proto = v6 ? packet[6]! : packet[9]!;
  const tcp = proto === IPPROTO_TCP;
  const field = iphl + (tcp ? TCP_OFF_CHECKSUM : UDP_OFF_CHECKSUM);
  const p = packet.slice();
  writeU16(p, field, pseudoField(p, proto, p.length - iphl));
  const gsoType = tcp ? (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) : VNET_GSO_UDP_L4;
  const vnet = encodeVnet({
    flags: VNET_F_NEEDS_CSUM,
    gsoType,
    // The kernel reports the linear length here (a hint), not the header length.
    hdrLen: Math.min(p.length, 128),
    gsoSize,
    csumStart: iphl,
    csumOffset: tcp ? TCP_OFF_CHECKSUM : UDP_OFF_CHECKSUM,
  });
  const frame = new Uint8Array(VNET_HDR_LEN + p.length);
  frame.set(vnet, 0);
  frame.set(p, VNET_HDR_LEN);
  return frame;
}
