/**
 * Property tests on every parser (DESIGN.md "Testing", STYLE 14): random bytes, every truncation of
 * valid packets and random mutations never throw and never report success on impossible lengths;
 * each run also on views with a non-zero byteOffset and packets at a non-zero offset.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readU16 } from '../../src/util/bytes.js';
import { extractFlow, newFlowTuple } from '../../src/packet/flow.js';
import { newIpv4Header, parseIpv4 } from '../../src/packet/ipv4.js';
import { newIpv6Packet, parseIpv6, parseIpv6Header, type Ipv6Packet } from '../../src/packet/ipv6.js';
import { fillPacketChecksum, verifyPacketChecksum } from '../../src/packet/l4checksum.js';
import { fillMhChecksum, parseMh } from '../../src/packet/mh.js';
import { newUdpHeader, parseUdp } from '../../src/packet/udp.js';
import { E31_BU, E32_BA } from './e3-vectors.js';
import { HA, HOA, PLACEMENTS, place, prng, randomBytes } from './helpers.js';
import * as ref from './reference-packets.js';

const v4 = newIpv4Header();
const v6 = newIpv6Packet();
const udp = newUdpHeader();
const tuple = newFlowTuple();

function checkIpv6Invariants(p: Ipv6Packet, off: number, len: number): void {
  assert.ok(len >= 40);
  assert.ok(p.end <= off + len && p.end === off + 40 + p.payloadLength);
  assert.ok(p.l4Offset >= off + 40 && p.l4Offset <= p.end);
  assert.ok(p.espOffset >= off + 40 && p.espOffset <= p.l4Offset);
  assert.ok(p.espNextHeaderOffset >= off && p.espNextHeaderOffset < p.espOffset);
  if (p.haoOffset >= 0) assert.ok(p.haoOffset >= off + 40 && p.haoOffset + 16 <= p.end);
  if (p.rh2Offset >= 0) assert.ok(p.rh2Offset >= off + 40 && p.rh2Offset + 16 <= p.end);
}

/** Runs every parser over `buf[off, off+len)`; asserts the success invariants. Never throws. */
function runAll(buf: Uint8Array, off: number, len: number): void {
  if (parseIpv4(buf, off, len, v4)) {
    assert.ok(len >= 20 && v4.headerLength >= 20 && v4.headerLength <= v4.totalLength && v4.totalLength <= len);
    assert.equal(v4.payloadOffset + v4.payloadLength, off + v4.totalLength);
  }
  if (parseIpv6Header(buf, off, len, v6)) assert.ok(v6.end <= off + len);
  if (parseIpv6(buf, off, len, v6)) checkIpv6Invariants(v6, off, len);
  if (parseUdp(buf, off, len, udp)) assert.ok(udp.length >= 8 && udp.length <= len);
  if (extractFlow(buf, off, len, tuple)) {
    assert.ok(tuple.family === 4 || tuple.family === 6);
    assert.ok(tuple.l4Offset >= 20 && tuple.l4Offset <= len);
  } else {
    assert.equal(tuple.family, 0);
  }
  verifyPacketChecksum(buf, off, len);
  for (const [src, dst] of [
    [HOA, HA],
    [HA, HOA],
  ] as const) {
    const m = parseMh(buf, off, len, src, dst);
    if (typeof m === 'object') {
      assert.ok(m.length >= 8 && m.length <= len && m.length % 8 === 0);
    }
  }
}

const VALID: [string, Uint8Array][] = [
  ...Object.entries(ref).map(([k, v]) => [k, v] as [string, Uint8Array]),
];

/** Hop-by-Hop, Routing, Fragment, DestOpt, TCP, UDP, ICMPv6, MH. */
const NEXT_HEADERS = [0, 43, 44, 60, 6, 17, 58, 135];

test('random bytes never throw and never parse with impossible lengths', () => {
  const rand = prng(0xf022);
  for (let iter = 0; iter < 4000; iter++) {
    const len = Math.floor(rand() * 120);
    const bytes = randomBytes(rand, len);
    // Bias some inputs towards plausible headers with consistent lengths so the walks run deeper.
    if (len >= 20 && iter % 4 === 0) {
      bytes[0] = 0x45;
      bytes[2] = 0;
      bytes[3] = len;
    } else if (len >= 40 && iter % 4 === 1) {
      bytes[0] = 0x60;
      bytes[4] = 0;
      bytes[5] = len - 40;
      bytes[6] = NEXT_HEADERS[Math.floor(rand() * NEXT_HEADERS.length)]!;
    }
    const [bo, o] = PLACEMENTS[iter % PLACEMENTS.length]!;
    const { buf, off } = place(bytes, bo, o);
    runAll(buf, off, len);
  }
});

test('every truncation of a valid packet: no throw, success only when the declared length fits', () => {
  for (const [name, pkt] of VALID) {
    const isV4 = pkt[0]! >> 4 === 4;
    const need = isV4 ? readU16(pkt, 2) : 40 + readU16(pkt, 4);
    for (const [bo, o] of PLACEMENTS) {
      const { buf, off } = place(pkt, bo, o);
      for (let len = 0; len <= pkt.length; len++) {
        runAll(buf, off, len);
        const parsed = isV4 ? parseIpv4(buf, off, len, v4) : parseIpv6(buf, off, len, v6);
        assert.equal(parsed, len >= need, `${name} truncated to ${len}`);
        if (len < need) assert.equal(extractFlow(buf, off, len, tuple), false, `${name} flow at ${len}`);
      }
    }
  }
});

test('every truncation of an MH: success only at full length', () => {
  const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
    [E31_BU, HOA, HA],
    [E32_BA, HA, HOA],
    [ref.IPV6_MH_BE.subarray(40), HA, HOA],
  ];
  for (const [mh, src, dst] of cases) {
    for (const [bo, o] of PLACEMENTS) {
      const { buf, off } = place(mh, bo, o);
      for (let len = 0; len <= mh.length; len++) {
        const r = parseMh(buf, off, len, src, dst);
        assert.equal(typeof r === 'object', len === mh.length, `MH type ${mh[2]} at ${len}`);
      }
    }
  }
});

test('every truncation of a UDP datagram: success only when the Length field fits', () => {
  const d = ref.IPV6_UDP.subarray(40);
  for (const [bo, o] of PLACEMENTS) {
    const { buf, off } = place(d, bo, o);
    for (let len = 0; len <= d.length; len++) assert.equal(parseUdp(buf, off, len, udp), len >= d.length);
  }
});

test('random mutations of valid packets never throw', () => {
  const rand = prng(0xbadc0de);
  for (let iter = 0; iter < 4000; iter++) {
    const [, pkt] = VALID[iter % VALID.length]!;
    const b = pkt.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    if (iter % 3 === 0) fillPacketChecksum(b, 0, b.length);
    const [bo, o] = PLACEMENTS[iter % PLACEMENTS.length]!;
    const { buf, off } = place(b, bo, o);
    runAll(buf, off, b.length);
  }
});

test('MH mutations with a re-signed checksum reach the option parser and never throw', () => {
  const rand = prng(0x135);
  const seeds: [Uint8Array, Uint8Array, Uint8Array][] = [
    [E31_BU, HOA, HA],
    [E32_BA, HA, HOA],
    [ref.IPV6_MH_BE.subarray(40), HA, HOA],
  ];
  let accepted = 0;
  let rejected = 0;
  for (let iter = 0; iter < 6000; iter++) {
    const [mh, src, dst] = seeds[iter % seeds.length]!;
    const extra = Math.floor(rand() * 3) * 8;
    const b = new Uint8Array(mh.length + extra);
    b.set(mh);
    b.set(randomBytes(rand, extra), mh.length);
    b[1] = b.length / 8 - 1;
    const flips = Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) b[6 + Math.floor(rand() * (b.length - 6))] = Math.floor(rand() * 256);
    if (rand() < 0.2) b[1] = Math.floor(rand() * 8);
    fillMhChecksum(b, 0, src, dst);
    const [bo, o] = PLACEMENTS[iter % PLACEMENTS.length]!;
    const { buf, off } = place(b, bo, o);
    const r = parseMh(buf, off, b.length, src, dst);
    if (typeof r === 'object') {
      accepted++;
      assert.ok(r.length <= b.length && r.length % 8 === 0);
    } else {
      rejected++;
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the option parser.
  assert.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
});
