/** SA lifetimes (RFC 4301 §4.4.2.1): soft and hard limits in bytes, packets and seconds. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Lifetime, LifetimeState, Sad } from '../../src/sad/index.js';
import { inboundInit, outboundInit } from './fakes.js';

const T0 = Date.UTC(2025, 0, 1);

test('each unit reaches soft, then hard, at exactly its limit', () => {
  const units = [
    { unit: 'bytes', set: (n: number) => [0, n, 0] },
    { unit: 'packets', set: (n: number) => [n, 0, 0] },
    { unit: 'seconds', set: (n: number) => [0, 0, n * 1000] },
  ] as const;
  for (const { unit, set } of units) {
    const lt = new Lifetime({ soft: { [unit]: 100 }, hard: { [unit]: 150 } });
    const at = (n: number): number => {
      const [p, b, ms] = set(n);
      return lt.check(p!, b!, ms!);
    };
    assert.equal(at(0), LifetimeState.OK, unit);
    assert.equal(at(99), LifetimeState.OK, unit);
    assert.equal(at(100), LifetimeState.SOFT, unit);
    assert.equal(at(149), LifetimeState.SOFT, unit);
    assert.equal(at(150), LifetimeState.HARD, unit);
    assert.equal(at(10_000), LifetimeState.HARD, unit);
  }
});

test('the first limit reached of any unit decides; hard wins over soft', () => {
  const lt = new Lifetime({ soft: { bytes: 1000, seconds: 3600 }, hard: { packets: 10, seconds: 7200 } });
  assert.equal(lt.check(1, 999, 0), LifetimeState.OK);
  assert.equal(lt.check(1, 1000, 0), LifetimeState.SOFT);
  assert.equal(lt.check(1, 0, 3600_000), LifetimeState.SOFT);
  assert.equal(lt.check(10, 0, 0), LifetimeState.HARD);
  assert.equal(lt.check(10, 1000, 0), LifetimeState.HARD);
  assert.equal(lt.check(0, 0, 7200_000), LifetimeState.HARD);
});

test('no limits (left out or 0) never expire', () => {
  for (const lt of [new Lifetime(), new Lifetime({ soft: { bytes: 0 }, hard: { packets: 0, seconds: 0 } })]) {
    assert.equal(lt.check(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1e15), LifetimeState.OK);
  }
  assert.deepEqual(new Lifetime({ hard: { bytes: 5 } }).toJSON(), {
    soft: { bytes: null, packets: null, seconds: null },
    hard: { bytes: 5, packets: null, seconds: null },
  });
});

test('soft without hard and hard without soft', () => {
  assert.equal(new Lifetime({ soft: { packets: 5 } }).check(5, 0, 0), LifetimeState.SOFT);
  assert.equal(new Lifetime({ hard: { packets: 5 } }).check(4, 0, 0), LifetimeState.OK);
  assert.equal(new Lifetime({ hard: { packets: 5 } }).check(5, 0, 0), LifetimeState.HARD);
});

test('validation', () => {
  assert.throws(() => new Lifetime({ soft: { seconds: 20 }, hard: { seconds: 10 } }), RangeError);
  assert.throws(() => new Lifetime({ soft: { bytes: 1.5 } }), TypeError);
  assert.throws(() => new Lifetime({ hard: { packets: -5 } }), RangeError);
  assert.throws(() => new Lifetime({ hard: 5 as never }), TypeError);
  assert.doesNotThrow(() => new Lifetime({ soft: { seconds: 20 }, hard: { seconds: 0 } }));
  assert.doesNotThrow(() => new Lifetime({ soft: { seconds: 10 }, hard: { seconds: 10 } }));
});

test('an SA evaluates its lifetime from its counters and creation time', () => {
  const sad = new Sad();
  const inn = sad.install(inboundInit({ createdAt: T0, lifetime: { soft: { packets: 2, seconds: 60 }, hard: { bytes: 3000 } } }));
  assert.equal(inn.lifetimeState(T0), LifetimeState.OK);
  inn.packets = 2;
  assert.equal(inn.lifetimeState(T0 + 1000), LifetimeState.SOFT);
  assert.equal(inn.info(T0 + 1000).lifetimeState, 'soft');
  inn.bytes = 3000;
  assert.equal(inn.lifetimeState(T0 + 1000), LifetimeState.HARD);
  assert.equal(inn.info(T0 + 1000).lifetimeState, 'hard');

  const out = sad.install(outboundInit({ createdAt: T0, lifetime: { soft: { seconds: 60 }, hard: { seconds: 90 } } }));
  assert.equal(out.lifetimeState(T0 + 59_999), LifetimeState.OK);
  assert.equal(out.lifetimeState(T0 + 60_000), LifetimeState.SOFT);
  assert.equal(out.lifetimeState(T0 + 90_000), LifetimeState.HARD);
});
