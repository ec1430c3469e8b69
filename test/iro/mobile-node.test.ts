/**
 * MobileNode: BU content, the RFC 6275 §11.8 retransmission schedule and rate limit, BA handling
 * (0, 135, refusals), refresh at 80 %, NAT keepalives, quick moves, deregistration at home, and
 * correspondent registration staying on the home path until the CN acknowledges.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { toHex, fromHex } from '../../src/util/bytes.js';
import { BU_FLAG_A, MH_NATD_REFRESH_NONE } from '../../src/packet/constants.js';
import { MobileNode, type MobileNodeOptions } from '../../src/iro/mobile-node.js';
import { COTEST_SUBTYPE_REPLY, COTEST_SUBTYPE_REQUEST, coTestMessage, decodeCoTestBody } from '../../src/iro/cotest.js';
import { locator } from '../../src/iro/locator.js';
import type { IroAction } from '../../src/iro/actions.js';
import {
  AH,
  CN_ID,
  COA_A,
  COA_B,
  COA_V4,
  HA_ID,
  HA_V4,
  HA_V6,
  HOA,
  HOA4,
  arrival,
  ba,
  be,
  brr,
  bytesOf,
  ip,
  ofKind,
  sent,
  theBu,
  wire,
} from './helpers.js';

const fromHa = (dst = COA_A) => arrival(HA_V6, dst, HA_ID);

function mn(extra: Partial<MobileNodeOptions> = {}): MobileNode {
  return new MobileNode({ homeAddress: HOA, homeAgent: 'home', ...extra });
}

/** Ticks at every deadline up to `until`, collecting the times BUs were sent and their seqs. */
function drive(node: MobileNode, until: number): { at: number; seq: number }[] {
  const out: { at: number; seq: number }[] = [];
  for (let d = node.nextDeadline(); d !== null && d <= until; d = node.nextDeadline()) {
    for (const m of sent(node.tick(d))) if (m.kind === 'binding-update') out.push({ at: d, seq: m.seq });
  }
  return out;
}

/** Registers `node` at `coa` at time `now` with a BA granting `units`. */
function register(node: MobileNode, coa = COA_A, now = 0, units = 900): IroAction[] {
  const b = theBu(node.movement(coa, now));
  return node.receiveMh('home', ba(0, b.seq, units), fromHa(coa), now + 10);
}

test('E.3.1: the first home registration BU is the constructed vector byte for byte', () => {
  const node = new MobileNode({ homeAddress: ip('2001:db8::1'), homeAgent: 'home' });
  const b = theBu(node.movement(locator(ip('2001:db8:ffff::10')), 0));
  const bytes = bytesOf(b, ip('2001:db8::1'), ip('2001:db8::2'));
  const e31 = fromHex('3b 03 05 00 6e 81 00 01 c0 00 03 84 01 00 03 10 20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10');
  assert.equal(toHex(bytes), toHex(e31));
});

test('home registration BU: A|H, lifetime in 4 s units, Alternate CoA = the CoA, sent from the CoA', () => {
  const node = mn({ homeLifetimeS: 1000 });
  const actions = node.movement(COA_A, 0);
  const locs = ofKind(actions, 'set-locators');
  assert.deepEqual(
    locs.map((a) => [a.peer, a.sa, toHex(a.local!.addr), 'remote' in a]),
    [
      ['home', 'payload', toHex(COA_A.addr), false],
      ['home', 'signal', toHex(COA_A.addr), false],
    ],
  );
  // The locators change before the BU is sent, so the BU leaves from the CoA.
  assert.ok(actions.indexOf(locs[1]!) < actions.findIndex((a) => a.kind === 'send-mh'));
  const send = ofKind(actions, 'send-mh')[0]!;
  assert.equal(send.sa, 'signal');
  assert.equal(send.to, undefined);
  assert.equal(send.from, undefined);
  const b = theBu(actions);
  assert.equal(b.seq, 1);
  assert.equal(b.flags, AH);
  assert.equal(b.lifetime, 250);
  assert.deepEqual(b.options!.altCoa, COA_A.addr);
  assert.equal(b.options!.ipv4CareOf, undefined);
  assert.deepEqual(ofKind(actions, 'count'), [{ kind: 'count', metric: 'bu-sent', peer: 'home' }]);
  assert.equal(node.bindingUpdateList()[0]!.state, 'registering');
});

test('IPv4 CoA: the BU carries the RFC 5555 IPv4 CoA option, the IPv4 home address, and the HA is reached at its IPv4 locator', () => {
  const node = mn({ homeAddress4: HOA4, homeAgentEndpoints: [HA_V6, HA_V4] });
  const actions = node.movement(COA_V4, 0);
  const locs = ofKind(actions, 'set-locators');
  assert.equal(locs.length, 2);
  for (const l of locs) {
    assert.deepEqual(l.local, COA_V4);
    assert.deepEqual(l.remote, HA_V4);
  }
  const b = theBu(actions);
  assert.deepEqual(b.options!.ipv4CareOf, COA_V4.addr);
  assert.equal(b.options!.altCoa, undefined);
  assert.deepEqual(b.options!.ipv4HomeAddress, { address: HOA4, prefixLength: 32, requestPrefix: false });
  // The message survives the builders and the parser with the same content.
  const parsed = wire(b, HOA, HA_ID);
  assert.equal(parsed.kind, 'binding-update');
  if (parsed.kind === 'binding-update') assert.deepEqual(parsed.options.ipv4CareOf, COA_V4.addr);
  // An IPv6 CoA later switches the HA's remote locator to its IPv6 locator.
  const v6 = ofKind(node.movement(COA_A, 5000), 'set-locators');
  assert.deepEqual(v6.map((l) => l.remote), [HA_V6, HA_V6]);
});

test('retransmission: the first home registration waits 1.5 s, then doubles up to 32 s, with a new sequence number each time', () => {
  const node = mn();
  assert.equal(theBu(node.movement(COA_A, 0)).seq, 1);
  assert.equal(node.nextDeadline(), 1500);
  assert.deepEqual(node.tick(1499), []);
  const sends = drive(node, 200_000);
  assert.deepEqual(
    sends.map((s) => s.at),
    [1500, 4500, 10500, 22500, 46500, 78500, 110500, 142500, 174500],
  );
  assert.deepEqual(
    sends.map((s) => s.seq),
    [2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
});

test('retransmission: a later registration waits 1 s, doubling to the 32 s cap', () => {
  const node = mn();
  register(node, COA_A, 0);
  const t0 = 100_000;
  theBu(node.movement(COA_B, t0));
  assert.equal(node.nextDeadline(), t0 + 1000);
  const sends = drive(node, t0 + 130_000);
  assert.deepEqual(
    sends.map((s) => s.at - t0),
    [1000, 3000, 7000, 15000, 31000, 63000, 95000, 127000],
  );
});

test('rate limit: at most 3 BUs in any second to one destination; a held BU carries the latest CoA', () => {
  const node = mn();
  const log: { at: number; seq: number; coa: string }[] = [];
  const take = (at: number, actions: IroAction[]): void => {
    for (const m of sent(actions)) if (m.kind === 'binding-update') log.push({ at, seq: m.seq, coa: toHex(m.options!.altCoa!) });
  };
  take(0, node.movement(COA_A, 0));
  take(100, node.movement(COA_B, 100));
  take(200, node.movement(COA_A, 200));
  take(300, node.movement(COA_B, 300));
  take(400, node.movement(COA_A, 400));
  assert.deepEqual(
    log.map((l) => l.at),
    [0, 100, 200],
  );
  assert.equal(node.nextDeadline(), 1000);
  take(1000, node.tick(1000));
  assert.deepEqual(log[3], { at: 1000, seq: 4, coa: toHex(COA_A.addr) });
  // Retransmissions keep the limit too.
  for (let d = node.nextDeadline(); d !== null && d < 60_000; d = node.nextDeadline()) take(d, node.tick(d));
  for (let i = 3; i < log.length; i++) assert.ok(log[i]!.at - log[i - 3]!.at >= 1000, `4 BUs within 1 s at ${log[i]!.at}`);
});

test('BA 0: registered, granted lifetime recorded, refresh at 80 % of it with the same CoA', () => {
  const node = mn();
  const b = theBu(node.movement(COA_A, 0));
  const actions = node.receiveMh('home', ba(0, b.seq, 300), fromHa(), 50);
  assert.deepEqual(ofKind(actions, 'binding-changed'), [
    { kind: 'binding-changed', role: 'mobile-node', peer: 'home', coa: COA_A, verified: true, lifetimeS: 1200, bindings: 1 },
  ]);
  assert.deepEqual(ofKind(actions, 'count'), [{ kind: 'count', metric: 'bu-accepted', peer: 'home' }]);
  assert.deepEqual(ofKind(actions, 'handover'), []);
  const entry = node.bindingUpdateList()[0]!;
  assert.equal(entry.state, 'registered');
  assert.equal(entry.grantedLifetimeS, 1200);
  assert.equal(entry.expiresAt, 50 + 1_200_000);
  const refreshAt = 50 + 960_000;
  assert.equal(node.nextDeadline(), refreshAt);
  assert.deepEqual(node.tick(refreshAt - 1), []);
  const refresh = theBu(node.tick(refreshAt));
  assert.equal(refresh.seq, b.seq + 1);
  assert.deepEqual(refresh.options!.altCoa, COA_A.addr);
  assert.equal(node.bindingUpdateList()[0]!.state, 'registered');
  // The refresh's BA extends the binding without reporting a change.
  const again = node.receiveMh('home', ba(0, refresh.seq, 300), fromHa(), refreshAt + 20);
  assert.deepEqual(ofKind(again, 'binding-changed'), []);
  assert.equal(node.bindingUpdateList()[0]!.expiresAt, refreshAt + 20 + 1_200_000);
});

test('an unrefreshed binding lapses at its expiry and the home agent is asked again as a first registration', () => {
  const node = mn();
  register(node, COA_A, 0, 25); // 100 s
  const sends = drive(node, 100_010);
  assert.equal(sends[0]!.at, 10 + 80_000);
  const list = node.bindingUpdateList()[0]!;
  assert.equal(list.state, 'registering');
  assert.equal(list.registeredCoa, null);
});

test('BA 135: continue after the home agent\'s number; stale 135s are ignored', () => {
  const node = mn();
  assert.equal(theBu(node.movement(COA_A, 0)).seq, 1);
  const r = node.receiveMh('home', ba(135, 700, 0), fromHa(), 20);
  assert.deepEqual(ofKind(r, 'count')[0], { kind: 'count', metric: 'bu-refused', peer: 'home', reason: 'sequence' });
  assert.equal(theBu(r).seq, 701);
  // A 135 naming a number older than what we sent answers an old BU: nothing to do.
  assert.deepEqual(sent(node.receiveMh('home', ba(135, 500, 0), fromHa(), 30)), []);
  const ok = node.receiveMh('home', ba(0, 701, 900), fromHa(), 40);
  assert.equal(ofKind(ok, 'binding-changed').length, 1);
  assert.equal(node.bindingUpdateList()[0]!.state, 'registered');
  assert.equal(node.lastSequences()['home'], 701);
});

test('BA 135 across the 2^16 wrap', () => {
  const node = mn({ lastSequence: { home: 65534 } });
  assert.equal(theBu(node.movement(COA_A, 0)).seq, 65535);
  assert.equal(theBu(node.receiveMh('home', ba(135, 3, 0), fromHa(), 10)).seq, 4);
});

test('other refusals: counted by reason, logged, and the BU is retried after the current timeout', () => {
  const node = mn();
  register(node, COA_A, 0);
  const b = theBu(node.movement(COA_B, 10_000));
  const r = node.receiveMh('home', ba(129, b.seq, 0), fromHa(COA_B), 10_100);
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'home', reason: 'prohibited' }]);
  assert.equal(ofKind(r, 'log')[0]!.level, 'warn');
  assert.deepEqual(sent(r), []);
  assert.equal(node.nextDeadline(), 11_100);
  assert.equal(theBu(node.tick(11_100)).seq, b.seq + 1);
  assert.equal(node.nextDeadline(), 11_100 + 2000);
});

test('two quick moves A -> B -> A: sequence numbers increase and the node ends registered at A', () => {
  const node = mn();
  const s1 = theBu(node.movement(COA_A, 0)).seq;
  const s2 = theBu(node.movement(COA_B, 50)).seq;
  const s3 = theBu(node.movement(COA_A, 100)).seq;
  assert.deepEqual([s1, s2, s3], [1, 2, 3]);
  // The BAs of the first two BUs arrive late and change nothing.
  assert.deepEqual(ofKind(node.receiveMh('home', ba(0, s1, 900), fromHa(), 120), 'binding-changed'), []);
  assert.deepEqual(ofKind(node.receiveMh('home', ba(0, s2, 900), fromHa(COA_B), 130), 'binding-changed'), []);
  assert.equal(node.bindingUpdateList()[0]!.state, 'registering');
  const done = node.receiveMh('home', ba(0, s3, 900), fromHa(), 140);
  assert.deepEqual(ofKind(done, 'binding-changed')[0]!.coa, COA_A);
  const e = node.bindingUpdateList()[0]!;
  assert.equal(e.state, 'registered');
  assert.deepEqual(e.registeredCoa, COA_A);
});

test('handover: a registration at a new CoA after an earlier one is reported with its signalling time', () => {
  const node = mn();
  register(node, COA_A, 0);
  const b = theBu(node.movement(COA_B, 5000));
  const r = node.receiveMh('home', ba(0, b.seq, 900), fromHa(COA_B), 5042);
  assert.deepEqual(ofKind(r, 'handover'), [{ kind: 'handover', peer: 'home', from: COA_A, to: COA_B, signallingMs: 42 }]);
});

test('NAT detection in the BA starts keepalives at the advertised interval; the next move stops them', () => {
  const node = mn();
  const b = theBu(node.movement(COA_V4, 0));
  const natBa = (seq: number, refreshTime: number) => ba(0, seq, 900, { natDetection: { udpEncapsulationRequired: true, refreshTime } });
  const r = node.receiveMh('home', natBa(b.seq, 25), fromHa(COA_V4), 30);
  assert.deepEqual(ofKind(r, 'keepalive'), [{ kind: 'keepalive', peer: 'home', intervalMs: 25_000 }]);
  assert.deepEqual(ofKind(node.movement(COA_A, 1000), 'keepalive'), [{ kind: 'keepalive', peer: 'home', intervalMs: 0 }]);
  // All ones: a NAT Detection option that asks for no keepalives.
  const node2 = mn();
  const b2 = theBu(node2.movement(COA_V4, 0));
  const r2 = node2.receiveMh('home', natBa(b2.seq, MH_NATD_REFRESH_NONE), fromHa(COA_V4), 30);
  assert.deepEqual(ofKind(r2, 'keepalive'), []);
});

test('at home: locators back to identities, BU with lifetime 0 and CoA = HoA, then unregistered', () => {
  const node = mn({ homeAgentEndpoints: [HA_V6] });
  register(node, COA_A, 0);
  const actions = node.atHome(10_000);
  assert.deepEqual(
    ofKind(actions, 'set-locators').map((a) => [a.sa, a.local, a.remote]),
    [
      ['payload', null, null],
      ['signal', null, null],
    ],
  );
  const b = theBu(actions);
  assert.equal(b.lifetime, 0);
  assert.deepEqual(b.options!.altCoa, HOA);
  assert.equal(node.bindingUpdateList()[0]!.state, 'deregistering');
  assert.equal(node.nextDeadline(), 11_000);
  const r = node.receiveMh('home', ba(0, b.seq, 0), arrival(HA_V6, locator(HOA), HA_ID), 10_020);
  assert.deepEqual(ofKind(r, 'binding-changed'), [
    { kind: 'binding-changed', role: 'mobile-node', peer: 'home', coa: null, verified: false, lifetimeS: 0, bindings: 0 },
  ]);
  assert.equal(node.bindingUpdateList()[0]!.state, 'unregistered');
  assert.equal(node.nextDeadline(), null);
  // Leaving home again is a first registration: 1.5 s.
  node.movement(COA_B, 20_000);
  assert.equal(node.nextDeadline(), 21_500);
});

test('a movement to the home address is the same as atHome; the same CoA twice sends nothing', () => {
  const node = mn();
  register(node, COA_A, 0);
  assert.deepEqual(sent(node.movement(COA_A, 100)), []);
  const b = theBu(node.movement(locator(HOA), 200));
  assert.equal(b.lifetime, 0);
  assert.equal(node.attachment, 'home');
});

test('no network: BUs stop; a new CoA afterwards registers again', () => {
  const node = mn();
  node.movement(COA_A, 0);
  node.movement(null, 100);
  assert.equal(node.attachment, 'detached');
  assert.equal(node.nextDeadline(), null);
  assert.deepEqual(node.tick(60_000), []);
  const b = theBu(node.movement(COA_A, 61_000));
  assert.equal(b.seq, 2);
});

test('BRR: a registered node answers with a refresh BU (RFC 6275 §11.7.4)', () => {
  const node = mn();
  register(node, COA_A, 0);
  const b = theBu(node.receiveMh('home', brr(), fromHa(), 500));
  assert.equal(b.seq, 2);
  assert.deepEqual(b.options!.altCoa, COA_A.addr);
});

test('message path: unexpected, stale or foreign messages change nothing and never throw', () => {
  const node = mn({ correspondents: ['cn'] });
  assert.deepEqual(sent(node.receiveMh('home', ba(0, 1, 900), fromHa(), 0)), []);
  assert.deepEqual(sent(node.receiveMh('stranger', ba(0, 1, 900), fromHa(), 0)), []);
  register(node, COA_A, 0);
  assert.deepEqual(sent(node.receiveMh('home', be(1, ip('2001:db8:100::99')), fromHa(), 20)), []);
  const junk = { kind: 'experimental' as const, mhType: 11, length: 8, body: new Uint8Array(2) };
  assert.deepEqual(sent(node.receiveMh('cn', junk, arrival(locator(CN_ID), COA_A, CN_ID), 30)), []);
  assert.equal(node.bindingUpdateList()[0]!.state, 'registered');
});

test('BE status 1 from the home agent: it lost our binding, so register again', () => {
  const node = mn();
  register(node, COA_A, 0);
  const r = node.receiveMh('home', be(1, HOA), fromHa(), 100);
  assert.equal(ofKind(r, 'binding-changed')[0]!.coa, null);
  assert.equal(theBu(r).seq, 2);
  assert.equal(node.nextDeadline(), 100 + 1500);
});

test('API misuse throws IroError ERR_USAGE; bad options throw TypeError/RangeError', () => {
  const node = mn();
  assert.throws(() => node.movement(COA_A, Number.NaN), { code: 'ERR_USAGE' });
  assert.throws(() => node.movement({ family: 6, addr: new Uint8Array(3), port: 0 }, 0), { code: 'ERR_USAGE' });
  assert.throws(() => node.receiveMh('home', brr(), { src: COA_A, dst: COA_A, identitySrc: new Uint8Array(4) }, 0), { code: 'ERR_USAGE' });
  assert.throws(() => new MobileNode({ homeAddress: HOA4, homeAgent: 'home' }), RangeError);
  assert.throws(() => mn({ correspondentLifetimeS: 421 }), RangeError);
  assert.throws(() => mn({ correspondents: ['home'] }), RangeError);
  assert.throws(() => mn({ homeAgentEndpoints: [HA_V4, HA_V4] }), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Correspondent registration from the mobile node's side

const fromCn = (dst = COA_A) => arrival(locator(CN_ID), dst, CN_ID);

test('correspondent registration starts after the home agent accepts, from the CoA, without moving the CN SA', () => {
  const node = mn({ correspondents: ['cn'] });
  const first = node.movement(COA_A, 0);
  assert.deepEqual(ofKind(first, 'send-mh').map((s) => s.peer), ['home']);
  const r = node.receiveMh('home', ba(0, 1, 900), fromHa(), 20);
  const cnSend = ofKind(r, 'send-mh').filter((s) => s.peer === 'cn');
  assert.equal(cnSend.length, 1);
  assert.deepEqual(cnSend[0]!.from, COA_A);
  assert.equal(cnSend[0]!.to, undefined);
  const b = theBu(r);
  assert.equal(b.flags, BU_FLAG_A);
  assert.equal(b.lifetime, 105);
  assert.deepEqual(b.options!.altCoa, COA_A.addr);
  // Safe by default: nothing moved the CN SA's locators.
  assert.deepEqual(ofKind(r, 'set-locators').filter((a) => a.peer === 'cn'), []);
});

test('CoA test request: answered from the CoA with the same cookie and sequence; stale requests are not', () => {
  const node = mn({ correspondents: ['cn'] });
  node.movement(COA_A, 0);
  const b = theBu(node.receiveMh('home', ba(0, 1, 900), fromHa(), 20));
  const cookie = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
  const req = wire(coTestMessage(11, { subtype: COTEST_SUBTYPE_REQUEST, sequence: b.seq, cookie }), CN_ID, HOA);
  const r = node.receiveMh('cn', req, fromCn(), 30);
  const reply = ofKind(r, 'send-mh');
  assert.equal(reply.length, 1);
  assert.deepEqual(reply[0]!.from, COA_A);
  const m = reply[0]!.message;
  assert.equal(m.kind, 'experimental');
  if (m.kind === 'experimental') {
    assert.equal(m.mhType, 11);
    assert.deepEqual(decodeCoTestBody(m.body), { subtype: COTEST_SUBTYPE_REPLY, sequence: b.seq, cookie });
  }
  const stale = wire(coTestMessage(11, { subtype: COTEST_SUBTYPE_REQUEST, sequence: b.seq + 5, cookie }), CN_ID, HOA);
  assert.deepEqual(sent(node.receiveMh('cn', stale, fromCn(), 31)), []);
  // A request that did not arrive on the CoA (e.g. through the home address) is not answered.
  assert.deepEqual(sent(node.receiveMh('cn', req, fromCn(locator(HOA)), 32)), []);
});

test('the CoA test MH type is configuration: another type is ignored, the configured one answered', () => {
  const node = mn({ correspondents: ['cn'], coTestMhType: 200 });
  node.movement(COA_A, 0);
  const b = theBu(node.receiveMh('home', ba(0, 1, 900), fromHa(), 20));
  const cookie = new Uint8Array(8).fill(1);
  const as11 = wire(coTestMessage(11, { subtype: COTEST_SUBTYPE_REQUEST, sequence: b.seq, cookie }), CN_ID, HOA, 11);
  assert.deepEqual(sent(node.receiveMh('cn', as11, fromCn(), 30)), []);
  const as200 = wire(coTestMessage(200, { subtype: COTEST_SUBTYPE_REQUEST, sequence: b.seq, cookie }), CN_ID, HOA, 200);
  const r = sent(node.receiveMh('cn', as200, fromCn(), 31));
  assert.equal(r.length, 1);
  assert.equal(r[0]!.kind === 'experimental' && r[0]!.mhType, 200);
});

test('CN BA 0 moves the MN-CN SA to the CoA; the next move puts it back on the home path first', () => {
  const node = mn({ correspondents: ['cn'] });
  node.movement(COA_A, 0);
  const b = theBu(node.receiveMh('home', ba(0, 1, 900), fromHa(), 20));
  const r = node.receiveMh('cn', ba(0, b.seq, 105), fromCn(), 40);
  assert.deepEqual(
    ofKind(r, 'set-locators').map((a) => [a.peer, a.sa, a.local]),
    [
      ['cn', 'payload', COA_A],
      ['cn', 'signal', COA_A],
    ],
  );
  assert.equal(node.bindingCount, 2);
  const moved = node.movement(COA_B, 1000);
  assert.deepEqual(
    ofKind(moved, 'set-locators').filter((a) => a.peer === 'cn').map((a) => a.local),
    [null, null],
  );
  // IPv4 CoA: no route optimization; the correspondent binding is deregistered through home.
  const node2 = mn({ correspondents: ['cn'] });
  node2.movement(COA_A, 0);
  const b2 = theBu(node2.receiveMh('home', ba(0, 1, 900), fromHa(), 20));
  node2.receiveMh('cn', ba(0, b2.seq, 105), fromCn(), 40);
  const v4 = theBu(node2.movement(COA_V4, 1000));
  const homeOk = node2.receiveMh('home', ba(0, v4.seq, 900), fromHa(COA_V4), 1020);
  const dereg = ofKind(homeOk, 'send-mh').find((s) => s.peer === 'cn')!;
  assert.equal(dereg.from, undefined);
  assert.equal(dereg.message.kind === 'binding-update' && dereg.message.lifetime, 0);
});

test('a CN refusing (BA 128 after an unanswered test) leaves the SA on the home path', () => {
  const node = mn({ correspondents: ['cn'] });
  node.movement(COA_A, 0);
  const b = theBu(node.receiveMh('home', ba(0, 1, 900), fromHa(), 20));
  const r = node.receiveMh('cn', ba(128, b.seq, 0), arrival(locator(CN_ID), locator(HOA), CN_ID), 70_000);
  assert.deepEqual(ofKind(r, 'set-locators'), []);
  assert.deepEqual(ofKind(r, 'count'), [{ kind: 'count', metric: 'bu-refused', peer: 'cn', reason: 'status' }]);
});

test('BE status 2 from a correspondent: route optimization is turned off for it', () => {
  const node = mn({ correspondents: ['cn'] });
  node.movement(COA_A, 0);
  node.receiveMh('home', ba(0, 1, 900), fromHa(), 20);
  node.receiveMh('cn', be(2, HOA), fromCn(), 30);
  const cn = node.bindingUpdateList().find((e) => e.peer === 'cn')!;
  assert.equal(cn.disabled, true);
  const next = node.movement(COA_B, 1000);
  const home = theBu(next);
  assert.deepEqual(sent(node.receiveMh('home', ba(0, home.seq, 900), fromHa(COA_B), 1010)), []);
});
