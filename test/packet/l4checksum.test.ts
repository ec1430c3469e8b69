import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromHex, readU16, toHex, writeU16 } from '../../src/util/bytes.js';
import { foldSum, sumWords } from '../../src/util/checksum.js';
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_OFF_DST,
  IPV4_OFF_SRC,
  IPV6_OFF_DST,
  IPV6_OFF_SRC,
} from '../../src/packet/constants.js';
import { ipv4SetAddress, writeIpv4Header } from '../../src/packet/ipv4.js';
import { writeIpv6Header } from '../../src/packet/ipv6.js';
import {
  checksumFieldOffset,
  computeL4Checksum,
  fillPacketChecksum,
  pseudoSum4,
  pseudoSum6,
  updateL4ChecksumForAddress,
  verifyL4Checksum,
  verifyPacketChecksum,
} from '../../src/packet/l4checksum.js';
import { writeUdpHeader } from '../../src/packet/udp.js';
import { VECTORS_FILE } from '../helpers/paths.js';
import { HA, HOA, PLACEMENTS, ip, place, prng, randomBytes } from './helpers.js';
import * as ref from './reference-packets.js';

const CHECKED: [string, Uint8Array][] = [
  ['IPv4 UDP with IP options', ref.IPV4_UDP_OPTS],
  ['IPv4 TCP', ref.IPV4_TCP],
  ['IPv4 ICMP', ref.IPV4_ICMP],
  ['IPv6 TCP', ref.IPV6_TCP],
  ['IPv6 UDP, odd length', ref.IPV6_UDP],
  ['IPv6 ICMPv6', ref.IPV6_ICMPV6],
  ['IPv6 HbH + DestOpt + UDP', ref.IPV6_HBH_DST_UDP],
  ['IPv6 HAO + TCP (pseudo-header source = HoA)', ref.IPV6_HAO_TCP],
  ['IPv6 RH2 + UDP (pseudo-header destination = HoA)', ref.IPV6_RH2_UDP],
  ['IPv6 MH Binding Error', ref.IPV6_MH_BE],
  ['IPv6 MH Binding Refresh Request', ref.IPV6_MH_BRR],
];

test('Scapy checksums verify, at every placement, and one flipped bit fails', () => {
  for (const [name, pkt] of CHECKED) {
    for (const [bo, o] of PLACEMENTS) {
      const { buf, off } = place(pkt, bo, o);
      assert.equal(verifyPacketChecksum(buf, off, pkt.length), true, name);
      buf[off + pkt.length - 1]! ^= 0x10;
      assert.equal(verifyPacketChecksum(buf, off, pkt.length), false, `${name}, tampered`);
    }
  }
});

test('fillPacketChecksum reproduces the Scapy checksum field exactly', () => {
  for (const [name, pkt] of CHECKED) {
    const b = pkt.slice();
    const l4 = findL4(b);
    const cs = l4.off + checksumFieldOffset(l4.proto);
    writeU16(b, cs, 0x5a5a);
    assert.equal(fillPacketChecksum(b, 0, b.length), true, name);
    assert.equal(toHex(b), toHex(pkt), name);
  }
});

test('the RFC 7634 Appendix A inner ICMP echo verifies', () => {
  const vectors = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: { name: string; plain: string }[] };
  const v = vectors.vectors.find((x) => x.name === 'RFC 7634 Appendix A');
  assert.ok(v);
  const pkt = fromHex(v.plain);
  assert.equal(verifyPacketChecksum(pkt, 0, pkt.length), true);
});

test('fragments and unknown protocols are not verified', () => {
  assert.equal(verifyPacketChecksum(ref.IPV6_FRAG_FIRST_UDP, 0, ref.IPV6_FRAG_FIRST_UDP.length), false);
  assert.equal(verifyPacketChecksum(ref.IPV4_FRAG_LATER, 0, ref.IPV4_FRAG_LATER.length), false);
  assert.equal(checksumFieldOffset(IPPROTO_TCP), 16);
  assert.equal(checksumFieldOffset(IPPROTO_UDP), 6);
  assert.equal(checksumFieldOffset(IPPROTO_ICMPV6), 2);
  assert.equal(checksumFieldOffset(50), -1);
  assert.equal(computeL4Checksum(new Uint8Array(8), 0, 8, 50, 0), -1);
  assert.equal(computeL4Checksum(new Uint8Array(8), 0, 8, IPPROTO_TCP, 0), -1, 'too short for the TCP checksum field');
});

/** Upper-layer offset and protocol of a reference packet (IPv4 IHL or the Scapy chains used). */
function findL4(b: Uint8Array): { off: number; proto: number } {
  if (b[0]! >> 4 === 4) return { off: (b[0]! & 15) * 4, proto: b[9]! };
  let nh = b[6]!;
  let off = 40;
  while (nh === 0 || nh === 43 || nh === 60) {
    const next = b[off]!;
    off += (b[off + 1]! + 1) * 8;
    nh = next;
  }
  return { off, proto: nh };
}

test('UDP checksum 0: "none" over IPv4, invalid over IPv6 (RFC 768, RFC 8200 §8.1)', () => {
  const v4 = ref.IPV4_UDP_OPTS.slice();
  writeU16(v4, 24 + 6, 0);
  assert.equal(verifyPacketChecksum(v4, 0, v4.length), true);
  const v6 = ref.IPV6_UDP.slice();
  writeU16(v6, 40 + 6, 0);
  assert.equal(verifyPacketChecksum(v6, 0, v6.length), false);
});

test('a UDP checksum that computes to 0 is sent as 0xffff and verifies', () => {
  const pkt = new Uint8Array(40 + 8 + 4);
  writeIpv6Header(pkt, 0, HOA, HA, IPPROTO_UDP, 12);
  writeUdpHeader(pkt, 40, 1000, 2000, 4);
  const pseudo = pseudoSum6(pkt, IPV6_OFF_SRC, pkt, IPV6_OFF_DST, IPPROTO_UDP, 12);
  // With the last payload word w = 0 the checksum is c; setting w = c makes the sum 0xffff.
  const c = computeL4Checksum(pkt, 40, 12, IPPROTO_UDP, pseudo);
  writeU16(pkt, 40 + 10, c);
  assert.equal(computeL4Checksum(pkt, 40, 12, IPPROTO_UDP, pseudo), 0xffff);
  assert.equal(fillPacketChecksum(pkt, 0, pkt.length), true);
  assert.equal(readU16(pkt, 46), 0xffff);
  assert.equal(verifyPacketChecksum(pkt, 0, pkt.length), true);
  assert.equal(verifyL4Checksum(pkt, 40, 12, IPPROTO_UDP, pseudo, 6), true);
});

test('pseudo-header sums match a direct RFC 8200 §8.1 / RFC 768 layout', () => {
  const src = ip('2001:db8::a');
  const dst = ip('2001:db8::b');
  for (const len of [0, 20, 0xffff, 0x10001, 0x123456]) {
    const ph = new Uint8Array(40);
    ph.set(src, 0);
    ph.set(dst, 16);
    ph[32] = len >>> 24;
    ph[33] = (len >>> 16) & 255;
    ph[34] = (len >>> 8) & 255;
    ph[35] = len & 255;
    ph[39] = IPPROTO_TCP;
    assert.equal(foldSum(pseudoSum6(src, 0, dst, 0, IPPROTO_TCP, len)), foldSum(sumWords(ph, 0, 40)), `length ${len}`);
  }
  const s4 = ip('192.0.2.1');
  const d4 = ip('198.51.100.2');
  const ph4 = new Uint8Array([...s4, ...d4, 0, IPPROTO_UDP, 0x01, 0x02]);
  assert.equal(foldSum(pseudoSum4(s4, 0, d4, 0, IPPROTO_UDP, 0x102)), foldSum(sumWords(ph4, 0, 12)));
});

/** A random valid IPv4 or IPv6 packet of protocol `proto` with a correct checksum. */
function randomPacket(rand: () => number, family: 4 | 6, proto: number): Uint8Array {
  const minL4 = proto === IPPROTO_TCP ? 20 : 8;
  const l4Len = minL4 + Math.floor(rand() * 40);
  const hdr = family === 4 ? 20 : 40;
  const pkt = new Uint8Array(hdr + l4Len);
  pkt.set(randomBytes(rand, l4Len), hdr);
  if (family === 4) writeIpv4Header(pkt, 0, randomBytes(rand, 4), randomBytes(rand, 4), proto, l4Len);
  else writeIpv6Header(pkt, 0, randomBytes(rand, 16), randomBytes(rand, 16), proto, l4Len);
  if (proto === IPPROTO_UDP) writeUdpHeader(pkt, hdr, 1, 2, l4Len - 8, 1);
  assert.equal(fillPacketChecksum(pkt, 0, pkt.length), true);
  return pkt;
}

test('incremental address fix-up equals full recomputation on random packets (RFC 1624)', () => {
  const rand = prng(0x1624);
  const cases: [4 | 6, number][] = [
    [4, IPPROTO_TCP],
    [4, IPPROTO_UDP],
    [4, IPPROTO_ICMP],
    [6, IPPROTO_TCP],
    [6, IPPROTO_UDP],
    [6, IPPROTO_ICMPV6],
  ];
  for (let iter = 0; iter < 3000; iter++) {
    const [family, proto] = cases[iter % cases.length]!;
    const pkt = randomPacket(rand, family, proto);
    const hdr = family === 4 ? 20 : 40;
    const alen = family === 4 ? 4 : 16;
    const field = rand() < 0.5 ? (family === 4 ? IPV4_OFF_SRC : IPV6_OFF_SRC) : family === 4 ? IPV4_OFF_DST : IPV6_OFF_DST;
    const next = randomBytes(rand, alen);
    const incremental = pkt.slice();
    updateL4ChecksumForAddress(incremental, hdr, pkt.length - hdr, proto, incremental, field, next, 0, alen);
    if (family === 4) ipv4SetAddress(incremental, 0, field as typeof IPV4_OFF_SRC, next);
    else incremental.set(next, field);
    const full = incremental.slice();
    assert.equal(fillPacketChecksum(full, 0, full.length), true);
    assert.equal(toHex(incremental), toHex(full), `iteration ${iter}: ${family}/${proto}`);
    assert.equal(verifyPacketChecksum(incremental, 0, incremental.length), true);
  }
});

test('address fix-up leaves UDP checksum 0 over IPv4 alone', () => {
  const pkt = ref.IPV4_UDP_OPTS.slice();
  writeU16(pkt, 30, 0);
  updateL4ChecksumForAddress(pkt, 24, 16, IPPROTO_UDP, pkt, IPV4_OFF_SRC, ip('192.0.2.99'), 0, 4);
  assert.equal(readU16(pkt, 30), 0);
});

test('an address fix-up that lands on a UDP checksum of 0 writes 0xffff', () => {
  const oldSrc = ip('2001:db8::99');
  const pkt = new Uint8Array(40 + 8 + 4);
  writeIpv6Header(pkt, 0, HOA, HA, IPPROTO_UDP, 12);
  writeUdpHeader(pkt, 40, 1000, 2000, 4);
  // Make the checksum compute to 0 (sent as 0xffff) with source HOA, as in the test above.
  const pseudo = pseudoSum6(pkt, IPV6_OFF_SRC, pkt, IPV6_OFF_DST, IPPROTO_UDP, 12);
  writeU16(pkt, 50, computeL4Checksum(pkt, 40, 12, IPPROTO_UDP, pseudo));
  // Sign the same datagram for another source, then move it back to HOA incrementally.
  pkt.set(oldSrc, IPV6_OFF_SRC);
  assert.equal(fillPacketChecksum(pkt, 0, pkt.length), true);
  assert.notEqual(readU16(pkt, 46), 0xffff);
  updateL4ChecksumForAddress(pkt, 40, 12, IPPROTO_UDP, oldSrc, 0, HOA, 0, 16);
  pkt.set(HOA, IPV6_OFF_SRC);
  assert.equal(readU16(pkt, 46), 0xffff);
  assert.equal(verifyPacketChecksum(pkt, 0, pkt.length), true);
});
