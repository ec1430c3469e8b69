/**
 * ESP seal/open of one SA direction (src/esp/sa-crypto.ts): framing written by the sealer, the
 * inbound steps split as the pool runs them, sequence number 0 with and without ESN, replay,
 * padding and dummy packets after a verified tag, and length checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeBackend } from '../../src/esp/backend-node.js';
import { BitmapReplayWindow } from '../../src/esp/replay.js';
import {
  espCheck,
  espCiphertextLength,
  espDecrypt,
  espOpen,
  espPacketLength,
  espSeal,
  espSealPrepare,
  newEspInbound,
} from '../../src/esp/sa-crypto.js';
import type { AeadContext } from '../../src/esp/types.js';
import { IPPROTO_IPV6, IPPROTO_NONE, IPPROTO_UDP } from '../../src/packet/constants.js';
import { ESP_MAX_TAILROOM, ESP_OFF_PAYLOAD, writeEspHeader, writeEspIvFromSeq } from '../../src/packet/esp.js';
import { toHex } from '../../src/util/bytes.js';
import { Drop } from '../../src/util/drop.js';
import { VECTORS } from './vectors.js';

const SPI = 0x00001001;
const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const SALT = Uint8Array.from([0x10, 0x11, 0x12, 0x13]);

function ctx(esn: boolean): AeadContext {
  return nodeBackend.create('aes128gcm16', KEY, SALT, esn);
}

/** Seals `payload` at seq (hi, lo) into a fresh buffer; returns the ESP packet bytes. */
function sealed(c: AeadContext, payload: Uint8Array, nh: number, hi: number, lo: number): Uint8Array {
  const buf = new Uint8Array(ESP_OFF_PAYLOAD + payload.length + ESP_MAX_TAILROOM);
  buf.set(payload, ESP_OFF_PAYLOAD);
  const len = espSeal(c, SPI, buf, ESP_OFF_PAYLOAD, payload.length, nh, hi, lo);
  return buf.subarray(0, len);
}

/** Seals an arbitrary plaintext (trailer included, possibly invalid) with a valid tag. */
function sealedRaw(c: AeadContext, plaintext: Uint8Array, hi: number, lo: number): Uint8Array {
  const buf = new Uint8Array(ESP_OFF_PAYLOAD + plaintext.length + 16);
  writeEspHeader(buf, 0, SPI, lo);
  writeEspIvFromSeq(buf, 0, hi, lo);
  buf.set(plaintext, ESP_OFF_PAYLOAD);
  c.seal(buf, 0, plaintext.length, hi);
  return buf;
}

test('the E.3.1 vector: a BU sealed at seq 1 with IV = seq is byte-identical to PROTOCOL.md', () => {
  const bu = Uint8Array.from([
    0x3b, 0x03, 0x05, 0x00, 0x6e, 0x81, 0x00, 0x01, 0xc0, 0x00, 0x03, 0x84, 0x01, 0x00, 0x03, 0x10,
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
  ]);
  const esp = sealed(ctx(false), bu, 135, 0, 1);
  assert.equal(
    toHex(esp),
    '00001001000000010000000000000001' +
      '6545ff91d5952e17ff87aec91b84f1f6f1915ec5e41966ed9b4c253942f8b94bf6683d479a60083dee32186b5e704ea4cf09398c',
  );
});

test('espSealPrepare writes header, IV = 64-bit seq, pad 1,2,3..., pad length, next header', () => {
  for (let len = 0; len < 8; len++) {
    const buf = new Uint8Array(ESP_OFF_PAYLOAD + len + ESP_MAX_TAILROOM).fill(0xcc);
    const ptLen = espSealPrepare(buf, ESP_OFF_PAYLOAD, len, IPPROTO_UDP, SPI, 0x01020304, 0xa0b0c0d0);
    const pad = (4 - ((len + 2) % 4)) % 4;
    assert.equal(ptLen, len + pad + 2);
    assert.equal(toHex(buf.subarray(0, ESP_OFF_PAYLOAD)), '00001001' + 'a0b0c0d0' + '01020304' + 'a0b0c0d0');
    const trailer = buf.subarray(ESP_OFF_PAYLOAD + len, ESP_OFF_PAYLOAD + ptLen);
    assert.deepEqual([...trailer], [...Array.from({ length: pad }, (_, i) => i + 1), pad, IPPROTO_UDP]);
    assert.equal(espPacketLength(len), ptLen + 32);
  }
});

test('the split inbound steps (check, decrypt, commit) decide as espOpen does', () => {
  const c = ctx(true);
  const window = new BitmapReplayWindow({ esn: true, size: 64 });
  const out = newEspInbound();
  const payload = Uint8Array.from({ length: 41 }, (_, i) => i * 3);
  const pkt = sealed(c, payload, IPPROTO_IPV6, 0, 9);
  const buf = pkt.slice();
  assert.equal(espCheck(buf, 0, buf.length, true, window, 0, out), true);
  assert.equal(out.seqHi, 0);
  assert.equal(out.seqLo, 9);
  assert.equal(espDecrypt(c, buf, 0, buf.length, out), true);
  window.commit(out.seqHi, out.seqLo);
  assert.equal(toHex(buf.subarray(out.payloadOffset, out.payloadOffset + out.payloadLength)), toHex(payload));
  assert.equal(out.nextHeader, IPPROTO_IPV6);
  assert.equal(espCheck(pkt.slice(), 0, pkt.length, true, window, 0, out), false);
  assert.equal(out.drop, Drop.REPLAY);
});

test('without ESN, wire seq 0 is refused (RFC 4303 §3.3.3), with or without a window', () => {
  const c = ctx(false);
  const pkt = sealedRaw(c, Uint8Array.from([0xab, 0xcd, 0, 4]), 0, 0);
  const out = newEspInbound();
  assert.equal(espOpen(c, null, pkt.slice(), 0, pkt.length, out), false);
  assert.equal(out.drop, Drop.REPLAY);
  assert.equal(espOpen(c, new BitmapReplayWindow(), pkt.slice(), 0, pkt.length, out), false);
  assert.equal(out.drop, Drop.REPLAY);
});

test('with ESN, wire seq 0 is legal: GCM-1 opens through a window whose top infers 0x87654321', () => {
  const v = VECTORS.find((x) => x.esn && x.seqLo === 0)!;
  assert.ok(v, 'the GCM-1 vector (ESN, wire seq 0)');
  const c = nodeBackend.create(v.suite, v.key, v.salt, true);
  const window = new BitmapReplayWindow({ esn: true, top: 0x87654320ffffff00n });
  assert.equal(window.topHi, 0x87654320);
  const out = newEspInbound();
  const buf = v.espPkt.slice();
  assert.equal(espOpen(c, window, buf, 0, buf.length, out), true);
  assert.equal(out.seqHi, 0x87654321);
  assert.equal(out.seqLo, 0);
  assert.equal(window.topHi, 0x87654321, 'committed');
  assert.equal(out.nextHeader, 1);
  const fresh = newEspInbound();
  assert.equal(espOpen(c, null, v.espPkt.slice(), 0, v.espPkt.length, fresh, 0x87654321), true, 'one-shot with given high bits');
});

test('ESN underflow is refused before decryption', () => {
  const c = ctx(true);
  const pkt = sealed(c, new Uint8Array(8), IPPROTO_UDP, 0, 0xfffffff0);
  const out = newEspInbound();
  assert.equal(espOpen(c, new BitmapReplayWindow({ esn: true, size: 64 }), pkt.slice(), 0, pkt.length, out), false);
  assert.equal(out.drop, Drop.REPLAY);
});

test('a tag failure leaves the window untouched; the genuine packet is still accepted', () => {
  const c = ctx(false);
  const window = new BitmapReplayWindow({ size: 64 });
  const out = newEspInbound();
  const pkt = sealed(c, new Uint8Array(20), IPPROTO_UDP, 0, 3);
  const forged = pkt.slice();
  forged[forged.length - 1]! ^= 0x40;
  assert.equal(espOpen(c, window, forged, 0, forged.length, out), false);
  assert.equal(out.drop, Drop.AUTH_FAILED);
  assert.equal(window.topLo, 0, 'not committed');
  assert.equal(espOpen(c, window, pkt.slice(), 0, pkt.length, out), true);
  assert.equal(window.topLo, 3);
  assert.equal(espOpen(c, window, pkt.slice(), 0, pkt.length, out), false);
  assert.equal(out.drop, Drop.REPLAY);
});

test('bad padding under a valid tag is dropped as padding, and its number is committed', () => {
  const c = ctx(false);
  const window = new BitmapReplayWindow({ size: 64 });
  const out = newEspInbound();
  const badContents = sealedRaw(c, Uint8Array.from([9, 9, 9, 9, 9, 1, 3, 2, 4]), 0, 5);
  assert.equal(espOpen(c, window, badContents, 0, badContents.length, out), false);
  assert.equal(out.drop, Drop.PADDING);
  assert.equal(window.check(5), -1, 'an authentic packet counts as received even when dropped');
  const tooLong = sealedRaw(c, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 4]), 0, 6);
  assert.equal(espOpen(c, window, tooLong, 0, tooLong.length, out), false);
  assert.equal(out.drop, Drop.PADDING);
});

test('next header 59 (dummy) is reported as a drop after its number is committed', () => {
  const c = ctx(false);
  const window = new BitmapReplayWindow({ size: 64 });
  const out = newEspInbound();
  const pkt = sealed(c, new Uint8Array(30), IPPROTO_NONE, 0, 8);
  assert.equal(espOpen(c, window, pkt.slice(), 0, pkt.length, out), false);
  assert.equal(out.drop, Drop.DUMMY);
  assert.equal(out.payloadLength, 30);
  assert.equal(window.topLo, 8);
});

test('too short or overrunning packets are malformed, without touching the window', () => {
  const c = ctx(false);
  const window = new BitmapReplayWindow({ size: 64 });
  const out = newEspInbound();
  const pkt = sealed(c, new Uint8Array(0), IPPROTO_UDP, 0, 1);
  assert.equal(pkt.length, 36);
  assert.equal(espOpen(c, window, pkt.slice(), 0, pkt.length, out), true, 'an empty payload is fine');
  for (const len of [0, 8, 16, 33]) {
    assert.equal(espOpen(c, window, new Uint8Array(64), 0, len, out), false);
    assert.equal(out.drop, Drop.MALFORMED, `length ${len}`);
  }
  assert.equal(espOpen(c, window, new Uint8Array(40), 4, 40, out), false);
  assert.equal(out.drop, Drop.MALFORMED, 'extends past the buffer');
  assert.equal(espCiphertextLength(36), 4);
  assert.equal(window.topLo, 1);
});
