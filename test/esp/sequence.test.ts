/** The send counter (src/esp/sequence.ts): RFC 4303 §3.3.3 start, increment and exhaustion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEQ_MAX_32, SEQ_MAX_64, SequenceCounter } from '../../src/esp/sequence.js';
import { IroError } from '../../src/util/errors.js';

test('a new counter hands out 1, 2, 3 (increment before use)', () => {
  const c = new SequenceCounter(false);
  assert.equal(c.value, 0n);
  for (let i = 1; i <= 3; i++) {
    assert.equal(c.next(), true);
    assert.equal(c.hi, 0);
    assert.equal(c.lo, i);
  }
  assert.equal(c.value, 3n);
  assert.equal(c.nextOrThrow(), 4n);
});

test('without ESN the counter stops at 2^32 - 1 and never cycles', () => {
  const c = new SequenceCounter(false, SEQ_MAX_32 - 1n);
  assert.equal(c.remaining, 1n);
  assert.equal(c.next(), true);
  assert.equal(c.lo, 0xffffffff);
  assert.equal(c.next(), false);
  assert.equal(c.hi, 0);
  assert.equal(c.lo, 0xffffffff, 'unchanged when exhausted');
  assert.equal(c.remaining, 0n);
  assert.equal(c.usedRatio, 1);
  assert.throws(() => c.nextOrThrow(), (err: unknown) => err instanceof IroError && err.code === 'ERR_SEQ_EXHAUSTED');
});

test('with ESN the low half wraps into the high half, up to 2^64 - 1', () => {
  const c = new SequenceCounter(true, SEQ_MAX_32);
  assert.equal(c.next(), true);
  assert.equal(c.hi, 1);
  assert.equal(c.lo, 0, 'wire seq 0 is legal with ESN');
  c.value = SEQ_MAX_64 - 1n;
  assert.equal(c.next(), true);
  assert.equal(c.value, SEQ_MAX_64);
  assert.equal(c.next(), false);
  assert.equal(c.value, SEQ_MAX_64);
});

test('a persisted value is restored, and bad values are refused', () => {
  const c = new SequenceCounter(true, 0x1234567800000010n);
  assert.equal(c.next(), true);
  assert.equal(c.hi, 0x12345678);
  assert.equal(c.lo, 0x11);
  assert.equal(c.usedRatio, Number(0x1234567800000011n) / Number(SEQ_MAX_64));
  assert.throws(() => new SequenceCounter(false, SEQ_MAX_32 + 1n), RangeError);
  assert.throws(() => new SequenceCounter(true, -1n), RangeError);
  assert.throws(() => new SequenceCounter(true, 5 as unknown as bigint), TypeError);
});
