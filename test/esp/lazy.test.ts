import test from 'node:test';
import assert from 'node:assert/strict';
import { LazyAeadContext } from '../../src/esp/lazy.js';
import { nodeBackend } from '../../src/esp/backend-node.js';
import { espSeal, espOpen, newEspInbound } from '../../src/esp/sa-crypto.js';

test('a lazy context schedules its key at first use, seals and opens like an eager one, and wipes what it was given', () => {
  const given: Uint8Array[] = [];
  let asked = 0;
  const source = (): { key: Uint8Array; salt: Uint8Array } => {
    asked++;
    const m = { key: new Uint8Array(16).fill(7), salt: Uint8Array.of(1, 2, 3, 4) };
    given.push(m.key, m.salt);
    return m;
  };
  const lazy = new LazyAeadContext(nodeBackend, 'aes128gcm16', false, source);
  assert.equal(lazy.materialized, false);
  assert.equal(asked, 0);
  const eager = nodeBackend.create('aes128gcm16', new Uint8Array(16).fill(7), Uint8Array.of(1, 2, 3, 4), false);
  const a = new Uint8Array(256);
  const b = new Uint8Array(256);
  a.fill(0x5a, 16, 116);
  b.fill(0x5a, 16, 116);
  const n = espSeal(lazy, 0x1234, a, 16, 100, 4, 0, 1);
  espSeal(eager, 0x1234, b, 16, 100, 4, 0, 1);
  assert.deepEqual(a, b, 'same bytes as an eager context');
  assert.equal(lazy.materialized, true);
  assert.equal(asked, 1);
  for (const g of given) assert.ok(g.every((x) => x === 0), 'key material handed over is wiped');
  const tampered = a.slice();
  tampered[n - 1]! ^= 1;
  assert.equal(espOpen(lazy, null, a, 0, n, newEspInbound()), true);
  assert.ok(a.subarray(16, 116).every((x) => x === 0x5a), 'opened back to the payload');
  assert.equal(espOpen(lazy, null, tampered, 0, n, newEspInbound()), false);
  lazy.destroy();
  assert.equal(lazy.materialized, false);
});

test('a lazy context whose key is gone refuses to open and throws on seal', () => {
  const lazy = new LazyAeadContext(nodeBackend, 'aes128gcm16', false, () => null);
  assert.equal(lazy.open(new Uint8Array(64), 0, 32, 0), false);
  assert.throws(() => lazy.seal(new Uint8Array(64), 0, 16, 0), (e: unknown) => (e as { code?: string }).code === 'ERR_STATE');
});
