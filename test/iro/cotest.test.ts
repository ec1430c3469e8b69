/** The CoA test message: the byte layout documented in src/iro/cotest.ts, round trips, bad input. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/util/bytes.js';
import { parseMh } from '../../src/packet/mh.js';
import {
  COTEST_BODY_LEN,
  COTEST_MH_LEN,
  COTEST_SUBTYPE_REPLY,
  COTEST_SUBTYPE_REQUEST,
  coTestMessage,
  decodeCoTestBody,
  encodeCoTestBody,
} from '../../src/iro/cotest.js';
import { CN_ID, HOA, bytesOf } from './helpers.js';

const COOKIE = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

test('layout: a request answering BU 42 is the 24 bytes the module header documents', () => {
  const bytes = bytesOf(coTestMessage(11, { subtype: COTEST_SUBTYPE_REQUEST, sequence: 42, cookie: COOKIE }), CN_ID, HOA);
  assert.equal(bytes.length, 24);
  assert.equal(COTEST_MH_LEN, 24);
  assert.equal(COTEST_BODY_LEN, 18);
  // Checksum bytes 4-5 depend on the addresses; everything else is fixed by the layout.
  const masked = Uint8Array.from(bytes);
  masked[4] = 0xcc;
  masked[5] = 0xcc;
  assert.equal(toHex(masked), '3b020b00cccc0100002a0102030405060708000000000000');
  // The checksum verifies over the identities (the parser checks it).
  const m = parseMh(bytes, 0, bytes.length, CN_ID, HOA, 11);
  assert.ok(typeof m === 'object' && m.kind === 'experimental');
  assert.deepEqual(decodeCoTestBody(m.body), { subtype: COTEST_SUBTYPE_REQUEST, sequence: 42, cookie: COOKIE });
});

test('a reply with another MH type differs only in the type byte and the checksum', () => {
  const bytes = bytesOf(coTestMessage(200, { subtype: COTEST_SUBTYPE_REPLY, sequence: 0xbeef, cookie: COOKIE }), HOA, CN_ID);
  assert.equal(bytes[2], 200);
  assert.equal(toHex(bytes.subarray(6)), '0200beef0102030405060708000000000000');
});

test('decode: short bodies and unknown subtypes are null; trailing bytes are ignored; never throws', () => {
  const body = encodeCoTestBody({ subtype: COTEST_SUBTYPE_REPLY, sequence: 7, cookie: COOKIE });
  assert.equal(decodeCoTestBody(body.subarray(0, 11)), null);
  assert.deepEqual(decodeCoTestBody(body.subarray(0, 12))?.sequence, 7);
  const bad = Uint8Array.from(body);
  bad[0] = 3;
  assert.equal(decodeCoTestBody(bad), null);
  bad[0] = 0;
  assert.equal(decodeCoTestBody(bad), null);
  const decoded = decodeCoTestBody(body)!;
  body[5] = 0xff;
  assert.equal(decoded.cookie[1], 2, 'the cookie is a copy');
  for (let n = 0; n < 40; n++) decodeCoTestBody(new Uint8Array(n).fill(n));
});

test('encode rejects what it cannot represent', () => {
  assert.throws(() => encodeCoTestBody({ subtype: 3 as 1, sequence: 1, cookie: COOKIE }), RangeError);
  assert.throws(() => encodeCoTestBody({ subtype: 1, sequence: 65536, cookie: COOKIE }), RangeError);
  assert.throws(() => encodeCoTestBody({ subtype: 1, sequence: 1, cookie: new Uint8Array(7) }), RangeError);
});
