/**
 * Correspondent: a BU creates an unverified binding and a CoA test to the claimed CoA only; the
 * matching reply inside the SA verifies it; wrong cookie, wrong sequence, late or orphan replies
 * change nothing (+ BE 1 for an orphan); retransmission and give-up follow RFC 6275 §11.8.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { BU_FLAG_A } from '../../src/packet/constants.js';
import { Correspondent, type CorrespondentOptions } from '../../src/iro/correspondent.js';
import { COTEST_SUBTYPE_REPLY, COTEST_SUBTYPE_REQUEST, coTestMessage, decodeCoTestBody, type CoTest } from '../../src/iro/cotest.js';
import { locator, type Locator } from '../../src/iro/locator.js';
import type { IroAction, MhToSend } from '../../src/iro/actions.js';
import {
  AH,
  ATTACKER,
  CN_ID,
  COA_A,
  COA_B,
  HOA,
  arrival,
  bu,
  countingRandom,
  ip,
  ofKind,
  sent,
  theBa,
  wire,
} from './helpers.js';

const CN_LOC = locator(CN_ID);

function cn(extra: Partial<CorrespondentOptions> = {}): Correspondent {
  return new Correspondent({ peers: [{ peer: 'mn', homeAddress: HOA }], random: countingRandom(), ...extra });
}

const rx = (src: Locator = COA_A, dst: Locator = CN_LOC) => arrival(src, dst, HOA);
const roBu = (seq: number, coa = COA_A, lifetime = 105) => bu(seq, BU_FLAG_A, lifetime, { altCoa: coa.addr });

/** The CoA test request among `actions`, with where it goes. */
function theTest(actions: IroAction[]): { to: Locator | undefined; test: CoTest } {
  const sends = ofKind(actions, 'send-mh').filter((s) => s.message.kind === 'experimental');
  assert.equal(sends.length, 1, 'one CoA test request');
  const m = sends[0]!.message as Extract<MhToSend, { kind: 'experimental' }>;
  const t = decodeCoTestBody(m.body);
  assert.ok(t);
  assert.equal(t.subtype, COTEST_SUBTYPE_REQUEST);
  return { to: sends[0]!.to, test: t };
}

function reply(t: CoTest, mhType = 11) {
  return wire(coTestMessage(mhType, { subtype: COTEST_SUBTYPE_REPLY, sequence: t.sequence, cookie: t.cookie }), HOA, CN_ID, mhType);
}

test('a BU creates an unverified binding: no locator moves, a CoA test goes to the claimed CoA only', () => {
  const c = cn();
  const r = c.receiveMh('mn', roBu(7), rx(), 0);
  assert.deepEqual(ofKind(r, 'set-locators'), []);
  assert.deepEqual(ofKind(r, 'binding-changed'), [
    { kind: 'binding-changed', role: 'correspondent', peer: 'mn', coa: COA_A, verified: false, lifetimeS: 420, bindings: 1 },
  ]);
  // No BA yet: the only message is the test.
  assert.equal(sent(r).length, 1);
  const { to, test: t } = theTest(r);
  assert.deepEqual(to, COA_A);
  assert.equal(t.sequence, 7);
  assert.deepEqual(t.cookie, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const b = c.binding('mn')!;
  assert.equal(b.verified, false);
  assert.equal(b.testing, true);
});

test('the matching reply verifies: remote locator = CoA for both SAs, then BA 0 to it', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(7), rx(), 0));
  const r = c.receiveMh('mn', reply(t), rx(), 30);
  const locs = ofKind(r, 'set-locators');
  assert.deepEqual(
    locs.map((a) => [a.sa, a.remote]),
    [
      ['payload', COA_A],
      ['signal', COA_A],
    ],
  );
  const send = ofKind(r, 'send-mh')[0]!;
  assert.ok(r.indexOf(send) > r.indexOf(locs[1]!));
  assert.equal(send.to, undefined);
  assert.deepEqual(theBa(r), { kind: 'binding-ack', status: 0, seq: 7, lifetime: 105 });
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-accepted', peer: 'mn' }]);
  assert.equal(c.binding('mn')!.verified, true);
  assert.equal(c.binding('mn')!.expiresAt, 30 + 420_000);
});

test('a wrong cookie, a wrong sequence or a reply outside the SA identity changes nothing', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(7), rx(), 0));
  const badCookie = { ...t, cookie: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 9) };
  const badSeq = { ...t, sequence: 8 };
  for (const m of [reply(badCookie), reply(badSeq)]) {
    const r = c.receiveMh('mn', m, rx(), 10);
    assert.deepEqual(ofKind(r, 'set-locators'), []);
    assert.deepEqual(sent(r), []);
  }
  const wrongId = c.receiveMh('mn', reply(t), arrival(COA_A, CN_LOC, ip('2001:db8:100::99')), 10);
  assert.deepEqual(ofKind(wrongId, 'set-locators'), []);
  assert.equal(c.binding('mn')!.verified, false);
  assert.equal(c.binding('mn')!.testing, true);
  // The right reply still works afterwards.
  assert.equal(ofKind(c.receiveMh('mn', reply(t), rx(), 20), 'set-locators').length, 2);
});

test('a reply with no test pending is answered with Binding Error status 1 and moves nothing', () => {
  const c = cn();
  const cookie = new Uint8Array(8).fill(3);
  const r = c.receiveMh('mn', reply({ subtype: COTEST_SUBTYPE_REPLY, sequence: 1, cookie }), rx(ATTACKER), 0);
  assert.deepEqual(ofKind(r, 'set-locators'), []);
  const send = ofKind(r, 'send-mh');
  assert.equal(send.length, 1);
  assert.equal(send[0]!.to, undefined);
  assert.deepEqual(send[0]!.message, { kind: 'binding-error', status: 1, homeAddress: HOA });
  assert.equal(c.bindingCount, 0);
  // After verification the test is over: a replayed reply is an orphan too.
  const { test: t } = theTest(c.receiveMh('mn', roBu(7), rx(), 100));
  c.receiveMh('mn', reply(t), rx(), 110);
  const again = c.receiveMh('mn', reply(t), rx(), 120);
  assert.equal(sent(again)[0]!.kind, 'binding-error');
  assert.deepEqual(ofKind(again, 'set-locators'), []);
});

test('the test is retransmitted 1 s doubling to 32 s with the same cookie; then BA 128 and the binding stays unverified', () => {
  const c = cn();
  const first = theTest(c.receiveMh('mn', roBu(7), rx(), 0));
  const times: number[] = [];
  let gaveUp: IroAction[] = [];
  for (let d = c.nextDeadline(); d !== null && d < 100_000; d = c.nextDeadline()) {
    const r = c.tick(d);
    const tests = ofKind(r, 'send-mh').filter((s) => s.message.kind === 'experimental');
    if (tests.length > 0) {
      times.push(d);
      const again = theTest(r);
      assert.deepEqual(again.to, COA_A);
      assert.deepEqual(again.test, first.test);
    }
    if (ofKind(r, 'send-mh').some((s) => s.message.kind === 'binding-ack')) {
      gaveUp = r;
      break;
    }
  }
  assert.deepEqual(times, [1000, 3000, 7000, 15000, 31000]);
  assert.deepEqual(theBa(gaveUp), { kind: 'binding-ack', status: 128, seq: 7, lifetime: 0 });
  assert.equal(ofKind(gaveUp, 'send-mh')[0]!.to, undefined);
  assert.deepEqual(ofKind(gaveUp, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'mn', reason: 'unverified' }]);
  assert.deepEqual(ofKind(gaveUp, 'set-locators'), []);
  const b = c.binding('mn')!;
  assert.equal(b.verified, false);
  assert.equal(b.testing, false);
  // A reply after the give-up is an orphan.
  assert.equal(sent(c.receiveMh('mn', reply(first.test), rx(), 64_000))[0]!.kind, 'binding-error');
});

test('tests to one MN respect 3 per second however fast BUs come', () => {
  const c = cn();
  const at: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = c.receiveMh('mn', roBu(10 + i), rx(), i * 10);
    if (sent(r).length > 0) at.push(i * 10);
  }
  assert.deepEqual(at, [0, 10, 20]);
  assert.equal(c.nextDeadline(), 1000);
  // The held test carries the newest sequence number.
  assert.equal(theTest(c.tick(1000)).test.sequence, 15);
});

test('a BU for a new CoA returns a verified binding to the home path until the new CoA answers', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(7), rx(), 0));
  c.receiveMh('mn', reply(t), rx(), 10);
  const r = c.receiveMh('mn', roBu(8, COA_B), rx(COA_B), 1000);
  assert.deepEqual(
    ofKind(r, 'set-locators').map((a) => [a.sa, a.remote]),
    [
      ['payload', null],
      ['signal', null],
    ],
  );
  assert.deepEqual(theTest(r).to, COA_B);
  assert.equal(c.binding('mn')!.verified, false);
});

test('a refresh with the same verified CoA keeps the route while re-testing it', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(7), rx(), 0));
  c.receiveMh('mn', reply(t), rx(), 10);
  const r = c.receiveMh('mn', roBu(8), rx(), 300_000);
  assert.deepEqual(ofKind(r, 'set-locators'), []);
  const t2 = theTest(r).test;
  assert.notDeepEqual(t2.cookie, t.cookie);
  const ok = c.receiveMh('mn', reply(t2), rx(), 300_010);
  assert.deepEqual(ofKind(ok, 'set-locators'), []);
  assert.equal(theBa(ok).seq, 8);
});

test('refusals: stale sequence (135 with the last accepted), wrong outer source, home registration; never sent to the claimed CoA', () => {
  const c = cn();
  c.receiveMh('mn', roBu(7), rx(), 0);
  const stale = c.receiveMh('mn', roBu(6, COA_B), rx(COA_B), 10);
  assert.deepEqual(theBa(stale), { kind: 'binding-ack', status: 135, seq: 7, lifetime: 0 });
  const spoofed = c.receiveMh('mn', roBu(8, COA_B), rx(ATTACKER), 20);
  assert.equal(theBa(spoofed).status, 129);
  const home = c.receiveMh('mn', bu(9, AH, 105, { altCoa: COA_B.addr }), rx(COA_B), 30);
  assert.equal(theBa(home).status, 131);
  for (const r of [stale, spoofed, home]) {
    assert.deepEqual(ofKind(r, 'set-locators'), []);
    for (const s of ofKind(r, 'send-mh')) assert.equal(s.to, undefined);
  }
  assert.deepEqual(c.binding('mn')!.coa, COA_A);
});

test('the lifetime is capped at 420 s (MAX_RR_BINDING_LIFETIME) and expiry removes the binding', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(1, COA_A, 900), rx(), 0));
  const ok = c.receiveMh('mn', reply(t), rx(), 100);
  assert.equal(theBa(ok).lifetime, 105);
  assert.equal(c.nextDeadline(), 100 + 420_000);
  const r = c.tick(100 + 420_000);
  assert.deepEqual(
    ofKind(r, 'set-locators').map((a) => a.remote),
    [null, null],
  );
  assert.equal(c.bindingCount, 0);
  assert.throws(() => cn({ maxLifetimeS: 421 }), RangeError);
});

test('deregistration removes the binding and answers through the home path', () => {
  const c = cn();
  const { test: t } = theTest(c.receiveMh('mn', roBu(1), rx(), 0));
  c.receiveMh('mn', reply(t), rx(), 10);
  const r = c.receiveMh('mn', bu(2, BU_FLAG_A, 0, { altCoa: HOA }), rx(locator(HOA)), 20);
  assert.deepEqual(
    ofKind(r, 'set-locators').map((a) => a.remote),
    [null, null],
  );
  assert.deepEqual(theBa(r), { kind: 'binding-ack', status: 0, seq: 2, lifetime: 0 });
  assert.equal(ofKind(r, 'send-mh')[0]!.to, undefined);
  assert.equal(c.bindingCount, 0);
});

test('the CoA test MH type is configuration', () => {
  const c = cn({ coTestMhType: 42 });
  const r = c.receiveMh('mn', roBu(1), rx(), 0);
  const m = sent(r)[0]!;
  assert.equal(m.kind === 'experimental' && m.mhType, 42);
  const { test: t } = theTest(r);
  // A reply of type 11 is not a CoA test here.
  assert.deepEqual(sent(c.receiveMh('mn', reply(t, 11), rx(), 10)), []);
  assert.equal(ofKind(c.receiveMh('mn', reply(t, 42), rx(), 20), 'set-locators').length, 2);
});

test('a misbehaving random source is an API error, not a silent weak cookie', () => {
  const c = cn({ random: () => new Uint8Array(4) });
  assert.throws(() => c.receiveMh('mn', roBu(1), rx(), 0), { code: 'ERR_USAGE' });
  assert.throws(() => new Correspondent({ peers: [], random: 5 as unknown as () => Uint8Array }), TypeError);
});
