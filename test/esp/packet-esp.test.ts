/**
 * ESP framing (src/packet/esp.ts): header, IV from the sequence number, RFC 4303 §2.4 padding and
 * trailer parsing, including random and truncated input on unaligned subarrays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ESP_MAX_TAILROOM,
  ESP_MIN_PACKET_LEN,
  ESP_OFF_IV,
  ESP_OFF_PAYLOAD,
  espPadLength,
  espPlaintextLength,
  NO_DROP,
  readEspSeqLo,
  readEspSpi,
  readEspTrailer,
  seqHiOf,
  seqLoOf,
  seqToBigInt,
  writeEspHeader,
  writeEspIvFromSeq,
  writeEspTrailer,
  type EspTrailer,
} from '../../src/packet/esp.js';
import { IPPROTO_IPIP, IPPROTO_NONE, IPPROTO_TCP } from '../../src/packet/constants.js';
import { toHex } from '../../src/util/bytes.js';
import { Drop } from '../../src/util/drop.js';
import { Rng } from '../helpers/rng.js';

function trailer(): EspTrailer {
  return { payloadLength: -1, nextHeader: -1 };
}

test('derived sizes: 16 bytes before the payload, at most 21 after, 34 at least', () => {
  assert.equal(ESP_OFF_IV, 8);
  assert.equal(ESP_OFF_PAYLOAD, 16);
  assert.equal(ESP_MAX_TAILROOM, 3 + 2 + 16);
  assert.equal(ESP_MIN_PACKET_LEN, 8 + 8 + 2 + 16);
});

test('header and IV are written big-endian where RFC 4303 §2 puts them', () => {
  const buf = new Uint8Array(20).fill(0xaa);
  assert.equal(writeEspHeader(buf, 2, 0x01020304, 0xfffffffe), 8);
  assert.equal(writeEspIvFromSeq(buf, 2, 0x87654321, 5), 8);
  assert.equal(toHex(buf), 'aaaa' + '01020304' + 'fffffffe' + '87654321' + '00000005' + 'aaaa');
  assert.equal(readEspSpi(buf, 2), 0x01020304);
  assert.equal(readEspSeqLo(buf, 2), 0xfffffffe);
});

test('pad length makes payload + pad + 2 a multiple of 4 (RFC 4303 §2.4)', () => {
  const expected = [2, 1, 0, 3, 2, 1, 0, 3, 2];
  for (let len = 0; len < expected.length; len++) {
    assert.equal(espPadLength(len), expected[len], `payload ${len}`);
    assert.equal(espPlaintextLength(len), len + expected[len]! + 2);
    assert.equal(espPlaintextLength(len) % 4, 0);
  }
  assert.equal(espPadLength(1499), 3);
});

test('trailer bytes are 1, 2, 3..., pad length, next header', () => {
  const buf = new Uint8Array(16).fill(0xee);
  assert.equal(writeEspTrailer(buf, 4, 3, IPPROTO_IPIP), 5);
  assert.equal(toHex(buf), 'ee'.repeat(4) + '010203' + '03' + '04' + 'ee'.repeat(7));
  buf.fill(0xee);
  assert.equal(writeEspTrailer(buf, 0, 2, IPPROTO_TCP), 2);
  assert.equal(toHex(buf.subarray(0, 3)), '0006ee');
});

test('a written trailer parses back; payload length and next header recovered', () => {
  for (let len = 0; len < 12; len++) {
    const buf = new Uint8Array(1 + len + ESP_MAX_TAILROOM);
    const written = writeEspTrailer(buf, 1 + len, len, IPPROTO_TCP);
    const out = trailer();
    assert.equal(readEspTrailer(buf, 1, len + written, out), NO_DROP);
    assert.equal(out.payloadLength, len);
    assert.equal(out.nextHeader, IPPROTO_TCP);
  }
});

test('trailer validation: bad pad bytes, pad length too large, too short, dummy', () => {
  const out = trailer();
  // payload 01 02 03 04 05 06, pad 01 02 03 04, pad length 4, NH 6: valid (extra padding is allowed)
  const good = Uint8Array.from([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 4, 6]);
  assert.equal(readEspTrailer(good, 0, good.length, out), NO_DROP);
  assert.equal(out.payloadLength, 6);
  const badPad = good.slice();
  badPad[8] = 0;
  assert.equal(readEspTrailer(badPad, 0, badPad.length, out), Drop.PADDING);
  const tooLong = good.slice();
  tooLong[10] = 11; // pad length 11 + 2 > 12 bytes of plaintext
  assert.equal(readEspTrailer(tooLong, 0, tooLong.length, out), Drop.PADDING);
  const exact = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 6]); // no payload at all
  assert.equal(readEspTrailer(exact, 0, exact.length, out), NO_DROP);
  assert.equal(out.payloadLength, 0);
  assert.equal(readEspTrailer(good, 0, 1, out), Drop.MALFORMED);
  assert.equal(readEspTrailer(good, 0, 0, out), Drop.MALFORMED);
  const dummy = Uint8Array.from([9, 9, 0, IPPROTO_NONE]);
  assert.equal(readEspTrailer(dummy, 0, dummy.length, out), Drop.DUMMY);
  assert.equal(out.payloadLength, 2, 'a dummy packet is still parsed');
});

test('the largest pad (255) is accepted', () => {
  const buf = new Uint8Array(257);
  for (let i = 0; i < 255; i++) buf[i] = i + 1;
  buf[255] = 255;
  buf[256] = IPPROTO_IPIP;
  const out = trailer();
  assert.equal(readEspTrailer(buf, 0, buf.length, out), NO_DROP);
  assert.equal(out.payloadLength, 0);
});

test('random and truncated trailers on unaligned subarrays never throw', () => {
  const rng = new Rng(4303);
  const out = trailer();
  const seen = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const len = rng.int(40);
    const shift = 1 + rng.int(7);
    const view = new Uint8Array(new ArrayBuffer(len + shift), shift, len);
    view.set(rng.bytes(len));
    if (len > 2 && rng.int(2) === 0) view[len - 2] = rng.int(len);
    const r = readEspTrailer(view, 0, len, out);
    seen.add(r);
    if (r === NO_DROP || r === Drop.DUMMY) assert.ok(out.payloadLength >= 0 && out.payloadLength <= len - 2);
  }
  for (const r of [NO_DROP, Drop.MALFORMED, Drop.PADDING]) assert.ok(seen.has(r), `outcome ${r} exercised`);
  for (const r of seen) assert.ok([NO_DROP, Drop.MALFORMED, Drop.PADDING, Drop.DUMMY].includes(r), `unexpected outcome ${r}`);
});

test('64-bit sequence numbers split into and join from u32 halves', () => {
  const seq = 0x8765432100000001n;
  assert.equal(seqHiOf(seq), 0x87654321);
  assert.equal(seqLoOf(seq), 1);
  assert.equal(seqToBigInt(0xffffffff, 0xffffffff), 0xffffffffffffffffn);
  assert.equal(seqToBigInt(seqHiOf(seq), seqLoOf(seq)), seq);
});
