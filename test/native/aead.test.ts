/**
 * The addon's batch AEAD (aeadCreate / aeadSeal / aeadOpen / aeadFree) against every ESP
 * known-answer vector (../shared/vectors/esp-known-answers.json: RFC 7634 Appendix A and
 * draft-mcgrew-gcm-test-01), one-bit tamper tests, batch semantics (skips, mixed contexts,
 * unaligned offsets), argument errors, and loading in a worker thread.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { loadNative, loadNativeError, type NativeAddon, type NativeAeadContext } from '../../src/native/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { VECTORS_FILE } from '../helpers/paths.js';

interface Vector {
  name: string;
  suite: string;
  esn: boolean;
  key: string;
  salt: string;
  iv: string;
  spi: string;
  seq: string;
  plain: string;
  ct_tag: string;
  esp_pkt: string;
}

/** The vectors file names suites as the RFCs do; the addon takes strongSwan's keywords. */
const SUITE: Record<string, string> = {
  'chacha20-poly1305': 'chacha20poly1305',
  'aes-128-gcm-16': 'aes128gcm16',
  'aes-192-gcm-16': 'aes192gcm16',
  'aes-256-gcm-16': 'aes256gcm16',
};
const FAIL = 42;
const HDR_IV = 16;
const ICV = 16;

const vectors = (JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: Vector[] }).vectors;

function addon(): NativeAddon {
  const native = loadNative();
  assert.ok(native, `the addon must be built (node-gyp rebuild): ${String(loadNativeError())}`);
  return native;
}

/** The 64-bit sequence number of a vector as (high, low). */
function seqOf(v: Vector): { hi: number; lo: number } {
  const b = fromHex(v.seq.padStart(16, '0'));
  const dv = new DataView(b.buffer);
  return { hi: dv.getUint32(0), lo: dv.getUint32(4) };
}

/**
 * Lays every vector out in one buffer, each at an odd offset (nothing aligned), as the ESP
 * header the caller builds before sealing: SPI, seq low, IV, plaintext, room for the ICV.
 */
function layout(vs: readonly Vector[]) {
  const parts = vs.map((v) => fromHex(v.plain));
  const total = parts.reduce((n, p) => n + 3 + HDR_IV + p.length + ICV, 0);
  const data = new Uint8Array(total + 5);
  const esp = new Uint32Array(vs.length);
  const ptLen = new Uint32Array(vs.length);
  const seqHi = new Uint32Array(vs.length);
  let o = 0;
  vs.forEach((v, i) => {
    o += 3;
    const { hi, lo } = seqOf(v);
    esp[i] = o;
    ptLen[i] = parts[i]!.length;
    seqHi[i] = hi;
    data.set(fromHex(v.spi), o);
    new DataView(data.buffer).setUint32(o + 4, lo);
    data.set(fromHex(v.iv), o + 8);
    data.set(parts[i]!, o + HDR_IV);
    o += HDR_IV + parts[i]!.length + ICV;
  });
  return { data, esp, ptLen, seqHi };
}

function contexts(native: NativeAddon, vs: readonly Vector[]): NativeAeadContext[] {
  return vs.map((v) => native.aeadCreate(SUITE[v.suite]!, fromHex(v.key), fromHex(v.salt), v.esn));
}

function packetHex(data: Uint8Array, esp: number, ptLen: number): string {
  return toHex(data.subarray(esp, esp + HDR_IV + ptLen + ICV));
}

test('the vectors file covers every suite the addon offers', () => {
  assert.deepEqual(new Set(vectors.map((v) => SUITE[v.suite])), new Set(Object.values(SUITE)));
  assert.ok(vectors.some((v) => v.esn) && vectors.some((v) => !v.esn));
});

test('aeadSeal reproduces every known-answer ESP packet in one batch call', () => {
  const native = addon();
  const ctxs = contexts(native, vectors);
  const { data, esp, ptLen, seqHi } = layout(vectors);
  const status = new Uint8Array(vectors.length);
  native.aeadSeal(ctxs, Int32Array.from(vectors.keys()), data, esp, ptLen, seqHi, status, vectors.length);
  vectors.forEach((v, i) => {
    assert.equal(packetHex(data, esp[i]!, ptLen[i]!), v.esp_pkt, v.name);
    assert.equal(status[i], 0, v.name);
  });
  ctxs.forEach((c) => native.aeadFree(c));
});

test('aeadOpen decrypts every known-answer packet in place and counts them', () => {
  const native = addon();
  const ctxs = contexts(native, vectors);
  const { data, esp, ptLen, seqHi } = layout(vectors);
  vectors.forEach((v, i) => data.set(fromHex(v.esp_pkt), esp[i]!));
  const status = new Uint8Array(vectors.length);
  const ok = native.aeadOpen(ctxs, Int32Array.from(vectors.keys()), data, esp, ptLen, seqHi, status, vectors.length, FAIL);
  assert.equal(ok, vectors.length);
  vectors.forEach((v, i) => {
    assert.equal(toHex(data.subarray(esp[i]! + HDR_IV, esp[i]! + HDR_IV + ptLen[i]!)), v.plain, v.name);
    assert.equal(status[i], 0, v.name);
  });
  ctxs.forEach((c) => native.aeadFree(c));
});

test('flipping any one bit of SPI, sequence number, IV, ciphertext or ICV fails the tag', () => {
  const native = addon();
  for (const v of vectors) {
    const [ctx] = contexts(native, [v]);
    const pkt = fromHex(v.esp_pkt);
    // One bit in each field; the packet is re-laid each time.
    const positions = [0, 4, 8, 16, pkt.length - ICV - 1, pkt.length - 1];
    for (const pos of positions) {
      for (const bit of [0, 7]) {
        const { data, esp, ptLen, seqHi } = layout([v]);
        data.set(pkt, esp[0]!);
        data[esp[0]! + pos]! ^= 1 << bit;
        const status = new Uint8Array(1);
        const ok = native.aeadOpen([ctx!], Int32Array.of(0), data, esp, ptLen, seqHi, status, 1, FAIL);
        assert.equal(ok, 0, `${v.name}: byte ${pos} bit ${bit}`);
        assert.equal(status[0], FAIL, `${v.name}: byte ${pos} bit ${bit}`);
      }
    }
    native.aeadFree(ctx!);
  }
});

test('with ESN the high sequence bits are authenticated; without ESN they are ignored', () => {
  const native = addon();
  for (const v of vectors) {
    const [ctx] = contexts(native, [v]);
    const { data, esp, ptLen, seqHi } = layout([v]);
    data.set(fromHex(v.esp_pkt), esp[0]!);
    seqHi[0] = seqHi[0]! ^ 1;
    const status = new Uint8Array(1);
    const ok = native.aeadOpen([ctx!], Int32Array.of(0), data, esp, ptLen, seqHi, status, 1, FAIL);
    assert.equal(ok, v.esn ? 0 : 1, v.name);
    native.aeadFree(ctx!);
  }
});

test('packets with a status or a negative context index are left untouched', () => {
  const native = addon();
  const vs = vectors.slice(0, 4);
  const ctxs = contexts(native, vs);
  const { data, esp, ptLen, seqHi } = layout(vs);
  const before = data.slice();
  const status = Uint8Array.of(0, 7, 0, 0);
  const ctxIndex = Int32Array.of(0, 1, -1, 3);
  native.aeadSeal(ctxs, ctxIndex, data, esp, ptLen, seqHi, status, vs.length);
  assert.equal(packetHex(data, esp[0]!, ptLen[0]!), vs[0]!.esp_pkt);
  assert.equal(packetHex(data, esp[1]!, ptLen[1]!), packetHex(before, esp[1]!, ptLen[1]!));
  assert.equal(packetHex(data, esp[2]!, ptLen[2]!), packetHex(before, esp[2]!, ptLen[2]!));
  assert.equal(packetHex(data, esp[3]!, ptLen[3]!), vs[3]!.esp_pkt);
  assert.deepEqual(Array.from(status), [0, 7, 0, 0]);
  ctxs.forEach((c) => native.aeadFree(c));
});

test('one context seals many packets: only the IV and sequence number change per packet', () => {
  const native = addon();
  const v = vectors.find((x) => x.suite === 'aes-128-gcm-16' && !x.esn)!;
  const ctx = native.aeadCreate('aes128gcm16', fromHex(v.key), fromHex(v.salt), false);
  const n = 64;
  const { data, esp, ptLen, seqHi } = layout(Array.from({ length: n }, () => v));
  const status = new Uint8Array(n);
  native.aeadSeal([ctx], new Int32Array(n), data, esp, ptLen, seqHi, status, n);
  for (let i = 0; i < n; i++) assert.equal(packetHex(data, esp[i]!, ptLen[i]!), v.esp_pkt, `packet ${i}`);
  assert.equal(native.aeadOpen([ctx], new Int32Array(n), data, esp, ptLen, seqHi, status, n, FAIL), n);
  native.aeadFree(ctx);
});

test('argument errors throw with stable codes before any packet is touched', () => {
  const native = addon();
  const v = vectors[0]!;
  const key = fromHex(v.key);
  const salt = fromHex(v.salt);
  assert.throws(() => native.aeadCreate('aes-gcm', key, salt, false), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => native.aeadCreate('chacha20poly1305', key.subarray(1), salt, false), {
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.throws(() => native.aeadCreate('chacha20poly1305', key, salt.subarray(1), false), {
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.throws(() => native.aeadCreate('chacha20poly1305', 'key' as unknown as Uint8Array, salt, false), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
  });

  const ctx = native.aeadCreate(SUITE[v.suite]!, key, salt, v.esn);
  const { data, esp, ptLen, seqHi } = layout([v, v]);
  const before = data.slice();
  const status = new Uint8Array(2);
  // The second packet runs past the end of data: nothing may be sealed, not even the first.
  const longLen = Uint32Array.of(ptLen[0]!, data.length);
  assert.throws(() => native.aeadSeal([ctx], Int32Array.of(0, 0), data, esp, longLen, seqHi, status, 2), {
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.deepEqual(data, before);
  assert.throws(() => native.aeadSeal([ctx], Int32Array.of(0, 1), data, esp, ptLen, seqHi, status, 2), {
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.throws(
    () => native.aeadSeal([{} as NativeAeadContext], Int32Array.of(0), data, esp, ptLen, seqHi, status, 1),
    { code: 'ERR_INVALID_ARG_TYPE' },
  );
  native.aeadFree(ctx);
  native.aeadFree(ctx);
  assert.throws(() => native.aeadSeal([ctx], Int32Array.of(0), data, esp, ptLen, seqHi, status, 1), {
    code: 'ERR_INVALID_STATE',
  });
  assert.deepEqual(data, before);
});

test('the addon loads in a worker thread and seals there (context-aware)', async () => {
  addon();
  const v = vectors[0]!;
  const nativeUrl = new URL('../../src/native/index.js', import.meta.url).href;
  const src = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    import(w.nativeUrl).then(({ loadNative }) => {
      const native = loadNative();
      const ctx = native.aeadCreate(w.suite, Buffer.from(w.key, 'hex'), Buffer.from(w.salt, 'hex'), w.esn);
      const pt = Buffer.from(w.plain, 'hex');
      const data = new Uint8Array(16 + pt.length + 16);
      data.set(Buffer.from(w.spi, 'hex'), 0);
      data.set(Buffer.from(w.seq, 'hex'), 4);
      data.set(Buffer.from(w.iv, 'hex'), 8);
      data.set(pt, 16);
      native.aeadSeal([ctx], Int32Array.of(0), data, Uint32Array.of(0), Uint32Array.of(pt.length),
        Uint32Array.of(0), new Uint8Array(1), 1);
      native.aeadFree(ctx);
      parentPort.postMessage(Buffer.from(data).toString('hex'));
    });`;
  const worker = new Worker(src, {
    eval: true,
    workerData: { ...v, nativeUrl, suite: SUITE[v.suite] },
  });
  const sealed = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(v.esn, false);
  assert.equal(sealed, v.esp_pkt);
});
