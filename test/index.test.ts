/**
 * The package's library entry (src/index.ts): createEspSa seals and opens single ESP packets;
 * errors carry stable codes. Uses the RFC 7634 Appendix A and draft-mcgrew GCM vectors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as iro from '../src/index.js';
import { createEspSa, EspOpenError, IroError, type BackendName, type EspSa } from '../src/index.js';
import { toHex } from '../src/util/bytes.js';
import { VECTORS } from './esp/vectors.js';

const rfc7634 = VECTORS.find((v) => v.name.startsWith('RFC 7634'))!;
const gcm1 = VECTORS.find((v) => v.name.endsWith('case 1'))!;
const KEYMAT_128 = '0x000102030405060708090a0b0c0d0e0f10111213';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof IroError) return err.code;
    return (err as Error).name;
  }
  return 'no error';
}

function openFailure(sa: EspSa, bytes: Uint8Array): [string, string] {
  try {
    sa.open(bytes);
  } catch (err) {
    assert.ok(err instanceof EspOpenError, String(err));
    return [err.code, err.reason];
  }
  return ['no error', ''];
}

describe('library: decrypt a captured packet in three lines', () => {
  test('RFC 7634 Appendix A: payload, next header and sequence number', () => {
    const sa = createEspSa({ suite: 'chacha20poly1305', keymat: toHex(rfc7634.key) + toHex(rfc7634.salt), spi: 0x01020304 });
    const { payload, nextHeader, seq } = sa.open(rfc7634.espPkt);
    assert.equal(toHex(payload), toHex(rfc7634.plain.subarray(0, 84)), 'the 84-byte inner ICMP echo request');
    assert.equal(nextHeader, 4);
    assert.equal(seq, 5n);
  });

  test('draft-mcgrew GCM-1 (ESN, wire seq 0) with the high bits given', () => {
    const sa = createEspSa({ suite: 'aes128gcm16', keymat: toHex(gcm1.key) + toHex(gcm1.salt), spi: 0x4321, esn: true });
    const { payload, nextHeader, seq } = sa.open(gcm1.espPkt, { seqHi: 0x87654321 });
    assert.equal(seq, 0x8765432100000000n);
    assert.equal(nextHeader, 1);
    assert.equal(toHex(payload), toHex(gcm1.plain.subarray(0, gcm1.plain.length - 4)));
    assert.deepEqual(openFailure(sa, gcm1.espPkt), ['ERR_AUTH_FAILED', 'auth_failed'], 'high bits 0 are wrong');
  });

  test('open copies: the input is not modified and the payload is the caller\'s', () => {
    const sa = createEspSa({ suite: 'chacha20poly1305', keymat: toHex(rfc7634.key) + toHex(rfc7634.salt), spi: 0x01020304 });
    const input = rfc7634.espPkt.slice();
    const first = sa.open(input);
    assert.equal(toHex(input), toHex(rfc7634.espPkt));
    first.payload.fill(0);
    assert.equal(toHex(sa.open(input).payload), toHex(rfc7634.plain.subarray(0, 84)));
  });
});

describe('library: seal', () => {
  test('seal then open round-trips with the SA counter (1, 2, 3) and IV = seq', () => {
    const tx = createEspSa({ suite: 'aes256gcm16', keymat: 'ab'.repeat(36), spi: 0x2001, esn: true });
    const rx = createEspSa({ suite: 'aes256gcm16', keymat: 'ab'.repeat(36), spi: 0x2001, esn: true, replayWindow: true });
    assert.equal(tx.lastSeq, 0n);
    for (let i = 1; i <= 3; i++) {
      const payload = Uint8Array.from({ length: 50 + i }, (_, j) => j ^ i);
      const esp = tx.seal(payload, { nextHeader: 41 });
      assert.equal(toHex(esp.subarray(0, 16)), '00002001' + `0000000${i}` + '00000000' + `0000000${i}`);
      const opened = rx.open(esp);
      assert.equal(toHex(opened.payload), toHex(payload));
      assert.equal(opened.nextHeader, 41);
      assert.equal(opened.seq, BigInt(i));
    }
    assert.equal(tx.lastSeq, 3n);
    assert.equal(rx.replayWindow, 1024);
  });

  test('an explicit seq is used as is and moves the counter up to it', () => {
    const sa = createEspSa({ suite: 'aes128gcm16', keymat: KEYMAT_128, spi: 0x1001 });
    const esp = sa.seal(new Uint8Array(32), { nextHeader: 135, seq: 1n });
    assert.equal(toHex(esp.subarray(0, 8)), '0000100100000001');
    sa.seal(new Uint8Array(4), { nextHeader: 6, seq: 100n });
    assert.equal(sa.lastSeq, 100n);
    sa.seal(new Uint8Array(4), { nextHeader: 6, seq: 50n });
    assert.equal(sa.lastSeq, 100n, 'a lower explicit number does not move the counter back');
    const next = sa.seal(new Uint8Array(4), { nextHeader: 6 });
    assert.equal(toHex(next.subarray(4, 8)), '00000065');
  });

  test('every backend seals the same bytes', () => {
    const outs = iro.availableBackends().map((backend: BackendName) => {
      const sa = createEspSa({ suite: 'chacha20poly1305', keymat: 'cd'.repeat(36), spi: 0x3001, backend });
      assert.equal(sa.backend, backend);
      return toHex(sa.seal(Uint8Array.from({ length: 77 }, (_, i) => i), { nextHeader: 17, seq: 9n }));
    });
    assert.ok(outs.length >= 2);
    for (const o of outs) assert.equal(o, outs[0]);
  });

  test('sequence space: 2^32 - 1 is the last number without ESN', () => {
    const sa = createEspSa({ suite: 'aes128gcm16', keymat: KEYMAT_128, spi: 0x1001 });
    sa.seal(new Uint8Array(1), { nextHeader: 17, seq: 0xffffffffn });
    assert.equal(codeOf(() => sa.seal(new Uint8Array(1), { nextHeader: 17 })), 'ERR_SEQ_EXHAUSTED');
    assert.equal(codeOf(() => sa.seal(new Uint8Array(1), { nextHeader: 17, seq: 0x100000000n })), 'RangeError');
    assert.equal(codeOf(() => sa.seal(new Uint8Array(1), { nextHeader: 17, seq: 0n })), 'RangeError');
    const esn = createEspSa({ suite: 'aes128gcm16', keymat: KEYMAT_128, spi: 0x1001, esn: true });
    const wrapped = esn.seal(new Uint8Array(1), { nextHeader: 17, seq: 0x100000000n });
    assert.equal(toHex(wrapped.subarray(4, 16)), '00000000' + '0000000100000000', 'wire seq 0, IV = full 64 bits');
  });

  test('seal validates its arguments', () => {
    const sa = createEspSa({ suite: 'aes128gcm16', keymat: KEYMAT_128, spi: 0x1001 });
    assert.equal(codeOf(() => sa.seal(new Uint8Array(1), { nextHeader: 256 })), 'RangeError');
    assert.equal(codeOf(() => sa.seal('x' as unknown as Uint8Array, { nextHeader: 4 })), 'TypeError');
    assert.equal(codeOf(() => sa.seal(new Uint8Array(1), { nextHeader: 4, seq: 1 as unknown as bigint })), 'TypeError');
  });
});

describe('library: open failures have stable codes and reasons', () => {
  const keymat = toHex(rfc7634.key) + toHex(rfc7634.salt);

  test('tampering, wrong SPI, truncation', () => {
    const sa = createEspSa({ suite: 'chacha20poly1305', keymat, spi: 0x01020304 });
    const flipped = rfc7634.espPkt.slice();
    flipped[40]! ^= 1;
    assert.deepEqual(openFailure(sa, flipped), ['ERR_AUTH_FAILED', 'auth_failed']);
    const other = createEspSa({ suite: 'chacha20poly1305', keymat, spi: 0x01020305 });
    assert.deepEqual(openFailure(other, rfc7634.espPkt), ['ERR_MALFORMED', 'no_sa']);
    assert.deepEqual(openFailure(sa, rfc7634.espPkt.subarray(0, 33)), ['ERR_MALFORMED', 'malformed']);
  });

  test('every single-bit flip throws EspOpenError, never anything else', () => {
    const sa = createEspSa({ suite: 'chacha20poly1305', keymat, spi: 0x01020304, replayWindow: 64 });
    const seen = new Map<string, number>();
    for (let bit = 0; bit < rfc7634.espPkt.length * 8; bit++) {
      const bytes = rfc7634.espPkt.slice();
      bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
      const [code, reason] = openFailure(sa, bytes);
      seen.set(`${code}/${reason}`, (seen.get(`${code}/${reason}`) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(seen), { 'ERR_MALFORMED/no_sa': 32, 'ERR_AUTH_FAILED/auth_failed': rfc7634.espPkt.length * 8 - 32 });
  });

  test('replay window: off by default, on when asked', () => {
    const once = createEspSa({ suite: 'chacha20poly1305', keymat, spi: 0x01020304 });
    assert.equal(once.replayWindow, 0);
    assert.equal(once.open(rfc7634.espPkt).seq, 5n);
    assert.equal(once.open(rfc7634.espPkt).seq, 5n, 'one-shot SAs accept duplicates');
    const guarded = createEspSa({ suite: 'chacha20poly1305', keymat, spi: 0x01020304, replayWindow: 64 });
    assert.equal(guarded.open(rfc7634.espPkt).seq, 5n);
    assert.deepEqual(openFailure(guarded, rfc7634.espPkt), ['ERR_REPLAY', 'replay']);
    assert.equal(codeOf(() => guarded.open(rfc7634.espPkt, { seqHi: 0 })), 'RangeError');
  });

  test('dummy packets (next header 59) are returned, not thrown', () => {
    const sa = createEspSa({ suite: 'aes128gcm16', keymat: KEYMAT_128, spi: 0x1001 });
    const dummy = sa.seal(new Uint8Array(12), { nextHeader: 59 });
    const opened = sa.open(dummy);
    assert.equal(opened.nextHeader, 59, 'returned, for the caller to discard (RFC 4303 §2.6)');
    assert.equal(opened.payload.length, 12);
  });
});

describe('library: options are validated with stable codes', () => {
  test('suite, keymat, SPI, backend, window', () => {
    const ok = { suite: 'aes128gcm16' as const, keymat: KEYMAT_128, spi: 0x1001 };
    assert.equal(codeOf(() => createEspSa({ ...ok, suite: 'aes128gcm8' as 'aes128gcm16' })), 'ERR_BAD_SUITE');
    assert.equal(codeOf(() => createEspSa({ ...ok, keymat: '0x0001' })), 'ERR_BAD_KEY');
    assert.equal(codeOf(() => createEspSa({ ...ok, keymat: 'zz'.repeat(20) })), 'ERR_BAD_KEY');
    assert.equal(codeOf(() => createEspSa({ ...ok, keymat: new Uint8Array(16) })), 'ERR_BAD_KEY', 'salt missing');
    assert.equal(codeOf(() => createEspSa({ ...ok, keymat: new Uint8Array(20) })), 'no error');
    assert.equal(codeOf(() => createEspSa({ ...ok, spi: 255 })), 'ERR_SPI_RESERVED');
    assert.equal(codeOf(() => createEspSa({ ...ok, spi: 2 ** 32 })), 'RangeError');
    assert.equal(codeOf(() => createEspSa({ ...ok, backend: 'openssl' as BackendName })), 'RangeError');
    assert.throws(() => createEspSa({ ...ok, replayWindow: 100 }), /options\.replayWindow must be a multiple of 32/);
    assert.throws(() => createEspSa({ ...ok, replayWindow: 'big' as unknown as number }), TypeError);
    assert.equal(codeOf(() => createEspSa({ ...ok, esn: 'yes' as unknown as boolean })), 'TypeError');
  });

  test('key material never appears in error messages', () => {
    const secret = 'feedfacecafebeef';
    try {
      createEspSa({ suite: 'aes128gcm16', keymat: secret.repeat(2), spi: 0x1001 });
      assert.fail('expected ERR_BAD_KEY');
    } catch (err) {
      assert.ok(err instanceof IroError);
      assert.equal(err.code, 'ERR_BAD_KEY');
      assert.ok(!err.message.includes(secret));
    }
  });
});

test('the package entry exports the library API and its building blocks', () => {
  for (const name of ['createEspSa', 'EspOpenError', 'IroError', 'SequenceCounter', 'BitmapReplayWindow', 'createReplayWindow', 'espSeal', 'espOpen', 'parseKeymat', 'defaultBackend']) {
    assert.equal(typeof (iro as Record<string, unknown>)[name], 'function', name);
  }
  assert.deepEqual([...iro.SUITE_NAMES], ['aes128gcm16', 'aes192gcm16', 'aes256gcm16', 'chacha20poly1305']);
});
