/**
 * The three roles together in the in-memory lab (lab.ts): roaming A -> B -> A, quick moves, IPv4
 * behind a NAT, losses, attacks on the signalling, return home - and "safe by default" checked
 * over every action: no CN-facing locator ever names a CoA that was not verified.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { locator, locatorEquals, type Locator } from '../../src/iro/locator.js';
import { decodeCoTestBody } from '../../src/iro/cotest.js';
import { Lab } from './lab.js';
import { ATTACKER, COA_A, COA_B, COA_PRIVATE, COA_V4, HA_V6, HOA, NAT_PUBLIC } from './helpers.js';

/**
 * Safe by default (PROTOCOL.md A.7, F.17), over the whole run:
 * - the CN sets a non-identity remote locator only while handling a CoA test reply, and only to
 *   a CoA its test request actually reached before;
 * - the CN sends to a CoA by override only for CoA test requests;
 * - the MN points its CN SAs at a CoA only while handling the CN's BA 0 for that CoA.
 */
function assertSafeByDefault(lab: Lab): void {
  const testsReached = lab.wireLog.filter(
    (p) => p.from === 'cn' && p.delivered && p.message.kind === 'experimental' && decodeCoTestBody(p.message.body)?.subtype === 1,
  );
  for (const l of lab.actions('cn', 'set-locators')) {
    const remote = l.action.remote;
    if (remote === null || remote === undefined) continue;
    assert.equal(l.cause, 'experimental', 'CN moved a locator outside a CoA test reply');
    assert.ok(
      testsReached.some((p) => p.at <= l.at && locatorEquals(p.dst, remote)),
      'CN moved its locator to a CoA no test had reached',
    );
  }
  for (const l of lab.actions('cn', 'send-mh')) {
    if (l.action.to !== undefined) assert.equal(l.action.message.kind, 'experimental', 'CN sent something other than a test to an override');
  }
  for (const l of lab.actions('mn', 'set-locators')) {
    if (l.action.peer !== 'cn' || l.action.local === null || l.action.local === undefined) continue;
    assert.equal(l.cause, 'binding-ack', 'MN moved its CN SA outside a CN BA');
  }
}

function assertRoamedTo(lab: Lab, coa: Locator): void {
  assert.deepEqual(lab.ha.binding('mn')?.coa, coa, 'home agent binding');
  assert.deepEqual(lab.locators('ha', 'mn', 'payload').remote, coa, 'HA tunnel destination');
  const home = lab.mn.bindingUpdateList().find((e) => e.home)!;
  assert.equal(home.state, 'registered');
  assert.deepEqual(home.registeredCoa, coa);
  assert.deepEqual(lab.locators('mn', 'home').local, coa);
}

function assertRouteOptimized(lab: Lab, coa: Locator): void {
  const b = lab.cn.binding('mn')!;
  assert.equal(b.verified, true);
  assert.deepEqual(b.coa, coa);
  assert.deepEqual(lab.locators('cn', 'mn', 'payload').remote, coa);
  assert.deepEqual(lab.locators('mn', 'cn', 'payload').local, coa);
}

test('roaming A -> B -> A with route optimization: every step ends registered and verified', () => {
  const lab = new Lab();
  lab.move(COA_A);
  lab.run(1000);
  assertRoamedTo(lab, COA_A);
  assertRouteOptimized(lab, COA_A);
  lab.move(COA_B);
  lab.run(2000);
  assertRoamedTo(lab, COA_B);
  assertRouteOptimized(lab, COA_B);
  lab.move(COA_A);
  lab.run(3000);
  assertRoamedTo(lab, COA_A);
  assertRouteOptimized(lab, COA_A);
  // HoA never changes; only locators move; the handovers were counted.
  assert.equal(lab.actions('mn', 'handover').length, 2);
  // Sequence numbers seen by the home agent only ever grow.
  const seqs = lab.wireLog.filter((p) => p.to === 'ha' && p.message.kind === 'binding-update').map((p) => (p.message as { seq: number }).seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assertSafeByDefault(lab);
});

test('moves faster than the round trip (A -> B -> A within 10 ms) converge on A', () => {
  const lab = new Lab({ latencyMs: 20 });
  lab.move(COA_A);
  lab.run(5);
  lab.move(COA_B);
  lab.run(10);
  lab.move(COA_A);
  lab.run(5000);
  assertRoamedTo(lab, COA_A);
  assertRouteOptimized(lab, COA_A);
  assertSafeByDefault(lab);
});

test('lost BAs: the MN retransmits with new sequence numbers until one is acknowledged', () => {
  const lab = new Lab();
  let dropped = 0;
  lab.dropIf = (p) => p.from === 'ha' && p.message.kind === 'binding-ack' && dropped++ < 2;
  lab.move(COA_A);
  lab.run(10_000);
  assertRoamedTo(lab, COA_A);
  const bus = lab.wireLog.filter((p) => p.to === 'ha' && p.message.kind === 'binding-update');
  assert.deepEqual(
    bus.map((p) => p.at),
    [0, 1500, 4500],
  );
  assert.equal(lab.ha.binding('mn')!.sequence, 3);
});

test('CoA tests that never reach the MN: the CN binding stays unverified and all traffic stays on the home path', () => {
  const lab = new Lab();
  lab.dropIf = (p) => p.from === 'cn' && p.message.kind === 'experimental';
  lab.move(COA_A);
  lab.run(120_000);
  assertRoamedTo(lab, COA_A);
  assert.equal(lab.cn.binding('mn')!.verified, false);
  assert.equal(lab.locators('cn', 'mn', 'payload').remote, null);
  assert.equal(lab.locators('mn', 'cn', 'payload').local, null);
  // The CN sent tests to the claimed CoA only; anything else went to the home address.
  const fromCn = lab.wireLog.filter((x) => x.from === 'cn');
  assert.ok(fromCn.length > 10);
  for (const p of fromCn) {
    if (p.message.kind === 'experimental') assert.ok(locatorEquals(p.dst, COA_A), 'CoA test to another address');
    else assert.ok(locatorEquals(p.dst, locator(HOA)), 'CN sent to a CoA');
  }
  assertSafeByDefault(lab);
});

test('IPv4 CoA behind a NAT with NAT traversal allowed: the HA binds the translated locator, the MN keeps it alive', () => {
  const lab = new Lab({ haPeer: { nat: 'allow' } });
  lab.nat = { inside: COA_PRIVATE, outside: NAT_PUBLIC };
  lab.move(COA_PRIVATE);
  lab.run(1000);
  assert.deepEqual(lab.ha.binding('mn')!.coa, NAT_PUBLIC);
  assert.equal(lab.ha.binding('mn')!.natDetected, true);
  assert.deepEqual(lab.locators('ha', 'mn', 'payload').remote, NAT_PUBLIC);
  assert.deepEqual(
    lab.actions('mn', 'keepalive').map((l) => l.action.intervalMs),
    [20_000],
  );
  // No route optimization over an IPv4 CoA: the CN never saw a BU.
  assert.equal(lab.cn.bindingCount, 0);
  assert.equal(lab.locators('mn', 'cn', 'payload').local, null);
  // Moving to a plain IPv6 network stops the keepalives and registers without NAT.
  lab.move(COA_A);
  lab.run(2000);
  assertRoamedTo(lab, COA_A);
  assert.equal(lab.actions('mn', 'keepalive').at(-1)!.action.intervalMs, 0);
  assertSafeByDefault(lab);
});

test('IPv4 CoA behind a NAT without NAT traversal: refused (BA 129 reaches the MN), nothing bound', () => {
  const lab = new Lab();
  lab.nat = { inside: COA_PRIVATE, outside: NAT_PUBLIC };
  lab.move(COA_PRIVATE);
  lab.run(3000);
  assert.equal(lab.ha.bindingCount, 0);
  const refused = lab.actions('mn', 'count').filter((l) => l.action.metric === 'bu-refused');
  assert.ok(refused.length >= 1);
  assert.equal(refused[0]!.action.reason, 'prohibited');
  // Without NAT in the way, the same IPv4 registration works.
  lab.nat = null;
  lab.move(COA_V4);
  lab.run(10_000);
  assertRoamedTo(lab, COA_V4);
});

test('attacks on the signalling move nothing: rewritten outer source, replayed old BU', () => {
  const lab = new Lab();
  lab.move(COA_A);
  lab.run(1000);
  assertRoamedTo(lab, COA_A);
  // An on-path attacker rewrites the outer source of the BU the MN sends after moving to B.
  lab.rewriteSrc = (p) => (p.from === 'mn' && p.message.kind === 'binding-update' ? ATTACKER : null);
  lab.move(COA_B);
  lab.run(1100);
  assert.deepEqual(lab.ha.binding('mn')!.coa, COA_A, 'the binding did not follow the forged source');
  assert.equal(lab.actions('ha', 'count').filter((l) => l.action.reason === 'address').length >= 1, true);
  // A replay of an old BU (valid ESP would stop a byte-exact replay; a re-encrypted stale one
  // arrives with an old sequence number) is answered with 135 and moves nothing.
  lab.rewriteSrc = () => null;
  lab.run(20_000);
  assertRoamedTo(lab, COA_B);
  const before = lab.ha.binding('mn')!;
  const stale = lab.ha.receiveMh(
    'mn',
    { kind: 'binding-update', mhType: 5, length: 32, seq: 1, flags: 0xc000, lifetime: 900, options: { altCoa: COA_A.addr } },
    { src: COA_A, dst: HA_V6, identitySrc: HOA },
    lab.now,
  );
  assert.equal(stale.filter((a) => a.kind === 'set-locators').length, 0);
  const ba = stale.find((a) => a.kind === 'send-mh');
  assert.ok(ba && ba.kind === 'send-mh' && ba.message.kind === 'binding-ack' && ba.message.status === 135);
  assert.deepEqual(lab.ha.binding('mn')!.coa, before.coa);
  assertSafeByDefault(lab);
});

test('back home: every binding is deregistered and every locator returns to the identity', () => {
  const lab = new Lab();
  lab.move(COA_A);
  lab.run(1000);
  assertRouteOptimized(lab, COA_A);
  lab.move('home');
  lab.run(2000);
  assert.equal(lab.ha.bindingCount, 0);
  assert.equal(lab.cn.bindingCount, 0);
  for (const [node, peer] of [
    ['mn', 'home'],
    ['mn', 'cn'],
    ['ha', 'mn'],
    ['cn', 'mn'],
  ] as const) {
    for (const sa of ['payload', 'signal'] as const) {
      const l = lab.locators(node, peer, sa);
      assert.equal(l.local, null, `${node}/${peer}/${sa} local`);
      assert.equal(l.remote, null, `${node}/${peer}/${sa} remote`);
    }
  }
  assert.ok(lab.mn.bindingUpdateList().every((e) => e.state === 'unregistered'));
  assertSafeByDefault(lab);
});

test('no network, then a new network: registration resumes from the new CoA', () => {
  const lab = new Lab();
  lab.move(COA_A);
  lab.run(1000);
  lab.move(null);
  lab.run(30_000);
  // The home agent still holds A (its lifetime runs); nothing was sent meanwhile.
  assert.equal(lab.wireLog.filter((p) => p.at > 1000 && p.at <= 30_000).length, 0);
  lab.move(COA_B);
  lab.run(31_000);
  assertRoamedTo(lab, COA_B);
  assertRouteOptimized(lab, COA_B);
  assertSafeByDefault(lab);
});
