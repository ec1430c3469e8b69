/**
 * The transfer tool: the seeded stream is deterministic and seed-dependent, a receiver that gets
 * nothing gives up in time, transfers over a plain veth arrive byte-identical in IPv4 and IPv6,
 * and the HTTP helper works inside a namespace. Needs root.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, httpGetIn, payloadChunks, payloadDigest, receiveOnce, startTransfer, transfer } from '../../src/lab/index.js';

test('the payload stream is deterministic, seed-dependent and exactly N bytes', () => {
  const a = payloadDigest('seed-1', 200_000);
  assert.deepEqual(payloadDigest('seed-1', 200_000), a);
  assert.notEqual(payloadDigest('seed-2', 200_000).sha256, a.sha256);
  let n = 0;
  const h = createHash('sha256');
  for (const c of payloadChunks('seed-1', 200_000)) {
    n += c.length;
    h.update(c);
  }
  assert.equal(n, 200_000);
  assert.equal(h.digest('hex'), a.sha256);
  // Not a constant fill: the keystream has (nearly) all byte values.
  const first = payloadChunks('seed-1', 4096).next().value!;
  assert.ok(new Set(first).size > 200);
  assert.throws(() => payloadChunks('x', -1).next(), RangeError);
});

test('a receiver that gets no connection gives up after its timeout', async () => {
  await assert.rejects(receiveOnce({ host: '127.0.0.1', port: 0, timeoutMs: 300 }), { code: 'ERR_IO', message: /timed out after 300 ms with 0 bytes/ });
});

test('transfers over a plain veth arrive byte-identical (IPv4 and IPv6)', async () => {
  const lab = new Lab();
  try {
    const a = lab.netns('a');
    const b = lab.netns('b');
    lab.link(a, b, { nameA: 'e0', nameB: 'e0' });
    a.addAddress('e0', '192.0.2.1/24');
    b.addAddress('e0', '192.0.2.2/24');
    a.addAddress('e0', '2001:db8::1/64');
    b.addAddress('e0', '2001:db8::2/64');
    for (const [dst, src] of [['192.0.2.2', '192.0.2.1'], ['2001:db8::2', '2001:db8::1']] as const) {
      const out = await transfer({ from: a, to: b, address: dst, sourceAddress: src, bytes: 5_000_000, seed: 'veth', timeoutMs: 30_000 });
      assert.equal(out.received.bytes, 5_000_000);
      assert.equal(out.sent.sha256, out.expected.sha256);
      assert.equal(out.received.sha256, out.expected.sha256);
      assert.equal(out.received.remoteAddress, src);
    }
    // Progress is visible while a transfer runs, and abort() ends both sides.
    const t = await startTransfer({ from: a, to: b, address: '192.0.2.2', bytes: 4_000_000, timeoutMs: 30_000 });
    assert.ok((await t.waitForBytes(2_000_000, 20_000)) >= 2_000_000);
    const out = await t.result();
    assert.equal(out.received.sha256, out.expected.sha256);
    // abort() ends both sides by PID; the outcome then reports the failure.
    const lone = await startTransfer({ from: a, to: b, address: '192.0.2.2', bytes: 1000, timeoutMs: 5_000 });
    await lone.abort();
    await assert.rejects(lone.result(), { code: 'ERR_IO' });
  } finally {
    assert.deepEqual(await lab.teardown(), []);
  }
});

test('httpGetIn reaches a server on a namespace loopback', async () => {
  const lab = new Lab();
  try {
    const ns = lab.netns('web');
    const dir = lab.tempDir('web');
    writeFileSync(join(dir, 'healthz'), 'ok\n');
    const server = ns.spawn('/usr/bin/python3', ['-u', '-m', 'http.server', '9469', '--bind', '127.0.0.1', '--directory', dir], { label: 'http.server' });
    await server.waitForLine((l) => l.includes('Serving HTTP'), 10_000);
    const ok = await httpGetIn(ns, 'http://127.0.0.1:9469/healthz');
    assert.deepEqual(ok, { status: 200, body: 'ok\n' });
    assert.equal((await httpGetIn(ns, 'http://127.0.0.1:9469/missing')).status, 404);
    // The host's own loopback is another namespace: nothing listens there on 9469 from this test.
    await assert.rejects(httpGetIn(lab.netns('empty'), 'http://127.0.0.1:9469/healthz', 2000), { code: 'ERR_IO', message: /ECONNREFUSED/ });
  } finally {
    assert.deepEqual(await lab.teardown(), []);
  }
});
