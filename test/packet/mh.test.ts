import test from 'node:test';
import assert from 'node:assert/strict';
import { readU16, toHex, writeU16 } from '../../src/util/bytes.js';
import { Drop } from '../../src/util/drop.js';
import {
  BA_FIXED_LEN,
  BE_FIXED_LEN,
  BRR_FIXED_LEN,
  BU_FIXED_LEN,
  BU_FLAG_A,
  BU_FLAG_H,
  BA_FLAG_K,
  BA_STATUS_SEQ_OUT_OF_WINDOW,
  BE_STATUS_UNKNOWN_BINDING,
  MH_MAX_LEN,
  MH_OPT_ALT_COA,
  MH_OPT_BINDING_REFRESH_ADVICE,
  MH_OPT_EXPERIMENTAL,
  MH_OPT_IPV4_ADDRESS_ACK,
  MH_OPT_IPV4_COA,
  MH_OPT_IPV4_HOME_ADDRESS,
  MH_OPT_NAT_DETECTION,
  MH_TYPE_HOTI,
} from '../../src/packet/constants.js';
import {
  fillMhChecksum,
  mhLifetimeFromSeconds,
  mhLifetimeToSeconds,
  mhSeqNewer,
  mhSeqNext,
  parseMh,
  writeBindingAck,
  writeBindingError,
  writeBindingRefreshRequest,
  writeBindingUpdate,
  writeMhExperimental,
  type MhMessage,
  type MobilityOptions,
} from '../../src/packet/mh.js';
import { E31_BU, E32_BA } from './e3-vectors.js';
import { COA, HA, HOA, PLACEMENTS, ip, place, prng, randomBytes } from './helpers.js';
import { IPV6_MH_BE, IPV6_MH_BRR } from './reference-packets.js';

function build(write: (buf: Uint8Array, off: number) => number): Uint8Array {
  const buf = new Uint8Array(MH_MAX_LEN);
  return buf.slice(0, write(buf, 0));
}

function ok(r: MhMessage | number): MhMessage {
  assert.equal(typeof r, 'object', `expected a message, got drop reason ${String(r)}`);
  return r as MhMessage;
}

test('E.3.1: writeBindingUpdate produces the 32-byte BU exactly (checksum 6e81 over HoA -> HA)', () => {
  const bu = build((b, o) =>
    writeBindingUpdate(b, o, { seq: 1, flags: BU_FLAG_A | BU_FLAG_H, lifetime: 0x0384, options: { altCoa: COA } }, HOA, HA),
  );
  assert.equal(toHex(bu), toHex(E31_BU));
  assert.equal(readU16(bu, 4), 0x6e81);
});

test('E.3.1: the BU parses back, at every placement', () => {
  for (const [bo, o] of PLACEMENTS) {
    const { buf, off } = place(E31_BU, bo, o);
    const m = ok(parseMh(buf, off, E31_BU.length, HOA, HA));
    assert.equal(m.kind, 'binding-update');
    if (m.kind !== 'binding-update') return;
    assert.equal(m.length, 32);
    assert.equal(m.seq, 1);
    assert.equal(m.flags, BU_FLAG_A | BU_FLAG_H);
    assert.equal(m.lifetime, 0x0384);
    assert.equal(mhLifetimeToSeconds(m.lifetime), 3600);
    assert.deepEqual(m.options, { altCoa: COA });
    // The parsed address is a copy: recycling the packet buffer cannot change the binding.
    buf.fill(0);
    assert.equal(toHex(m.options.altCoa!), toHex(COA));
  }
});

test('E.3.2: writeBindingAck produces the 16-byte BA exactly (checksum 5e6b over HA -> HoA) and parses back', () => {
  const ba = build((b, o) => writeBindingAck(b, o, { status: 0, seq: 1, lifetime: 0x0384 }, HA, HOA));
  assert.equal(toHex(ba), toHex(E32_BA));
  const m = ok(parseMh(E32_BA, 0, E32_BA.length, HA, HOA));
  assert.deepEqual(m, { kind: 'binding-ack', mhType: 6, length: 16, status: 0, flags: 0, seq: 1, lifetime: 0x0384, options: {} });
});

test('BE and BRR builders match Scapy byte for byte', () => {
  const be = build((b, o) => writeBindingError(b, o, { status: BE_STATUS_UNKNOWN_BINDING, homeAddress: HOA }, HA, HOA));
  assert.equal(toHex(be), toHex(IPV6_MH_BE.subarray(40)));
  const brr = build((b, o) => writeBindingRefreshRequest(b, o, undefined, HA, HOA));
  assert.equal(toHex(brr), toHex(IPV6_MH_BRR.subarray(40)));
  const m = ok(parseMh(be, 0, be.length, HA, HOA));
  assert.equal(m.kind, 'binding-error');
  if (m.kind === 'binding-error') {
    assert.equal(m.status, BE_STATUS_UNKNOWN_BINDING);
    assert.equal(toHex(m.homeAddress), toHex(HOA));
  }
  assert.equal(ok(parseMh(brr, 0, brr.length, HA, HOA)).kind, 'binding-refresh-request');
});

test('E.3.5 structure: fixed parts, lengths a multiple of 8, Header Len = total/8 - 1', () => {
  assert.equal(BU_FIXED_LEN, 12);
  assert.equal(BA_FIXED_LEN, 12);
  assert.equal(BE_FIXED_LEN, 24);
  assert.equal(BRR_FIXED_LEN, 8);
  const built: [string, Uint8Array, number][] = [
    ['BU', build((b, o) => writeBindingUpdate(b, o, { seq: 0, flags: 0, lifetime: 0 }, HOA, HA)), 16],
    ['BA', build((b, o) => writeBindingAck(b, o, { status: 0, seq: 0, lifetime: 0 }, HA, HOA)), 16],
    ['BE', build((b, o) => writeBindingError(b, o, { status: 2, homeAddress: HOA }, HA, HOA)), 24],
    ['BRR', build((b, o) => writeBindingRefreshRequest(b, o, {}, HA, HOA)), 8],
  ];
  for (const [name, bytes, expected] of built) {
    assert.equal(bytes.length, expected, name);
    assert.equal(bytes.length % 8, 0, name);
    assert.equal(bytes[1], bytes.length / 8 - 1, name);
    assert.equal(bytes[0], 59, `${name} Payload Proto`);
  }
});

/** Walks the options of a built message and returns [type, offset from the MH start] pairs. */
function optionOffsets(mh: Uint8Array, fixed: number): [number, number][] {
  const out: [number, number][] = [];
  let i = fixed;
  while (i < mh.length) {
    if (mh[i] === 0) {
      i++;
      continue;
    }
    out.push([mh[i]!, i]);
    i += 2 + mh[i + 1]!;
  }
  assert.equal(i, mh.length, 'options end exactly at the end of the message');
  return out;
}

const ALIGN: Record<number, [number, number]> = {
  [MH_OPT_ALT_COA]: [8, 6],
  [MH_OPT_BINDING_REFRESH_ADVICE]: [2, 0],
  [MH_OPT_IPV4_HOME_ADDRESS]: [4, 0],
  [MH_OPT_IPV4_ADDRESS_ACK]: [4, 0],
  [MH_OPT_NAT_DETECTION]: [4, 0],
  [MH_OPT_IPV4_COA]: [4, 0],
  [MH_OPT_EXPERIMENTAL]: [1, 0],
};

const ALL_OPTIONS: MobilityOptions = {
  altCoa: COA,
  refreshInterval: 150,
  ipv4HomeAddress: { address: ip('198.51.100.10'), prefixLength: 24, requestPrefix: true },
  ipv4AddressAck: { status: 128, prefixLength: 24, address: ip('198.51.100.10') },
  natDetection: { udpEncapsulationRequired: true, refreshTime: 0xffffffff },
  ipv4CareOf: ip('203.0.113.9'),
  experimental: new Uint8Array([1, 2, 3]),
};

test('every option round-trips, each at its alignment', () => {
  const bu = build((b, o) => writeBindingUpdate(b, o, { seq: 7, flags: BU_FLAG_A, lifetime: 10, options: ALL_OPTIONS }, HOA, HA));
  assert.equal(bu.length % 8, 0);
  const m = ok(parseMh(bu, 0, bu.length, HOA, HA));
  assert.equal(m.kind, 'binding-update');
  if (m.kind === 'binding-update') assert.deepEqual(m.options, ALL_OPTIONS);
  const seen = optionOffsets(bu, BU_FIXED_LEN).filter(([t]) => t !== 1);
  assert.deepEqual(
    seen.map(([t]) => t),
    [MH_OPT_ALT_COA, MH_OPT_BINDING_REFRESH_ADVICE, MH_OPT_IPV4_HOME_ADDRESS, MH_OPT_IPV4_COA, MH_OPT_IPV4_ADDRESS_ACK, MH_OPT_NAT_DETECTION, MH_OPT_EXPERIMENTAL],
  );
  for (const [type, at] of seen) {
    const [x, y] = ALIGN[type]!;
    assert.equal(at % x, y, `option ${type} at ${at} must be aligned ${x}n+${y}`);
  }
});

test('RFC 5555 option bytes: IPv4 CoA, IPv4 HoA, Address Ack, NAT Detection', () => {
  const opts: MobilityOptions = {
    ipv4HomeAddress: { address: ip('198.51.100.10'), prefixLength: 24, requestPrefix: true },
    ipv4CareOf: ip('203.0.113.9'),
    ipv4AddressAck: { status: 129, prefixLength: 24, address: ip('198.51.100.10') },
    natDetection: { udpEncapsulationRequired: true, refreshTime: 20 },
  };
  const ba = build((b, o) => writeBindingAck(b, o, { status: 0, seq: 3, lifetime: 1, options: opts }, HA, HOA));
  // BA fixed 12 bytes, all four options aligned 4n: 12 HoA, 20 CoA, 28 Ack, 36 NAT, total 44 -> 48.
  assert.equal(toHex(ba.subarray(12, 20)), '1d06' + '6200' + 'c633640a'); // prefix 24 << 10 | P
  assert.equal(toHex(ba.subarray(20, 28)), '2006' + '0000' + 'cb007109');
  assert.equal(toHex(ba.subarray(28, 36)), '1e06' + '81' + '60' + 'c633640a'); // prefix 24 << 2
  assert.equal(toHex(ba.subarray(36, 44)), '1f06' + '8000' + '00000014');
  assert.equal(toHex(ba.subarray(44)), '01020000');
  const m = ok(parseMh(ba, 0, ba.length, HA, HOA));
  if (m.kind !== 'binding-ack') assert.fail(m.kind);
  assert.deepEqual(m.options, opts);
});

test('random option sets always build a parseable, aligned message', () => {
  const rand = prng(0x6275);
  const keys = Object.keys(ALL_OPTIONS) as (keyof MobilityOptions)[];
  for (let iter = 0; iter < 500; iter++) {
    const opts: MobilityOptions = {};
    for (const k of keys) if (rand() < 0.5) (opts as Record<string, unknown>)[k] = ALL_OPTIONS[k];
    if (opts.experimental) opts.experimental = randomBytes(rand, Math.floor(rand() * 40));
    const useBa = rand() < 0.5;
    const bytes = build((b, o) =>
      useBa
        ? writeBindingAck(b, o, { status: 0, flags: BA_FLAG_K, seq: iter, lifetime: iter, options: opts }, HA, HOA)
        : writeBindingUpdate(b, o, { seq: iter, flags: 0, lifetime: iter, options: opts }, HOA, HA),
    );
    assert.equal(bytes.length % 8, 0);
    assert.equal(bytes[1], bytes.length / 8 - 1);
    const m = ok(useBa ? parseMh(bytes, 0, bytes.length, HA, HOA) : parseMh(bytes, 0, bytes.length, HOA, HA));
    if (m.kind !== 'binding-update' && m.kind !== 'binding-ack') assert.fail(m.kind);
    assert.equal(m.kind, useBa ? 'binding-ack' : 'binding-update');
    assert.deepEqual(m.options, opts);
    for (const [type, at] of optionOffsets(bytes, BU_FIXED_LEN)) {
      const a = ALIGN[type];
      if (a) assert.equal(at % a[0], a[1], `option ${type} at ${at}`);
    }
  }
});

test('builders write the same bytes at an unaligned offset of a pooled-style view', () => {
  const ref = build((b, o) => writeBindingUpdate(b, o, { seq: 9, flags: BU_FLAG_H, lifetime: 5, options: ALL_OPTIONS }, HOA, HA));
  const backing = new Uint8Array(MH_MAX_LEN + 64).fill(0xa5);
  const view = backing.subarray(3);
  const n = writeBindingUpdate(view, 11, { seq: 9, flags: BU_FLAG_H, lifetime: 5, options: ALL_OPTIONS }, HOA, HA);
  assert.equal(toHex(view.subarray(11, 11 + n)), toHex(ref));
  assert.equal(view[10], 0xa5);
  assert.equal(view[11 + n], 0xa5);
});

test('the experimental message round-trips with a configurable type', () => {
  const body = new Uint8Array([1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x12, 0x34]); // subtype, reserved, cookie, seq
  const def = build((b, o) => writeMhExperimental(b, o, body, HA, HOA));
  assert.equal(def.length, 24);
  assert.equal(def[2], 11);
  let m = ok(parseMh(def, 0, def.length, HA, HOA));
  if (m.kind !== 'experimental') assert.fail(m.kind);
  assert.equal(m.mhType, 11);
  assert.equal(toHex(m.body.subarray(0, body.length)), toHex(body));
  assert.equal(m.body.length, 18);

  const custom = build((b, o) => writeMhExperimental(b, o, body, HA, HOA, 200));
  assert.equal(custom[2], 200);
  m = ok(parseMh(custom, 0, custom.length, HA, HOA, 200));
  assert.equal(m.kind, 'experimental');
  m = ok(parseMh(custom, 0, custom.length, HA, HOA));
  assert.deepEqual(m, { kind: 'other', mhType: 200, length: 24 });

  const exact = build((b, o) => writeMhExperimental(b, o, new Uint8Array(10), HA, HOA));
  assert.equal(exact.length, 16, 'a body of 10 needs no padding');
});

test('parseMh drops bad input with Drop.MALFORMED', () => {
  const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [];
  const fix = (b: Uint8Array, src = HOA, dst = HA): Uint8Array => {
    fillMhChecksum(b, 0, src, dst);
    return b;
  };
  // F.13: the checksum is over the identities; CoA in the pseudo-header does not verify.
  cases.push(['checksum over the CoA', E31_BU, COA, HA]);
  const flipped = E31_BU.slice();
  flipped[20]! ^= 1;
  cases.push(['one bit flipped', flipped, HOA, HA]);
  const proto = E31_BU.slice();
  proto[0] = 6;
  cases.push(['Payload Proto not 59', fix(proto), HOA, HA]);
  const longHdr = E31_BU.slice();
  longHdr[1] = 4;
  cases.push(['Header Len past the data', longHdr, HOA, HA]);
  const shortBu = E31_BU.slice(0, 8);
  shortBu[1] = 0;
  cases.push(['BU shorter than its fixed part', fix(shortBu), HOA, HA]);
  const altLen = E31_BU.slice();
  altLen[15] = 14;
  altLen[30] = 1; // the two freed bytes become PadN(0) so only the AltCoA length is wrong
  altLen[31] = 0;
  cases.push(['AltCoA length 14', fix(altLen), HOA, HA]);
  const overrun = E31_BU.slice();
  overrun[15] = 17;
  cases.push(['option past the end', fix(overrun), HOA, HA]);
  const twoAlt = new Uint8Array(56);
  twoAlt.set(E31_BU);
  twoAlt[1] = 6;
  twoAlt.set(E31_BU.subarray(12), 32);
  twoAlt[54] = 1;
  cases.push(['AltCoA twice', fix(twoAlt), HOA, HA]);
  const be = IPV6_MH_BE.slice(40);
  be[1] = 1;
  cases.push(['BE shorter than 24', fix(be.slice(0, 16), HA, HOA), HA, HOA]);
  for (const [name, bytes, src, dst] of cases) {
    assert.equal(parseMh(bytes, 0, bytes.length, src, dst), Drop.MALFORMED, name);
  }
  assert.equal(parseMh(E31_BU, 0, 7, HOA, HA), Drop.MALFORMED, 'shorter than 8');
  assert.equal(parseMh(E31_BU, 0, 31, HOA, HA), Drop.MALFORMED, 'truncated');
  assert.equal(parseMh(E31_BU, 0, 33, HOA, HA), Drop.MALFORMED, 'len past the array');
  assert.equal(parseMh(E31_BU, 0, 32, HOA.subarray(0, 4), HA), Drop.MALFORMED, 'short identity');
});

test('unknown options are skipped; other MH types are reported, not dropped', () => {
  const bu = new Uint8Array(40);
  bu.set(E31_BU);
  bu[1] = 4;
  bu.set([99, 2, 0xab, 0xcd, 1, 2, 0, 0], 32);
  fillMhChecksum(bu, 0, HOA, HA);
  const m = ok(parseMh(bu, 0, bu.length, HOA, HA));
  if (m.kind !== 'binding-update') assert.fail(m.kind);
  assert.deepEqual(m.options, { altCoa: COA });

  const hoti = E32_BA.slice();
  hoti[2] = MH_TYPE_HOTI;
  fillMhChecksum(hoti, 0, HA, HOA);
  assert.deepEqual(parseMh(hoti, 0, hoti.length, HA, HOA), { kind: 'other', mhType: MH_TYPE_HOTI, length: 16 });
});

test('bytes after Header Len are ignored (No Next Header)', () => {
  const b = new Uint8Array(40);
  b.set(E31_BU);
  b.fill(0xff, 32);
  assert.equal(ok(parseMh(b, 0, b.length, HOA, HA)).length, 32);
});

test('a BA with status 135 carries the last accepted sequence number', () => {
  const ba = build((b, o) => writeBindingAck(b, o, { status: BA_STATUS_SEQ_OUT_OF_WINDOW, seq: 4242, lifetime: 0 }, HA, HOA));
  const m = ok(parseMh(ba, 0, ba.length, HA, HOA));
  if (m.kind !== 'binding-ack') assert.fail(m.kind);
  assert.equal(m.status, 135);
  assert.equal(m.seq, 4242);
  assert.equal(mhSeqNext(m.seq), 4243);
});

test('builders throw TypeError/RangeError on caller bugs', () => {
  const buf = new Uint8Array(64);
  assert.throws(() => writeBindingUpdate(buf, 0, { seq: 0x10000, flags: 0, lifetime: 0 }, HOA, HA), RangeError);
  assert.throws(() => writeBindingUpdate(buf, 0, { seq: 1.5, flags: 0, lifetime: 0 }, HOA, HA), TypeError);
  assert.throws(() => writeBindingUpdate(buf, 0, { seq: 1, flags: 0, lifetime: 0, options: { altCoa: ip('192.0.2.1') } }, HOA, HA), RangeError);
  assert.throws(() => writeBindingUpdate(buf, 40, { seq: 1, flags: 0, lifetime: 0, options: { altCoa: COA } }, HOA, HA), RangeError);
  assert.throws(() => writeBindingAck(buf, 0, { status: 256, seq: 0, lifetime: 0 }, HA, HOA), RangeError);
  assert.throws(() => writeBindingAck(buf, 0, { status: 0, seq: 0, lifetime: 0 }, HA.subarray(0, 4), HOA), RangeError);
  assert.throws(() => writeMhExperimental(new Uint8Array(4096), 0, new Uint8Array(2043), HA, HOA), RangeError);
  assert.throws(() => writeBindingAck(buf, 0, { status: 0, seq: 0, lifetime: 0, options: { experimental: new Uint8Array(256) } }, HA, HOA), RangeError);
  assert.equal(buf.every((x) => x === 0), true, 'nothing written when the input is rejected');
});

test('mhSeqNewer: modulo 2^16 with a 32768 window (RFC 6275 §9.5.1)', () => {
  const table: [number, number, boolean][] = [
    [1, 0, true],
    [0, 0, false],
    [0, 65535, true],
    [65535, 0, false],
    [32768, 0, true],
    [32769, 0, false],
    [100, 101, false],
    [101 + 32767, 101, true],
    [(101 + 32768) % 65536, 101, true],
    [(101 + 32769) % 65536, 101, false],
  ];
  for (const [a, b, newer] of table) assert.equal(mhSeqNewer(a, b), newer, `${a} newer than ${b}`);
  assert.equal(mhSeqNext(65535), 0);
});

test('lifetime conversions use 4-second units and never turn a positive duration into 0', () => {
  assert.equal(mhLifetimeFromSeconds(3600), 0x0384);
  assert.equal(mhLifetimeToSeconds(0x0384), 3600);
  assert.equal(mhLifetimeFromSeconds(0), 0);
  assert.equal(mhLifetimeFromSeconds(-4), 0);
  assert.equal(mhLifetimeFromSeconds(3), 1);
  assert.equal(mhLifetimeFromSeconds(7), 1);
  assert.equal(mhLifetimeFromSeconds(8), 2);
  assert.equal(mhLifetimeFromSeconds(1e9), 0xffff);
});

test('fillMhChecksum re-signs a modified message', () => {
  const b = E31_BU.slice();
  writeU16(b, 6, 2);
  assert.equal(parseMh(b, 0, b.length, HOA, HA), Drop.MALFORMED);
  fillMhChecksum(b, 0, HOA, HA);
  const m = ok(parseMh(b, 0, b.length, HOA, HA));
  if (m.kind !== 'binding-update') assert.fail(m.kind);
  assert.equal(m.seq, 2);
});
