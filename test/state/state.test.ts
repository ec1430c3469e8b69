import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SequenceReservation, StateStore, sequenceKey } from '../../src/state/index.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'iro-state-'));
}

test('a fresh SA starts at 1 and the reservation is durable before any use', () => {
  const dir = tempDir();
  try {
    const store = StateStore.open(join(dir, 'st'), 'mn0');
    const key = sequenceKey(0x1001, new Uint8Array(20).fill(7));
    const r = new SequenceReservation(store, key, 100n);
    assert.equal(r.resumeAfter, 0n);
    assert.equal(r.limit, 100n);
    const onDisk = JSON.parse(readFileSync(store.path, 'utf8')) as { sequences: Record<string, string> };
    assert.equal(onDisk.sequences[key], '100');
    assert.equal(statSync(store.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'st')).mode & 0o777, 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after a restart (crash at any point) the SA resumes beyond every number it could have sent', () => {
  const dir = tempDir();
  try {
    const key = sequenceKey(0x2002, new Uint8Array(20).fill(1));
    const first = new SequenceReservation(StateStore.open(dir, 'ha0'), key, 10n);
    first.ensure(10n);
    first.ensure(11n);
    assert.equal(first.limit, 20n);
    first.ensure(45n);
    assert.equal(first.limit, 50n);
    // The process dies here having possibly sent up to 50: nothing more is persisted.
    const second = new SequenceReservation(StateStore.open(dir, 'ha0'), key, 10n);
    assert.equal(second.resumeAfter, 50n);
    assert.equal(second.limit, 60n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new key gets a fresh nonce space; the same SPI with the old key resumes', () => {
  const dir = tempDir();
  try {
    const store = StateStore.open(dir, 'x');
    const oldKey = sequenceKey(0x3003, new Uint8Array(20).fill(2));
    const newKey = sequenceKey(0x3003, new Uint8Array(20).fill(3));
    assert.notEqual(oldKey, newKey);
    new SequenceReservation(store, oldKey, 5n);
    assert.equal(new SequenceReservation(store, newKey, 5n).resumeAfter, 0n);
    assert.equal(new SequenceReservation(store, oldKey, 5n).resumeAfter, 5n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the key fingerprint does not contain the key bytes', () => {
  const keymat = new Uint8Array(20).fill(0xab);
  const k = sequenceKey(0x100, keymat);
  assert.ok(!k.includes('abab'));
  assert.match(k, /^00000100:[0-9a-f]{16}$/);
});

test('a corrupt state file is refused, never reset', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'bad.state.json'), '{"version": 1, "sequences": ');
    assert.throws(() => StateStore.open(dir, 'bad'), (e: unknown) => (e as { code?: string }).code === 'ERR_STATE');
    writeFileSync(join(dir, 'old.state.json'), '{"version": 99}');
    assert.throws(() => StateStore.open(dir, 'old'), (e: unknown) => (e as { code?: string }).code === 'ERR_STATE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BU sequence numbers survive a restart', () => {
  const dir = tempDir();
  try {
    const a = StateStore.open(dir, 'mn0');
    assert.equal(a.buSequence('home'), undefined);
    a.setBuSequence('home', 65535);
    a.flush();
    assert.equal(StateStore.open(dir, 'mn0').buSequence('home'), 65535);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batch: many reservations, one durable write at the end, before anything can be sent', () => {
  const dir = tempDir();
  try {
    const store = StateStore.open(dir, 'gw0');
    const writes: number[] = [];
    const flush = store.flush.bind(store);
    store.flush = () => {
      writes.push(1);
      flush();
    };
    const keys = store.batch(() => {
      const ks = [0x100, 0x101, 0x102].map((spi) => sequenceKey(spi, new Uint8Array(20).fill(spi & 0xff)));
      for (const k of ks) new SequenceReservation(store, k, 10n);
      return ks;
    });
    assert.equal(writes.length, 4, 'each reservation asks; only the last call, at the end of the batch, writes');
    const onDisk = JSON.parse(readFileSync(store.path, 'utf8')) as { sequences: Record<string, string> };
    for (const k of keys) assert.equal(onDisk.sequences[k], '10');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
