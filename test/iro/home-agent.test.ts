/**
 * HomeAgent: PROTOCOL.md A.10 home registration step 2 exactly - identity, sequence (mod 2^16),
 * care-of address against the outer source (NAT allowed or not), lifetime cap, deregistration,
 * expiry - and the rule that nothing but an accepted BU moves a locator.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { BU_FLAG_A } from '../../src/packet/constants.js';
import { HomeAgent, type HomeAgentOptions } from '../../src/iro/home-agent.js';
import { locator } from '../../src/iro/locator.js';
import type { IroAction } from '../../src/iro/actions.js';
import {
  AH,
  ATTACKER,
  COA_A,
  COA_B,
  COA_PRIVATE,
  COA_V4,
  HA_V6,
  HOA,
  HOA4,
  NAT_PUBLIC,
  arrival,
  ba,
  be,
  brr,
  bu,
  bytesOf,
  ip,
  ofKind,
  theBa,
} from './helpers.js';

function ha(extra: Partial<HomeAgentOptions> = {}, nat: 'allow' | 'deny' = 'deny'): HomeAgent {
  return new HomeAgent({ peers: [{ peer: 'mn', homeAddress: HOA, homeAddress4: HOA4, nat }], ...extra });
}

const rx = (src = COA_A) => arrival(src, HA_V6, HOA);
const regBu = (seq: number, coa = COA_A, lifetime = 900) =>
  bu(seq, AH, lifetime, coa.family === 6 ? { altCoa: coa.addr } : { ipv4CareOf: coa.addr });

function locatorsOf(actions: IroAction[]): [string, unknown][] {
  return ofKind(actions, 'set-locators').map((a) => [a.sa, a.remote]);
}

test('a fresh BU is accepted: both SAs follow the binding, then BA 0 goes to the CoA (no RH2, no override)', () => {
  const h = ha();
  const actions = h.receiveMh('mn', regBu(1), rx(), 1000);
  assert.deepEqual(locatorsOf(actions), [
    ['payload', COA_A],
    ['signal', COA_A],
  ]);
  const send = ofKind(actions, 'send-mh')[0]!;
  assert.ok(actions.indexOf(send) > actions.findIndex((a) => a.kind === 'set-locators'));
  assert.equal(send.to, undefined);
  assert.deepEqual(theBa(actions), { kind: 'binding-ack', status: 0, seq: 1, lifetime: 900, options: {} });
  assert.deepEqual(ofKind(actions, 'count'), [{ kind: 'count', metric: 'bu-accepted', peer: 'mn' }]);
  assert.deepEqual(ofKind(actions, 'binding-changed'), [
    { kind: 'binding-changed', role: 'home-agent', peer: 'mn', coa: COA_A, verified: true, lifetimeS: 3600, bindings: 1 },
  ]);
  const b = h.binding('mn')!;
  assert.deepEqual(b.coa, COA_A);
  assert.equal(b.sequence, 1);
  assert.equal(b.expiresAt, 1000 + 3_600_000);
  assert.equal(b.natDetected, false);
});

test('E.3.2: the BA for the E.3.1 BU is the constructed vector byte for byte', () => {
  const hoa = ip('2001:db8::1');
  const h = new HomeAgent({ peers: [{ peer: 'mn', homeAddress: hoa }] });
  const coa = locator(ip('2001:db8:ffff::10'));
  const r = h.receiveMh('mn', bu(1, AH, 0x384, { altCoa: coa.addr }), arrival(coa, HA_V6, hoa), 0);
  assert.equal(toHex(bytesOf(theBa(r), ip('2001:db8::2'), hoa)), toHex(fromHex('3b 01 06 00 5e 6b 00 00 00 01 03 84 01 02 00 00')));
});

test('a refresh with the same CoA moves nothing and extends the lifetime', () => {
  const h = ha();
  h.receiveMh('mn', regBu(1), rx(), 0);
  const r = h.receiveMh('mn', regBu(2), rx(), 5000);
  assert.deepEqual(locatorsOf(r), []);
  assert.deepEqual(ofKind(r, 'binding-changed'), []);
  assert.equal(theBa(r).seq, 2);
  assert.equal(h.binding('mn')!.expiresAt, 5000 + 3_600_000);
});

test('a stale sequence number is refused with BA 135 carrying the last accepted number; the binding stays', () => {
  const h = ha();
  h.receiveMh('mn', regBu(10), rx(), 0);
  const r = h.receiveMh('mn', regBu(9, COA_B), rx(COA_B), 10);
  assert.deepEqual(locatorsOf(r), []);
  const send = ofKind(r, 'send-mh')[0]!;
  assert.deepEqual(send.to, COA_B);
  assert.deepEqual(theBa(r), { kind: 'binding-ack', status: 135, seq: 10, lifetime: 0 });
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'mn', reason: 'sequence' }]);
  assert.deepEqual(h.binding('mn')!.coa, COA_A);
});

test('sequence numbers compare modulo 2^16 with a 32768 window', () => {
  const cases: [number, number, boolean][] = [
    [65535, 0, true], // wraps: 0 is newer than 65535
    [65535, 65535, false], // equal is not newer
    [100, 100 + 32768, true], // exactly 32768 ahead: still newer
    [100, 100 + 32769, false], // 32769 ahead = 32767 behind: stale
    [100, 99, false],
    [0, 65535, false], // 65535 is one behind 0
    [40000, 7231, true], // 32767 ahead across the wrap
  ];
  for (const [last, next, accepted] of cases) {
    const h = ha();
    h.receiveMh('mn', regBu(last), rx(), 0);
    const r = h.receiveMh('mn', regBu(next % 65536, COA_B), rx(COA_B), 10);
    assert.equal(theBa(r).status, accepted ? 0 : 135, `last ${last}, next ${next}`);
    assert.deepEqual(h.binding('mn')!.coa, accepted ? COA_B : COA_A, `last ${last}, next ${next}`);
  }
});

test('without a binding any sequence number is accepted (RFC 6275 §9.5.1)', () => {
  const h = ha();
  assert.equal(theBa(h.receiveMh('mn', regBu(40000), rx(), 0)).status, 0);
});

test('a CoA that is not the outer source is refused (address); the binding does not move', () => {
  const h = ha();
  h.receiveMh('mn', regBu(1), rx(), 0);
  const r = h.receiveMh('mn', regBu(2, COA_B), rx(ATTACKER), 10);
  assert.deepEqual(locatorsOf(r), []);
  assert.deepEqual(theBa(r), { kind: 'binding-ack', status: 129, seq: 2, lifetime: 0 });
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'mn', reason: 'address' }]);
  assert.deepEqual(h.binding('mn')!.coa, COA_A);
  // The refused number is not "accepted": the MN may use it again.
  assert.equal(h.binding('mn')!.sequence, 1);
});

test('under UDP the port is part of the check: 4500 matches, another port is a NAT', () => {
  const h = ha();
  assert.equal(theBa(h.receiveMh('mn', regBu(1, COA_V4), rx(COA_V4), 0)).status, 0);
  assert.deepEqual(h.binding('mn')!.coa, COA_V4);
  const rewritten = locator(COA_V4.addr, 33000);
  const r = h.receiveMh('mn', regBu(2, COA_V4), rx(rewritten), 10);
  assert.equal(theBa(r).status, 129);
  assert.deepEqual(h.binding('mn')!.coa, COA_V4);
});

test('NAT allowed: the observed outer locator is bound and the BA carries NAT Detection with the keepalive time', () => {
  const h = ha({ natKeepaliveS: 15 }, 'allow');
  const r = h.receiveMh('mn', regBu(1, COA_PRIVATE), rx(NAT_PUBLIC), 0);
  assert.deepEqual(locatorsOf(r), [
    ['payload', NAT_PUBLIC],
    ['signal', NAT_PUBLIC],
  ]);
  assert.deepEqual(theBa(r).options!.natDetection, { udpEncapsulationRequired: true, refreshTime: 15 });
  assert.equal(h.binding('mn')!.natDetected, true);
  // Without a NAT on the path, no NAT Detection option.
  const h2 = ha({}, 'allow');
  assert.equal(theBa(h2.receiveMh('mn', regBu(1, COA_V4), rx(COA_V4), 0)).options!.natDetection, undefined);
});

test('a BU whose restored source is not the HoA of the SA is refused and not answered', () => {
  const h = ha();
  const r = h.receiveMh('mn', regBu(1), arrival(COA_A, HA_V6, ip('2001:db8:100::99')), 0);
  assert.deepEqual(ofKind(r, 'send-mh'), []);
  assert.deepEqual(locatorsOf(r), []);
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'mn', reason: 'identity' }]);
  assert.equal(h.bindingCount, 0);
});

test('a BU without the H flag or without a care-of address option is refused', () => {
  const h = ha();
  const noH = h.receiveMh('mn', bu(1, BU_FLAG_A, 900, { altCoa: COA_A.addr }), rx(), 0);
  assert.equal(theBa(noH).status, 139);
  const noCoa = h.receiveMh('mn', bu(1, AH, 900, {}), rx(), 0);
  assert.equal(theBa(noCoa).status, 128);
  assert.deepEqual(ofKind(noCoa, 'count')[0]!.reason, 'address');
  const both = h.receiveMh('mn', bu(1, AH, 900, { altCoa: COA_A.addr, ipv4CareOf: COA_V4.addr }), rx(), 0);
  assert.equal(theBa(both).status, 128);
  const multicast = locator(ip('ff02::1'));
  assert.equal(theBa(h.receiveMh('mn', regBu(1, multicast), rx(multicast), 0)).status, 128);
  assert.equal(h.bindingCount, 0);
});

test('the granted lifetime is min(requested, policy)', () => {
  const h = ha({ maxLifetimeS: 600 });
  assert.equal(theBa(h.receiveMh('mn', regBu(1, COA_A, 900), rx(), 0)).lifetime, 150);
  assert.equal(theBa(h.receiveMh('mn', regBu(2, COA_A, 20), rx(), 0)).lifetime, 20);
  assert.equal(h.binding('mn')!.lifetimeS, 80);
});

test('expiry removes the binding and puts the locators back to identities', () => {
  const h = ha();
  h.receiveMh('mn', regBu(1, COA_A, 25), rx(), 0);
  assert.equal(h.nextDeadline(), 100_000);
  assert.deepEqual(h.tick(99_999), []);
  const r = h.tick(100_000);
  assert.deepEqual(locatorsOf(r), [
    ['payload', null],
    ['signal', null],
  ]);
  assert.equal(ofKind(r, 'binding-changed')[0]!.coa, null);
  assert.equal(h.bindingCount, 0);
  assert.equal(h.nextDeadline(), null);
});

test('deregistration (lifetime 0, CoA = HoA, from home) deletes the binding; BA 0 goes to the home address', () => {
  const h = ha();
  h.receiveMh('mn', regBu(1), rx(), 0);
  const home = locator(HOA);
  const r = h.receiveMh('mn', bu(2, AH, 0, { altCoa: HOA }), rx(home), 10);
  assert.deepEqual(locatorsOf(r), [
    ['payload', null],
    ['signal', null],
  ]);
  assert.deepEqual(theBa(r), { kind: 'binding-ack', status: 0, seq: 2, lifetime: 0 });
  assert.deepEqual(ofKind(r, 'send-mh')[0]!.to, home);
  assert.equal(h.bindingCount, 0);
});

test('IPv4 home address: acknowledged when it is the configured one or asked for with 0.0.0.0', () => {
  const h = ha();
  const withV4 = (seq: number, address: Uint8Array) =>
    bu(seq, AH, 900, { altCoa: COA_A.addr, ipv4HomeAddress: { address, prefixLength: 32, requestPrefix: false } });
  const ok = h.receiveMh('mn', withV4(1, HOA4), rx(), 0);
  assert.deepEqual(theBa(ok).options!.ipv4AddressAck, { status: 0, prefixLength: 32, address: HOA4 });
  assert.deepEqual(h.binding('mn')!.homeAddress4, HOA4);
  const any = h.receiveMh('mn', withV4(2, new Uint8Array(4)), rx(), 0);
  assert.deepEqual(theBa(any).options!.ipv4AddressAck?.address, HOA4);
  const wrong = ip('198.51.100.78');
  const bad = h.receiveMh('mn', withV4(3, wrong), rx(), 0);
  assert.equal(theBa(bad).status, 0);
  assert.equal(theBa(bad).options!.ipv4AddressAck?.status, 130);
  assert.equal(h.binding('mn')!.homeAddress4, null);
});

test('only an accepted BU moves a locator: no other message, and no data-packet event exists', () => {
  const h = ha();
  h.receiveMh('mn', regBu(1), rx(), 0);
  // Every other message, from a new outer address, moves nothing.
  for (const m of [ba(0, 2, 900), brr(), be(1, HOA)]) {
    const r = h.receiveMh('mn', m, rx(ATTACKER), 10);
    assert.deepEqual(ofKind(r, 'set-locators'), []);
    assert.deepEqual(ofKind(r, 'send-mh'), []);
  }
  assert.deepEqual(h.binding('mn')!.coa, COA_A);
  // The public API: BU processing, timers, and read-only queries. There is nothing that takes an
  // ESP data packet or its outer source, so a data packet from a new address cannot move anything
  // (PROTOCOL.md A.5 inbound step 5, F.10).
  const methods = Object.getOwnPropertyNames(HomeAgent.prototype).filter((n) => n !== 'constructor').sort();
  const publicMethods = methods.filter((n) => !['changed', 'ipv4HomeAddress'].includes(n));
  assert.deepEqual(publicMethods, ['binding', 'bindingCount', 'bindings', 'nextDeadline', 'receiveBu', 'receiveMh', 'tick']);
});

test('unknown peers and bad options', () => {
  const h = ha();
  const r = h.receiveMh('nobody', regBu(1), rx(), 0);
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'nobody', reason: 'prohibited' }]);
  assert.deepEqual(ofKind(r, 'send-mh'), []);
  assert.throws(() => new HomeAgent({ peers: [{ peer: 'mn', homeAddress: HOA4 }] }), RangeError);
  assert.throws(() => new HomeAgent({ peers: [{ peer: 'mn', homeAddress: HOA, nat: 'maybe' as 'allow' }] }), RangeError);
  assert.throws(() => new HomeAgent({ peers: [{ peer: 'mn', homeAddress: HOA }, { peer: 'mn', homeAddress: HOA }] }), RangeError);
  assert.throws(() => h.tick(Number.POSITIVE_INFINITY), { code: 'ERR_USAGE' });
});
