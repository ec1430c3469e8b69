/**
 * One test suite for every AEAD backend (STYLE 13): known answers, tamper, unaligned round trips
 * cross-checked against another backend, batches, and edge validation. backends.test.ts runs it
 * for node, noble and (when the addon is built) native.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newAeadBatch, openBatch, sealBatch, STATUS_AUTH_FAILED } from '../../src/esp/batch.js';
import { nobleBackend } from '../../src/esp/backend-noble.js';
import { nodeBackend } from '../../src/esp/backend-node.js';
import { espCiphertextLength, espOpen, espSeal, newEspInbound } from '../../src/esp/sa-crypto.js';
import { BitmapReplayWindow } from '../../src/esp/replay.js';
import { SUITES } from '../../src/esp/suites.js';
import { SUITE_NAMES, type AeadBackend, type AeadContext, type SuiteName } from '../../src/esp/types.js';
import { ESP_ICV_LEN, ESP_OFF_SEQ, IPPROTO_IPIP, IPPROTO_IPV6 } from '../../src/packet/constants.js';
import { ESP_MAX_TAILROOM, ESP_OFF_IV, ESP_OFF_PAYLOAD, NO_DROP, readEspTrailer, writeEspHeader } from '../../src/packet/esp.js';
import { toHex } from '../../src/util/bytes.js';
import { Drop, DROP_LABELS, newDropTally } from '../../src/util/drop.js';
import { IroError } from '../../src/util/errors.js';
import { Rng } from '../helpers/rng.js';
import { VECTORS, type EspVector } from './vectors.js';

const BITS_PER_BYTE = 8;
const SEQ_FIELD_END = ESP_OFF_SEQ + 4;

function contextFor(backend: AeadBackend, v: EspVector): AeadContext {
  return backend.create(v.suite, v.key, v.salt, v.esn);
}

function keysFor(suite: SuiteName, rng: Rng): { key: Uint8Array; salt: Uint8Array } {
  return { key: rng.bytes(SUITES[suite].keyLength), salt: rng.bytes(4) };
}

/** A view with a non-zero byteOffset into a larger buffer, as Node's Buffer pool produces. */
function unaligned(size: number, rng: Rng): Uint8Array {
  const shift = 1 + rng.int(7);
  return new Uint8Array(new ArrayBuffer(size + shift), shift, size);
}

/** What espOpen must report when bit `bit` of vector `v`'s ESP packet is flipped (no window). */
function expectedTamperDrop(v: EspVector, bit: number): number {
  const byte = bit >> 3;
  if (!v.esn && byte >= ESP_OFF_SEQ && byte < SEQ_FIELD_END) {
    const seq = new Uint8Array(v.espPkt.subarray(ESP_OFF_SEQ, SEQ_FIELD_END));
    seq[byte - ESP_OFF_SEQ]! ^= 0x80 >> (bit & 7);
    // RFC 4303 §3.3.3: without ESN, sequence number 0 is refused before any cryptography.
    if (seq.every((b) => b === 0)) return Drop.REPLAY;
  }
  return Drop.AUTH_FAILED;
}

export function suiteTests(name: string, backend: AeadBackend): void {
  const reference = backend.name === 'node' ? nobleBackend : nodeBackend;

  describe(`AEAD backend ${name}`, () => {
    for (const v of VECTORS) {
      test(`${v.name}: seal reproduces esp_pkt byte for byte`, () => {
        const ctx = contextFor(backend, v);
        const esp = 5;
        const buf = new Uint8Array(esp + v.espPkt.length + 3).fill(0xee);
        writeEspHeader(buf, esp, v.spi, v.seqLo);
        buf.set(v.iv, esp + ESP_OFF_IV);
        buf.set(v.plain, esp + ESP_OFF_PAYLOAD);
        ctx.seal(buf, esp, v.plain.length, v.seqHi);
        assert.equal(toHex(buf.subarray(esp, esp + v.espPkt.length)), toHex(v.espPkt));
        assert.equal(buf[esp - 1], 0xee, 'byte before the packet untouched');
        assert.equal(buf[esp + v.espPkt.length], 0xee, 'byte after the ICV untouched');
        ctx.destroy();
      });

      test(`${v.name}: open recovers plain and a valid trailer`, () => {
        const ctx = contextFor(backend, v);
        const esp = 3;
        const buf = new Uint8Array(esp + v.espPkt.length);
        buf.set(v.espPkt, esp);
        assert.equal(ctx.open(buf, esp, v.plain.length, v.seqHi), true);
        const pt = buf.subarray(esp + ESP_OFF_PAYLOAD, esp + ESP_OFF_PAYLOAD + v.plain.length);
        assert.equal(toHex(pt), toHex(v.plain));
        const trailer = { payloadLength: -1, nextHeader: -1 };
        assert.equal(readEspTrailer(buf, esp + ESP_OFF_PAYLOAD, v.plain.length, trailer), NO_DROP);
        assert.equal(trailer.nextHeader, v.plain[v.plain.length - 1]);
        assert.equal(trailer.payloadLength, v.plain.length - 2 - v.plain[v.plain.length - 2]!);
        ctx.destroy();
      });

      test(`${v.name}: wrong ESN high bits fail authentication`, () => {
        const ctx = contextFor(backend, v);
        const buf = v.espPkt.slice();
        const wrongHi = v.esn ? (v.seqHi + 1) >>> 0 : 0;
        // Without ESN the high bits are not in the AAD, so any value opens; with ESN they must match.
        assert.equal(ctx.open(buf, 0, v.plain.length, wrongHi), !v.esn);
        ctx.destroy();
      });

      test(`${v.name}: every single-bit flip is dropped with its counted reason, never thrown`, () => {
        const ctx = contextFor(backend, v);
        const out = newEspInbound();
        const tally = newDropTally();
        const expected = newDropTally();
        const buf = new Uint8Array(v.espPkt.length);
        for (let bit = 0; bit < v.espPkt.length * BITS_PER_BYTE; bit++) {
          buf.set(v.espPkt);
          buf[bit >> 3]! ^= 0x80 >> (bit & 7);
          const ok = espOpen(ctx, null, buf, 0, buf.length, out, v.seqHi);
          assert.equal(ok, false, `bit ${bit} accepted`);
          const want = expectedTamperDrop(v, bit);
          assert.equal(out.drop, want, `bit ${bit}: ${DROP_LABELS[out.drop as number]} instead of ${DROP_LABELS[want]}`);
          tally[out.drop as number]!++;
          expected[want]!++;
        }
        assert.deepEqual(tally, expected);
        assert.equal(tally[Drop.AUTH_FAILED]! + tally[Drop.REPLAY]!, v.espPkt.length * BITS_PER_BYTE);
        ctx.destroy();
      });
    }

    for (const suite of SUITE_NAMES) {
      for (const esn of [false, true]) {
        test(`${suite} esn=${esn}: random payloads at unaligned offsets round-trip and match ${reference.name}`, () => {
          const rng = new Rng(0x1e5 + suite.length * 7 + (esn ? 1 : 0));
          const { key, salt } = keysFor(suite, rng);
          const ctx = backend.create(suite, key, salt, esn);
          const ref = reference.create(suite, key, salt, esn);
          const out = newEspInbound();
          const spi = 0x1000 + rng.int(0xffff);
          const lengths = [0, 1, 2, 3, 4, 5, 1400, 1499];
          for (let i = 0; i < 60; i++) lengths.push(rng.int(1500));
          // With ESN, start just below a high-bits boundary so the run crosses it.
          let seqHi = esn ? 0xfffffffe : 0;
          let seqLo = esn ? 0xffffffff - 10 : 0;
          const window = new BitmapReplayWindow({ esn, top: (BigInt(seqHi) << 32n) | BigInt(seqLo) });
          for (const len of lengths) {
            if (++seqLo > 0xffffffff) {
              seqLo = 0;
              seqHi++;
            }
            const payload = rng.bytes(len);
            const payloadOff = ESP_OFF_PAYLOAD + rng.int(9);
            const buf = unaligned(payloadOff + len + ESP_MAX_TAILROOM + rng.int(5), rng);
            buf.set(payload, payloadOff);
            const nh = len % 2 === 0 ? IPPROTO_IPIP : IPPROTO_IPV6;
            const espLen = espSeal(ctx, spi, buf, payloadOff, len, nh, seqHi, seqLo);
            assert.equal(espLen % 4, 0, 'ESP packet ends on a 4-byte boundary (RFC 4303 §2.4)');
            const esp = payloadOff - ESP_OFF_PAYLOAD;
            const sealed = buf.slice(esp, esp + espLen);

            const copy = unaligned(espLen + 1, rng);
            copy.set(sealed, 1);
            assert.equal(espOpen(ref, null, copy, 1, espLen, out, seqHi), true, `${reference.name} opens ${name}'s packet`);
            assert.equal(toHex(copy.subarray(out.payloadOffset, out.payloadOffset + out.payloadLength)), toHex(payload));

            assert.equal(espOpen(ctx, window, buf, esp, espLen, out), true, `len ${len}: ${DROP_LABELS[out.drop as number]}`);
            assert.equal(out.payloadOffset, payloadOff);
            assert.equal(out.payloadLength, len);
            assert.equal(out.nextHeader, nh);
            assert.equal(out.seqHi, seqHi);
            assert.equal(out.seqLo, seqLo);
            assert.equal(toHex(buf.subarray(payloadOff, payloadOff + len)), toHex(payload));
          }
          ctx.destroy();
          ref.destroy();
        });
      }
    }

    test('sealBatch and openBatch over two SAs match per-packet sealing, skip, and flag a bad tag', () => {
      const rng = new Rng(77);
      const a = keysFor('aes256gcm16', rng);
      const c = keysFor('chacha20poly1305', rng);
      const ctxs = [backend.create('aes256gcm16', a.key, a.salt, false), backend.create('chacha20poly1305', c.key, c.salt, true)];
      const refs = [reference.create('aes256gcm16', a.key, a.salt, false), reference.create('chacha20poly1305', c.key, c.salt, true)];
      const slot = 256;
      const n = 8;
      const data = unaligned(slot * n, rng);
      const batch = newAeadBatch(data, n);
      const plains: Uint8Array[] = [];
      const expected: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const len = 4 * (10 + rng.int(40));
        const esp = i * slot + rng.int(4);
        const plain = rng.bytes(len);
        const hi = i % 2 === 1 ? 7 : 0;
        writeEspHeader(data, esp, i % 2 === 0 ? 0x2000 : 0x3000, i + 1);
        data.set(rng.bytes(8), esp + ESP_OFF_IV);
        data.set(plain, esp + ESP_OFF_PAYLOAD);
        const ref = data.slice(esp, esp + ESP_OFF_PAYLOAD + len + ESP_ICV_LEN);
        refs[i % 2]!.seal(ref, 0, len, hi);
        plains.push(plain);
        expected.push(ref);
        batch.esp[i] = esp;
        batch.len[i] = len;
        batch.seqHi[i] = hi;
        batch.ctxIndex[i] = i % 2;
      }
      batch.count = n;
      batch.ctxIndex[5] = -1;
      batch.status[6] = Drop.MTU + 1;
      sealBatch(ctxs, batch);
      for (let i = 0; i < n; i++) {
        const got = data.subarray(batch.esp[i]!, batch.esp[i]! + expected[i]!.length);
        if (i === 5 || i === 6) assert.equal(toHex(got.subarray(ESP_OFF_PAYLOAD, ESP_OFF_PAYLOAD + plains[i]!.length)), toHex(plains[i]!), `packet ${i} skipped`);
        else assert.equal(toHex(got), toHex(expected[i]!), `packet ${i} sealed as one packet would be`);
      }
      data[batch.esp[3]! + ESP_OFF_PAYLOAD]! ^= 1;
      assert.equal(openBatch(ctxs, batch), n - 3);
      for (let i = 0; i < n; i++) {
        if (i === 3) assert.equal(batch.status[i], STATUS_AUTH_FAILED);
        else if (i === 6) assert.equal(batch.status[i], Drop.MTU + 1, 'an earlier status is kept');
        else {
          assert.equal(batch.status[i], 0);
          const pt = data.subarray(batch.esp[i]! + ESP_OFF_PAYLOAD, batch.esp[i]! + ESP_OFF_PAYLOAD + plains[i]!.length);
          assert.equal(toHex(pt), toHex(plains[i]!), `packet ${i} decrypted`);
        }
      }
      for (const ctx of [...ctxs, ...refs]) ctx.destroy();
    });

    test('create validates suite, key and salt with stable codes', () => {
      const key16 = new Uint8Array(16);
      const salt = new Uint8Array(4);
      const code = (f: () => unknown): string => {
        try {
          f();
        } catch (err) {
          assert.ok(err instanceof IroError);
          return err.code;
        }
        return 'no error';
      };
      assert.equal(code(() => backend.create('aes512gcm16' as SuiteName, key16, salt, false)), 'ERR_BAD_SUITE');
      assert.equal(code(() => backend.create('aes256gcm16', key16, salt, false)), 'ERR_BAD_KEY');
      assert.equal(code(() => backend.create('chacha20poly1305', key16, salt, false)), 'ERR_BAD_KEY');
      assert.equal(code(() => backend.create('aes128gcm16', key16, new Uint8Array(3), false)), 'ERR_BAD_KEY');
      const ctx = backend.create('aes128gcm16', key16, salt, true);
      assert.equal(ctx.suite, 'aes128gcm16');
      assert.equal(ctx.backend, backend.name);
      assert.equal(ctx.esn, true);
      ctx.destroy();
    });

    test('open of a ciphertext length beyond the buffer returns false, never throws', () => {
      const ctx = backend.create('aes128gcm16', new Uint8Array(16), new Uint8Array(4), false);
      const buf = new Uint8Array(64);
      assert.equal(ctx.open(buf, 0, espCiphertextLength(buf.length) + 40, 0), false);
      ctx.destroy();
    });
  });
}
