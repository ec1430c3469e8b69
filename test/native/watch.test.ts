/**
 * The addon's event-loop integration (watch / rewatch / unwatch / close) and its errno-named
 * errors, on UDP sockets bound to the loopback address (no network is involved).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import {
  loadNative,
  loadNativeError,
  WATCH_READABLE,
  WATCH_WRITABLE,
  type NativeAddon,
} from '../../src/native/index.js';
import { PacketBatch } from '../../src/packet/batch.js';

const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
const ERROR_STATUS = 9;

function addon(): NativeAddon {
  const native = loadNative();
  assert.ok(native, `the addon must be built (node-gyp rebuild): ${String(loadNativeError())}`);
  return native;
}

/** Two loopback UDP sockets; `send` puts one datagram from b to a. */
function socketPair(native: NativeAddon) {
  const a = native.udpOpen(4, '127.0.0.1', 0, 0, 0, false);
  const b = native.udpOpen(4, '127.0.0.1', 0, 0, 0, false);
  const batch = new PacketBatch({ capacity: 4, slotSize: 256, headroom: 0 });
  const send = (payload: Uint8Array): number => {
    batch.reset();
    batch.push(payload);
    batch.setAddress(0, LOOPBACK, a.port);
    const { data, offset, length, status, addr, port, family, localAddr } = batch;
    return native.udpSend(b.fd, data, offset, length, status, 0, 1, addr, port, family, localAddr, ERROR_STATUS, false);
  };
  const recv = (): number => {
    const { data, offset, length, slotSize, headroom, capacity, addr, port, family, localAddr } = batch;
    return native.udpRecv(a.fd, data, offset, length, slotSize, headroom, capacity, addr, port, family, localAddr, null);
  };
  const close = (): void => {
    native.close(a.fd);
    native.close(b.fd);
  };
  return { a, b, batch, send, recv, close };
}

function nextEvents(calls: number[], count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (calls.length >= count) resolve();
      else setImmediate(check);
    };
    check();
  });
}

test('watch reports readability, level-triggered, until unwatch', async () => {
  const native = addon();
  const p = socketPair(native);
  const calls: number[] = [];
  const w = native.watch(p.a.fd, WATCH_READABLE, (ev) => calls.push(ev));
  try {
    assert.equal(p.send(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), 1);
    // Not read: a level-triggered watch keeps reporting it.
    await nextEvents(calls, 2);
    assert.deepEqual(calls.slice(0, 2), [WATCH_READABLE, WATCH_READABLE]);
    assert.equal(p.recv(), 1);
    assert.deepEqual(Array.from(p.batch.packet(0)), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(p.batch.family[0], 4);
    assert.equal(p.batch.port[0], p.b.port);
    assert.deepEqual(p.batch.addressOf(0), LOOPBACK);
    assert.equal(p.recv(), 0);
  } finally {
    native.unwatch(w);
    p.close();
  }
});

test('rewatch switches to writability and pauses; unwatch is idempotent and final', async () => {
  const native = addon();
  const p = socketPair(native);
  const calls: number[] = [];
  const w = native.watch(p.a.fd, 0, (ev) => calls.push(ev));
  try {
    native.rewatch(w, WATCH_WRITABLE);
    await nextEvents(calls, 1);
    assert.equal(calls[0], WATCH_WRITABLE);
    native.rewatch(w, 0);
    calls.length = 0;
    native.rewatch(w, WATCH_READABLE | WATCH_WRITABLE);
    await nextEvents(calls, 1);
    assert.equal(calls[0], WATCH_WRITABLE);
  } finally {
    native.unwatch(w);
    native.unwatch(w);
    p.close();
  }
  assert.throws(() => native.rewatch(w, WATCH_READABLE), { code: 'ERR_INVALID_STATE' });
});

test('one watch per descriptor: a second one throws EEXIST', () => {
  const native = addon();
  const p = socketPair(native);
  const w = native.watch(p.a.fd, WATCH_READABLE, () => undefined);
  try {
    assert.throws(() => native.watch(p.a.fd, WATCH_WRITABLE, () => undefined), {
      code: 'EEXIST',
      syscall: 'uv_poll_init',
    });
  } finally {
    native.unwatch(w);
    p.close();
  }
});

test('system call failures throw errno-named errors with the syscall', () => {
  const native = addon();
  const p = socketPair(native);
  p.close();
  assert.throws(() => native.close(p.a.fd), { code: 'EBADF', syscall: 'close' });
  assert.throws(() => p.recv(), { code: 'EBADF', syscall: 'recvmmsg' });
  assert.throws(() => native.udpOpen(4, '192.0.2.300', 0, 0, 0, false), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => native.udpOpen(5 as 4, '', 0, 0, 0, false), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => native.tunOpen('x'.repeat(16), false, false), { code: 'ERR_OUT_OF_RANGE' });
});

test('a UDP port in use cannot be bound twice (no SO_REUSEADDR)', () => {
  const native = addon();
  const a = native.udpOpen(4, '127.0.0.1', 0, 0, 0, false);
  try {
    assert.throws(() => native.udpOpen(4, '127.0.0.1', a.port, 0, 0, false), { code: 'EADDRINUSE', syscall: 'bind' });
  } finally {
    native.close(a.fd);
  }
});

test('a worker that exits with a watch still open is cleaned up', async () => {
  addon();
  const nativeUrl = new URL('../../src/native/index.js', import.meta.url).href;
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.nativeUrl).then(({ loadNative }) => {
      const native = loadNative();
      const s = native.udpOpen(4, '127.0.0.1', 0, 0, 0, false);
      native.watch(s.fd, 1, () => undefined);
      parentPort.postMessage(s.fd);
    });`;
  const worker = new Worker(src, { eval: true, workerData: { nativeUrl } });
  const fd = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  assert.ok(fd > 2);
  // terminate() runs the environment's cleanup hooks, which close the open watch.
  assert.equal(await worker.terminate(), 1);
  addon().close(fd);
});

test('an exception thrown by a watch callback is an uncaught exception; microtasks still run', () => {
  addon();
  const nativeUrl = new URL('../../src/native/index.js', import.meta.url).href;
  const src = `
    const { loadNative } = await import(${JSON.stringify(nativeUrl)});
    const native = loadNative();
    const s = native.udpOpen(4, '127.0.0.1', 0, 0, 0, false);
    const w = native.watch(s.fd, 2, () => {
      Promise.resolve().then(() => console.log('microtask'));
      throw new Error('from the callback');
    });
    process.on('uncaughtException', (err) => {
      console.log('uncaught: ' + err.message);
      native.unwatch(w);
      native.close(s.fd);
    });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['uncaught: from the callback', 'microtask']);
});
