/**
 * native-free/frame.ts without privileges: macvtap frames (virtio-net header + Ethernet) built
 * by hand, decoded, and partial checksums finished and checked against an independent full
 * computation. Every case also runs at a non-zero, odd offset inside a larger buffer (STYLE 14).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import {
  decodeFrame,
  etherTypeOf,
  ETH_HLEN,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  ETH_P_LOCAL_EXP1,
  FRAME_HDR_LEN,
  FrameKind,
  parseMac,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  VNET_OFF_CSUM_OFFSET,
  VNET_OFF_CSUM_START,
  VNET_OFF_FLAGS,
  VNET_OFF_GSO_TYPE,
  writeFrameHeader,
  type DecodedFrame,
} from '../../native-free/frame.js';
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, TCP_OFF_CHECKSUM, UDP_OFF_CHECKSUM } from '../../src/packet/constants.js';
import { fromHex, readU16, writeU16 } from '../../src/util/bytes.js';
import { finishChecksum, foldSum, internetChecksum, sumWords } from '../../src/util/checksum.js';

const V4_SRC = [192, 0, 2, 1];
const V4_DST = [198, 51, 100, 7];
const V6_SRC = fromHex('20010db8000000000000000000000001');
const V6_DST = fromHex('20010db8000500000000000000000007');
const MAC_A = fromHex('020000000001');
const MAC_B = fromHex('020000000002');

function vnetU16(b: Uint8Array, off: number, v: number): void {
  if (endianness() === 'LE') {
    b[off] = v & 0xff;
    b[off + 1] = v >> 8;
  } else {
    writeU16(b, off, v);
  }
}

/** IPv4 header (20 bytes, valid header checksum) + `l4`. */
function ipv4(proto: number, l4: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + l4.length);
  p[0] = 0x45;
  writeU16(p, 2, p.length);
  p[8] = 64;
  p[9] = proto;
  p.set(V4_SRC, 12);
  p.set(V4_DST, 16);
  writeU16(p, 10, internetChecksum(p, 0, 20));
  p.set(l4, 20);
  return p;
}

function ipv6(next: number, l4: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + l4.length);
  p[0] = 0x60;
  writeU16(p, 4, l4.length);
  p[6] = next;
  p[7] = 64;
  p.set(V6_SRC, 8);
  p.set(V6_DST, 24);
  p.set(l4, 40);
  return p;
}

/** Unfolded pseudo-header sum (RFC 768 / RFC 9293 §3.1 / RFC 8200 §8.1) of an IP packet. */
function pseudoSum(p: Uint8Array): number {
  if (p[0]! >> 4 === 4) return sumWords(p, 12, 8) + p[9]! + (p.length - 20);
  return sumWords(p, 8, 32) + p[6]! + (p.length - 40);
}

function l4Start(p: Uint8Array): number {
  return p[0]! >> 4 === 4 ? 20 : 40;
}

/** The correct transport checksum of `p` with its field at `field`, computed from scratch. */
function referenceChecksum(p: Uint8Array, field: number): number {
  const q = p.slice();
  writeU16(q, field, 0);
  const s = l4Start(q);
  const c = finishChecksum(sumWords(q, s, q.length - s, pseudoSum(q)));
  return c === 0 ? 0xffff : c;
}

/** What the kernel hands a macvtap reader for CHECKSUM_PARTIAL: the folded pseudo-header sum in the field. */
function makePartial(p: Uint8Array, field: number): void {
  writeU16(p, field, foldSum(pseudoSum(p)));
}

interface FrameOpts {
  flags?: number;
  gsoType?: number;
  csumStart?: number;
  csumOffset?: number;
  etherType?: number;
  pad?: number;
}

/** virtio-net header + Ethernet header + payload, placed at `lead` bytes into a larger buffer. */
function frame(payload: Uint8Array, o: FrameOpts, lead = 0): { buf: Uint8Array; start: number; len: number } {
  const len = FRAME_HDR_LEN + payload.length + (o.pad ?? 0);
  const buf = new Uint8Array(lead + len + 7).fill(0xee);
  const start = lead;
  buf.fill(0, start, start + len);
  writeFrameHeader(buf, start, MAC_A, MAC_B, o.etherType ?? etherTypeOf(payload[0]!));
  buf[start + VNET_OFF_FLAGS] = o.flags ?? 0;
  buf[start + VNET_OFF_GSO_TYPE] = o.gsoType ?? 0;
  vnetU16(buf, start + VNET_OFF_CSUM_START, o.csumStart ?? 0);
  vnetU16(buf, start + VNET_OFF_CSUM_OFFSET, o.csumOffset ?? 0);
  buf.set(payload, start + FRAME_HDR_LEN);
  return { buf, start, len };
}

function decode(f: { buf: Uint8Array; start: number; len: number }): { kind: FrameKind; out: DecodedFrame } {
  const out: DecodedFrame = { ipOffset: -1, ipLength: -1, checksumFinished: false };
  return { kind: decodeFrame(f.buf, f.start, f.len, out), out };
}

function udp(payload: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  writeU16(u, 0, 4444);
  writeU16(u, 2, 9);
  writeU16(u, 4, u.length);
  u.set(payload, 8);
  return u;
}

function tcpSyn(): Uint8Array {
  const t = new Uint8Array(20);
  writeU16(t, 0, 40000);
  writeU16(t, 2, 5001);
  t.set([0, 0, 0x10, 0x01], 4);
  t[12] = 0x50;
  t[13] = 0x02;
  writeU16(t, 14, 64240);
  return t;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

/** Partial-checksum frame of packet `p` (transport checksum field at `l4 + fieldOff`). */
function partialFrame(p: Uint8Array, fieldOff: number, lead: number): ReturnType<typeof frame> {
  const s = l4Start(p);
  makePartial(p, s + fieldOff);
  return frame(p, { flags: VNET_F_NEEDS_CSUM, csumStart: ETH_HLEN + s, csumOffset: fieldOff }, lead);
}

for (const lead of [0, 3]) {
  test(`NEEDS_CSUM: an IPv4 UDP checksum is finished to the reference value (offset ${lead})`, () => {
    const p = ipv4(IPPROTO_UDP, udp(pattern(1400)));
    const want = referenceChecksum(p, 20 + UDP_OFF_CHECKSUM);
    const f = partialFrame(p, UDP_OFF_CHECKSUM, lead);
    const { kind, out } = decode(f);
    assert.equal(kind, FrameKind.IP);
    assert.equal(out.ipOffset, lead + FRAME_HDR_LEN);
    assert.equal(out.ipLength, 1428);
    assert.equal(out.checksumFinished, true);
    const got = f.buf.subarray(out.ipOffset, out.ipOffset + out.ipLength);
    assert.equal(readU16(got, 20 + UDP_OFF_CHECKSUM), want);
    assert.equal(internetChecksum(got, 20, got.length - 20, pseudoSum(got)), 0, 'verifies over the pseudo-header');
  });

  test(`NEEDS_CSUM: an IPv6 TCP checksum is finished to the reference value (offset ${lead})`, () => {
    const p = ipv6(IPPROTO_TCP, tcpSyn());
    const want = referenceChecksum(p, 40 + TCP_OFF_CHECKSUM);
    const f = partialFrame(p, TCP_OFF_CHECKSUM, lead);
    const { kind, out } = decode(f);
    assert.equal(kind, FrameKind.IP);
    assert.equal(out.ipLength, 60);
    const got = f.buf.subarray(out.ipOffset, out.ipOffset + out.ipLength);
    assert.equal(readU16(got, 40 + TCP_OFF_CHECKSUM), want);
    assert.equal(internetChecksum(got, 40, 20, pseudoSum(got)), 0);
  });
}

test('NEEDS_CSUM: a UDP checksum that computes to zero is sent as 0xffff (RFC 768)', () => {
  const body = pattern(64);
  const p = ipv4(IPPROTO_UDP, udp(body));
  // Choose the last payload word so that the sum of everything else plus it folds to 0xffff.
  writeU16(p, p.length - 2, 0);
  writeU16(p, 20 + UDP_OFF_CHECKSUM, 0);
  const rest = foldSum(sumWords(p, 20, p.length - 20, pseudoSum(p)));
  writeU16(p, p.length - 2, 0xffff - rest);
  const f = partialFrame(p, UDP_OFF_CHECKSUM, 0);
  const { kind, out } = decode(f);
  assert.equal(kind, FrameKind.IP);
  assert.equal(readU16(f.buf, out.ipOffset + 20 + UDP_OFF_CHECKSUM), 0xffff);
});

test('a frame without NEEDS_CSUM is passed through byte for byte', () => {
  const p = ipv4(IPPROTO_UDP, udp(pattern(100)));
  writeU16(p, 20 + UDP_OFF_CHECKSUM, 0x1234);
  const f = frame(p, {}, 5);
  const { kind, out } = decode(f);
  assert.equal(kind, FrameKind.IP);
  assert.equal(out.checksumFinished, false);
  assert.deepEqual(f.buf.subarray(out.ipOffset, out.ipOffset + out.ipLength), p);
});

test('Ethernet padding after a short IPv4 packet is not part of the packet', () => {
  const p = ipv4(IPPROTO_UDP, udp(new Uint8Array(0)));
  const f = frame(p, { pad: 60 - ETH_HLEN - p.length });
  const { kind, out } = decode(f);
  assert.equal(kind, FrameKind.IP);
  assert.equal(out.ipLength, 28);
});

test('ARP and IPv6 Neighbor Discovery are classified NEIGHBOUR; an ICMPv6 echo is IP', () => {
  assert.equal(decode(frame(new Uint8Array(28), { etherType: ETH_P_ARP })).kind, FrameKind.NEIGHBOUR);
  for (const type of [133, 134, 135, 136, 137]) {
    const icmp = new Uint8Array(24);
    icmp[0] = type;
    assert.equal(decode(frame(ipv6(IPPROTO_ICMPV6, icmp), {})).kind, FrameKind.NEIGHBOUR, `type ${type}`);
  }
  const echo = new Uint8Array(16);
  echo[0] = 128;
  assert.equal(decode(frame(ipv6(IPPROTO_ICMPV6, echo), {})).kind, FrameKind.IP);
});

test('other EtherTypes are NON_IP, GSO super-frames GSO', () => {
  assert.equal(decode(frame(new Uint8Array(46), { etherType: ETH_P_LOCAL_EXP1 })).kind, FrameKind.NON_IP);
  const p = ipv4(IPPROTO_TCP, tcpSyn());
  assert.equal(decode(frame(p, { gsoType: 1 })).kind, FrameKind.GSO, 'VIRTIO_NET_HDR_GSO_TCPV4');
  assert.equal(decode(frame(p, { gsoType: 0x80 })).kind, FrameKind.IP, 'the ECN bit alone is no GSO');
});

test('malformed frames are classified MALFORMED, never thrown', () => {
  const short = frame(new Uint8Array(0), { etherType: ETH_P_IP });
  assert.equal(decode({ ...short, len: FRAME_HDR_LEN - 1 }).kind, FrameKind.MALFORMED, 'shorter than the headers');
  assert.equal(decode(short).kind, FrameKind.MALFORMED, 'no IPv4 header');

  const p = ipv4(IPPROTO_UDP, udp(pattern(40)));
  const cut = frame(p, {});
  assert.equal(decode({ ...cut, len: cut.len - 1 }).kind, FrameKind.MALFORMED, 'total length beyond the frame');

  const v6asV4 = frame(ipv6(IPPROTO_UDP, udp(pattern(8))), { etherType: ETH_P_IP });
  assert.equal(decode(v6asV4).kind, FrameKind.MALFORMED, 'version does not match the EtherType');

  const bad = ipv4(IPPROTO_UDP, udp(pattern(40)));
  writeU16(bad, 2, 10);
  assert.equal(decode(frame(bad, {})).kind, FrameKind.MALFORMED, 'IPv4 total length below the header');

  const q = ipv4(IPPROTO_UDP, udp(pattern(40)));
  const outside = frame(q, { flags: VNET_F_NEEDS_CSUM, csumStart: ETH_HLEN + 20, csumOffset: q.length });
  assert.equal(decode(outside).kind, FrameKind.MALFORMED, 'checksum field beyond the packet');
  const before = frame(q, { flags: VNET_F_NEEDS_CSUM, csumStart: 2, csumOffset: 6 });
  assert.equal(decode(before).kind, FrameKind.MALFORMED, 'checksum start inside the Ethernet header');
});

test('writeFrameHeader writes a zero virtio-net header and the Ethernet header', () => {
  const b = new Uint8Array(FRAME_HDR_LEN + 2).fill(0xaa);
  assert.equal(writeFrameHeader(b, 1, MAC_A, MAC_B, ETH_P_IPV6), FRAME_HDR_LEN);
  assert.equal(b[0], 0xaa);
  assert.deepEqual(b.subarray(1, 1 + VNET_HDR_LEN), new Uint8Array(VNET_HDR_LEN));
  assert.deepEqual(b.subarray(11, 17), MAC_A);
  assert.deepEqual(b.subarray(17, 23), MAC_B);
  assert.equal(readU16(b, 23), ETH_P_IPV6);
  assert.equal(b[25], 0xaa);
});

test('etherTypeOf and parseMac', () => {
  assert.equal(etherTypeOf(0x45), ETH_P_IP);
  assert.equal(etherTypeOf(0x60), ETH_P_IPV6);
  assert.equal(etherTypeOf(0x00), 0);
  assert.equal(etherTypeOf(0xf0), 0);
  assert.deepEqual(parseMac('02:00:00:AB:cd:01'), fromHex('020000abcd01'));
  assert.equal(parseMac('02:00:00:ab:cd'), null);
  assert.equal(parseMac('02-00-00-ab-cd-01'), null);
});
