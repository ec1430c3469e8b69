import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { KeyTable } from '../../src/pool/keytable.js';

test('a key set in a slot reads back with a new generation; clear empties it', () => {
  const t = new KeyTable(4);
  assert.equal(t.read(2), null);
  const g0 = t.generation(2);
  t.set(2, 'aes256gcm16', new Uint8Array(32).fill(9), Uint8Array.of(1, 2, 3, 4), true);
  const e = t.read(2);
  assert.ok(e);
  assert.equal(e.suite, 'aes256gcm16');
  assert.equal(e.esn, true);
  assert.deepEqual([...e.key], new Array(32).fill(9));
  assert.deepEqual([...e.salt], [1, 2, 3, 4]);
  assert.ok(e.generation > g0 && e.generation % 2 === 0);
  t.clear(2);
  assert.equal(t.read(2), null);
  assert.ok(t.generation(2) > e.generation);
  assert.equal(t.read(1), null, 'other slots untouched');
});

test('slot and key sizes are validated', () => {
  const t = new KeyTable(2);
  assert.throws(() => t.set(2, 'aes128gcm16', new Uint8Array(16), new Uint8Array(4), false), RangeError);
  assert.throws(() => t.set(0, 'aes128gcm16', new Uint8Array(33), new Uint8Array(4), false), RangeError);
  assert.throws(() => t.set(0, 'aes128gcm16', new Uint8Array(16), new Uint8Array(3), false), RangeError);
  assert.throws(() => new KeyTable(0), RangeError);
});

test('a worker thread sees the keys the main thread installs, through the shared buffer', async () => {
  const t = new KeyTable(3);
  t.set(1, 'chacha20poly1305', new Uint8Array(32).fill(5), Uint8Array.of(9, 9, 9, 9), false);
  const url = new URL('../../src/pool/keytable.js', import.meta.url).href;
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ KeyTable }) => {
      const t = new KeyTable(workerData);
      const e = t.read(1);
      parentPort.postMessage({ suite: e.suite, key0: e.key[0], salt0: e.salt[0], empty: t.read(0) === null });
    });`;
  const w = new Worker(src, { eval: true, workerData: t.buffer });
  const msg = await new Promise<{ suite: string; key0: number; salt0: number; empty: boolean }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.deepEqual(msg, { suite: 'chacha20poly1305', key0: 5, salt0: 9, empty: true });
});
