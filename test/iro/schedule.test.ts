/** Retransmitter: RFC 6275 §11.8 doubling to 32 s and MAX_UPDATE_RATE; locator helpers. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Retransmitter } from '../../src/iro/schedule.js';
import { formatLocator, isUsableCareOf, locator, locatorEquals } from '../../src/iro/locator.js';
import { COA_A, COA_V4, ip } from './helpers.js';

test('timeouts double from the initial value and stop at 32 s', () => {
  const tx = new Retransmitter();
  tx.reset(1500);
  const waits: number[] = [];
  let now = 0;
  for (let i = 0; i < 8; i++) {
    assert.equal(tx.trySend(now), true);
    const d = tx.deadline()!;
    waits.push(d - now);
    assert.equal(tx.due(d - 1), null);
    assert.equal(tx.due(d), 'timeout');
    tx.backoff();
    now = d;
  }
  assert.deepEqual(waits, [1500, 3000, 6000, 12000, 24000, 32000, 32000, 32000]);
});

test('a fourth send within one second is deferred to when the oldest of the last three is 1 s old', () => {
  const tx = new Retransmitter();
  tx.reset(1000);
  assert.equal(tx.trySend(0), true);
  assert.equal(tx.trySend(400), true);
  assert.equal(tx.trySend(900), true);
  assert.equal(tx.trySend(950), false);
  assert.equal(tx.deadline(), 1000);
  assert.equal(tx.due(999), null);
  assert.equal(tx.due(1000), 'send');
  assert.equal(tx.trySend(1000), true);
  assert.equal(tx.trySend(1300), false);
  assert.equal(tx.deadline(), 1400);
  // The history is per destination: a new exchange does not reset it.
  tx.reset(1000);
  assert.equal(tx.trySend(1350), false);
  tx.stop();
  assert.equal(tx.deadline(), null);
});

test('hold waits the current timeout without sending', () => {
  const tx = new Retransmitter();
  tx.reset(2000);
  tx.trySend(0);
  tx.hold(500);
  assert.equal(tx.deadline(), 2500);
});

test('locators: equality includes the port; formatting; care-of address usability', () => {
  assert.ok(locatorEquals(COA_A, locator(ip('2001:db8:a::10'))));
  assert.ok(!locatorEquals(COA_V4, locator(COA_V4.addr, 4501)));
  assert.ok(locatorEquals(null, undefined));
  assert.ok(!locatorEquals(COA_A, null));
  assert.equal(formatLocator(COA_V4), '198.51.100.10:4500');
  assert.equal(formatLocator(locator(COA_A.addr, 4500)), '[2001:db8:a::10]:4500');
  assert.equal(formatLocator(COA_A), '2001:db8:a::10');
  assert.equal(formatLocator(null), 'identity');
  for (const bad of ['::', '::1', 'ff02::1', 'fe80::1', '0.1.2.3', '127.0.0.1', '224.0.0.1', '255.255.255.255']) {
    assert.equal(isUsableCareOf(ip(bad)), false, bad);
  }
  for (const good of ['2001:db8::1', '192.0.2.1', '203.0.113.9']) assert.equal(isUsableCareOf(ip(good)), true, good);
  const src = ip('192.0.2.1');
  const l = locator(src, 4500);
  src[0] = 10;
  assert.equal(l.addr[0], 192, 'locator() copies the address');
  assert.throws(() => locator(new Uint8Array(5)), { code: 'ERR_USAGE' });
  assert.throws(() => locator(src, 70000), { code: 'ERR_USAGE' });
});
