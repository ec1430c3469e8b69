/**
 * Sad and SecurityAssociation: SPI rules (RFC 4303 §2.1, PROTOCOL.md B.8/F.9), SPI-only lookup,
 * outer-address acceptance (A.5), locator updates, make-before-break, slots, removal wiping keys,
 * and constructor validation.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Sad, SecurityAssociation, type SaInit } from '../../src/sad/index.js';
import { IroError } from '../../src/util/errors.js';
import { Drop } from '../../src/util/drop.js';
import { parseIp, formatIp } from '../../src/util/addr.js';
import { IPPROTO_TCP } from '../../src/packet/constants.js';
import { TrafficSelector } from '../../src/spd/index.js';
import { flow } from '../spd/flows.js';
import { FakeAead, FakeReplay, FakeSeq, inboundInit, outboundInit } from './fakes.js';

const code = (c: string) => (e: unknown) => e instanceof IroError && e.code === c;
const ip = (s: string): Uint8Array => parseIp(s)!;

test('SPIs 0 and 1-255 are refused with ERR_SPI_RESERVED, inbound and outbound (RFC 4303 §2.1)', () => {
  const sad = new Sad();
  for (const spi of [0, 1, 2, 100, 255]) {
    assert.throws(() => sad.install(inboundInit({ spi })), code('ERR_SPI_RESERVED'), `inbound ${spi}`);
    assert.throws(() => sad.install(outboundInit({ spi })), code('ERR_SPI_RESERVED'), `outbound ${spi}`);
  }
  assert.equal(sad.size, 0);
  assert.equal(sad.install(inboundInit({ spi: 256 })).spi, 256);
  assert.equal(sad.install(inboundInit({ spi: 0xffffffff })).spi, 0xffffffff);
  assert.throws(() => sad.install(inboundInit({ spi: 0x100000000 })), RangeError);
  assert.throws(() => sad.install(inboundInit({ spi: -1 })), RangeError);
  assert.throws(() => sad.install(inboundInit({ spi: 1.5 })), TypeError);
  assert.throws(() => sad.install(inboundInit({ spi: '300' as unknown as number })), TypeError);
});

test('a duplicate inbound SPI is refused whatever the peer, address or family (PROTOCOL.md F.9)', () => {
  const sad = new Sad();
  const first = sad.install(inboundInit({ spi: 0x2001 }));
  const aead = new FakeAead();
  const dup = inboundInit({
    spi: 0x2001,
    peer: 'other',
    identities: { local: '192.0.2.1', peer: '198.51.100.20' },
    selectors: new TrafficSelector({ local: ['192.0.2.1'], remote: ['198.51.100.20'] }),
    aead,
  });
  assert.throws(() => sad.install(dup), code('ERR_SPI_IN_USE'));
  // Nothing changed, and the caller still owns the refused SA's context.
  assert.equal(sad.size, 1);
  assert.equal(sad.lookupInbound(0x2001), first);
  assert.equal(aead.destroyed, 0);
  assert.equal(sad.install(inboundInit({ spi: 0x2002, peer: 'other' })).slot, 1);
  // Outbound SPIs are chosen by each peer: the same value for two peers is legitimate.
  sad.install(outboundInit({ spi: 0x1001 }));
  sad.install(outboundInit({ spi: 0x1001, peer: 'other' }));
  assert.equal(sad.outboundCount, 2);
  // An outbound SA does not occupy the inbound SPI space.
  sad.install(outboundInit({ spi: 0x3000 }));
  assert.ok(sad.install(inboundInit({ spi: 0x3000 })));
});

test('inbound lookup is by SPI only, including SPIs above 2^31', () => {
  const sad = new Sad();
  const a = sad.install(inboundInit({ spi: 0x2001 }));
  const b = sad.install(inboundInit({ spi: 0xfffffff0, peer: 'mn2' }));
  assert.equal(sad.lookupInbound(0x2001), a);
  assert.equal(sad.lookupInbound(0xfffffff0), b);
  assert.equal(sad.lookupInbound(0x2002), undefined);
  assert.equal(sad.lookupInbound(0), undefined);
  // Outbound SAs are never returned by the inbound lookup.
  sad.install(outboundInit({ spi: 0x1001 }));
  assert.equal(sad.lookupInbound(0x1001), undefined);
});

test('outer addresses: an IRO SA accepts any locator, a plain transport SA only its identities', () => {
  const sad = new Sad();
  const iro = sad.install(inboundInit({ spi: 0x2001, iro: true }));
  const plain = sad.install(inboundInit({ spi: 0x2002, iro: false, peer: 'mn2' }));
  const tunnel = sad.install(inboundInit({ spi: 0x2003, iro: false, mode: 'tunnel', peer: 'mn3' }));
  // The same SPI-found SA, whatever the outer addresses: HoA, or a CoA on another network.
  const wire = new Uint8Array(64);
  const put = (src: string, dst: string): void => {
    wire.set(ip(src), 8);
    wire.set(ip(dst), 24);
  };
  put('2001:db8:100::10', '2001:db8:100::1');
  for (const sa of [iro, plain, tunnel]) assert.equal(sa.acceptsOuter(wire, 8, wire, 24, 16), true);
  put('2001:db8:cafe::77', '2001:db8:100::1'); // the MN's CoA
  assert.equal(sad.lookupInbound(0x2001)!.acceptsOuter(wire, 8, wire, 24, 16), true);
  assert.equal(sad.lookupInbound(0x2002)!.acceptsOuter(wire, 8, wire, 24, 16), false);
  assert.equal(sad.lookupInbound(0x2003)!.acceptsOuter(wire, 8, wire, 24, 16), true);
  put('2001:db8:100::10', '2001:db8:100::2');
  assert.equal(plain.acceptsOuter(wire, 8, wire, 24, 16), false);
  // An IPv4 outer header on an IPv6-identity plain SA: refused.
  const v4 = new Uint8Array([192, 0, 2, 1, 198, 51, 100, 1]);
  assert.equal(plain.acceptsOuter(v4, 0, v4, 4, 4), false);
});

test('locator updates return the previous locators and only change outer addresses', () => {
  const sad = new Sad();
  const sa = sad.install(outboundInit());
  assert.equal(sa.localLocator, null);
  assert.equal(sa.peerLocator, null);
  assert.equal(formatIp(sa.outerPeer), '2001:db8:100::10');
  assert.equal(sa.peerPort, 4500);

  const coa = ip('2001:db8:cafe::77');
  const prev1 = sad.updateLocators(sa, { peer: coa });
  assert.deepEqual(prev1, { local: null, peer: null, peerPort: 4500 });
  coa.fill(0); // the SAD copied it
  assert.equal(formatIp(sa.peerLocator!), '2001:db8:cafe::77');
  assert.equal(formatIp(sa.outerPeer), '2001:db8:cafe::77');
  assert.equal(formatIp(sa.outerLocal), '2001:db8:100::1');
  assert.equal(formatIp(sa.identities.peer), '2001:db8:100::10');

  const prev2 = sad.updateLocators(sa, { peer: '2001:db8:beef::77', peerPort: 31000 });
  assert.equal(formatIp(prev2.peer!), '2001:db8:cafe::77');
  assert.equal(prev2.peerPort, 4500);
  assert.equal(sa.peerPort, 31000);

  // Back at home: a locator equal to the identity is stored as "none" (F.15).
  const prev3 = sad.updateLocators(sa, { peer: '2001:db8:100::10' });
  assert.equal(formatIp(prev3.peer!), '2001:db8:beef::77');
  assert.equal(sa.peerLocator, null);
  sad.updateLocators(sa, { local: '2001:db8:aa::1' });
  assert.equal(formatIp(sa.outerLocal), '2001:db8:aa::1');
  assert.equal(formatIp(sad.updateLocators(sa, { local: null }).local!), '2001:db8:aa::1');
  assert.equal(formatIp(sa.outerLocal), '2001:db8:100::1');
});

test('locator updates on an inbound SA leave the SPI lookup untouched', () => {
  const sad = new Sad();
  const sa = sad.install(inboundInit({ spi: 0x4242 }));
  sad.updateLocators(sa, { peer: '2001:db8:cafe::77', local: '2001:db8:aa::1' });
  assert.equal(sad.lookupInbound(0x4242), sa);
});

test('locator validation: family, plain transport SAs, uninstalled SAs, raw ESP ports', () => {
  const sad = new Sad();
  const sa = sad.install(outboundInit());
  // IPv6 identities over IPv4 locators (RFC 5555): an unset local locator lets the kernel pick a
  // source of the peer locator's family; two explicit locators must agree.
  sad.updateLocators(sa, { peer: '203.0.113.5' });
  assert.equal(formatIp(sa.peerLocator!), '203.0.113.5');
  assert.equal(sa.localLocator, null);
  assert.throws(() => sad.updateLocators(sa, { local: '2001:db8:aa::1' }), RangeError);
  sad.updateLocators(sa, { peer: '203.0.113.5', local: '192.0.2.50' });
  assert.equal(formatIp(sa.outerPeer), '203.0.113.5');
  assert.throws(() => sad.updateLocators(sa, { peer: 'not-an-address' }), RangeError);
  assert.throws(() => sad.updateLocators(sa, { peer: new Uint8Array(5) }), RangeError);
  assert.throws(() => sad.updateLocators(sa, { peerPort: 0 }), RangeError);

  const plain = sad.install(outboundInit({ iro: false, peer: 'cn' }));
  assert.throws(() => sad.updateLocators(plain, { peer: '2001:db8:cafe::77' }), RangeError);
  sad.updateLocators(plain, { peer: '2001:db8:100::10' }); // its own identity is fine
  // A tunnel SA moves its outer end point without IRO (RFC 3776, PROTOCOL.md D.2, F.14).
  const tunnel = sad.install(outboundInit({ iro: false, mode: 'tunnel', peer: 'mn-tunnel', encapsulation: 'esp' }));
  sad.updateLocators(tunnel, { peer: '2001:db8:cafe::77' });
  assert.equal(formatIp(tunnel.outerPeer), '2001:db8:cafe::77');
  assert.throws(() => sad.updateLocators(tunnel, { peerPort: 4501 }), RangeError);

  const other = new Sad();
  assert.throws(() => other.updateLocators(sa, { peer: null }), code('ERR_STATE'));
  sad.remove(sa);
  assert.throws(() => sad.updateLocators(sa, { peer: null }), code('ERR_STATE'));
});

test('removal destroys the AEAD context exactly once and unlinks the SA everywhere', () => {
  const sad = new Sad();
  const aead = new FakeAead();
  const sa = sad.install(inboundInit({ spi: 0x5000, aead }));
  sa.packets = 3;
  assert.equal(sa.installed, true);
  assert.equal(sad.remove(sa), true);
  assert.equal(aead.destroyed, 1);
  assert.deepEqual([...aead.key], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(sa.installed, false);
  assert.equal(sa.packets, 3); // still readable for a final report
  assert.equal(sad.lookupInbound(0x5000), undefined);
  assert.equal(sad.bySlot(sa.slot), undefined);
  assert.deepEqual(sad.byPeer('mn1'), []);
  assert.equal(sad.size, 0);
  assert.equal(sad.remove(sa), false);
  assert.equal(aead.destroyed, 1);
  // The SPI is free again.
  assert.ok(sad.install(inboundInit({ spi: 0x5000 })));
});

test('removeAll wipes every key', () => {
  const sad = new Sad();
  const aeads = [new FakeAead(), new FakeAead(), new FakeAead()];
  sad.install(inboundInit({ spi: 0x6000, aead: aeads[0]! }));
  sad.install(outboundInit({ spi: 0x6001, aead: aeads[1]! }));
  sad.install(inboundInit({ spi: 0x6002, aead: aeads[2]!, peer: 'mn2' }));
  assert.equal(sad.removeAll(), 3);
  assert.deepEqual(aeads.map((a) => a.destroyed), [1, 1, 1]);
  assert.equal(sad.size, 0);
  assert.deepEqual(sad.list(), []);
});

test('make-before-break: a new inbound SA for a peer does not remove the old one', () => {
  const sad = new Sad();
  const oldAead = new FakeAead();
  const oldSa = sad.install(inboundInit({ spi: 0x7000, aead: oldAead }));
  const newSa = sad.install(inboundInit({ spi: 0x7001 }));
  assert.equal(sad.lookupInbound(0x7000), oldSa);
  assert.equal(sad.lookupInbound(0x7001), newSa);
  assert.deepEqual(sad.byPeer('mn1'), [oldSa, newSa]);
  assert.equal(oldAead.destroyed, 0);
  sad.remove(oldSa);
  assert.equal(sad.lookupInbound(0x7000), undefined);
  assert.equal(sad.lookupInbound(0x7001), newSa);
  assert.deepEqual(sad.byPeer('mn1'), [newSa]);
});

test('slots: small, stable while installed, reused oldest-first, bounded', () => {
  const sad = new Sad({ maxSlots: 4 });
  const sas = [0, 1, 2, 3].map((i) => sad.install(inboundInit({ spi: 0x8000 + i, peer: `p${i}` })));
  assert.deepEqual(sas.map((s) => s.slot), [0, 1, 2, 3]);
  for (const s of sas) assert.equal(sad.bySlot(s.slot), s);
  assert.throws(() => sad.install(inboundInit({ spi: 0x8100 })), code('ERR_STATE'));
  sad.remove(sas[2]!);
  sad.remove(sas[0]!);
  assert.equal(sad.install(inboundInit({ spi: 0x8200 })).slot, 2);
  assert.equal(sad.install(inboundInit({ spi: 0x8201 })).slot, 0);
  assert.equal(sad.bySlot(1), sas[1]);
  assert.equal(sad.bySlot(-1), undefined);
  assert.equal(sad.bySlot(4), undefined);
  assert.deepEqual(sad.list().map((s) => s.spi), [0x8201, 0x8001, 0x8200, 0x8003]);
  assert.throws(() => new Sad({ maxSlots: 0 }), RangeError);
  assert.throws(() => new Sad({ maxSlots: 'many' as unknown as number }), TypeError);
});

test('crypto state is held by reference: outbound counter, inbound replay window', () => {
  const sad = new Sad();
  const seq = new FakeSeq();
  const out = sad.install(outboundInit({ seq }));
  assert.equal(out.seq, seq);
  assert.equal(out.replay, null);
  seq.hi = 1;
  seq.lo = 0;
  assert.equal(out.sequenceRatio(), 2 ** 32 / 2 ** 64);
  const replay = new FakeReplay(false);
  const inn = sad.install(inboundInit({ esn: false, aead: new FakeAead('aes128gcm16', false), replay }));
  assert.equal(inn.replay, replay);
  assert.equal(inn.seq, null);
  replay.commit(0, 2 ** 31);
  assert.equal(inn.sequenceRatio(), 0.5);
});

test('the SA selector check refuses a mismatching inner identity (RFC 4301 §5.2)', () => {
  const sad = new Sad();
  const sa = sad.install(
    inboundInit({
      mode: 'tunnel',
      iro: false,
      selectors: new TrafficSelector({ local: ['2001:db8:100::/48'], remote: ['2001:db8:100::10'] }),
    }),
  );
  const ok = flow({ src: '2001:db8:100::10', dst: '2001:db8:100::80', proto: IPPROTO_TCP });
  const spoofed = flow({ src: '2001:db8:100::11', dst: '2001:db8:100::80', proto: IPPROTO_TCP });
  assert.equal(sad.lookupInbound(sa.spi)!.selectors.matchInbound(ok), true);
  assert.equal(sad.lookupInbound(sa.spi)!.selectors.matchInbound(spoofed), false);
});

test('counters and info(): drops by reason label, no key material, spi in hex', () => {
  const sad = new Sad();
  const sa = sad.install(inboundInit({ spi: 0xc0ffee, createdAt: Date.UTC(2025, 0, 1) }));
  sa.countDrop(Drop.REPLAY);
  sa.countDrop(Drop.REPLAY);
  sa.countDrop(Drop.SELECTOR);
  sa.packets = 10;
  sa.bytes = 1500;
  sa.lastAuthRx = Date.UTC(2025, 0, 1, 0, 0, 5);
  sad.updateLocators(sa, { peer: '2001:db8:cafe::77' });
  const info = sa.info(Date.UTC(2025, 0, 1, 0, 1));
  assert.equal(info.spi, '0x00c0ffee');
  assert.equal(sa.dropCount(Drop.REPLAY), 2);
  assert.deepEqual(info.drops, { replay: 2, selector: 1 });
  assert.equal(info.packets, 10);
  assert.equal(info.bytes, 1500);
  assert.equal(info.lastAuthenticatedRx, '2025-01-01T00:00:05.000Z');
  assert.equal(info.createdAt, '2025-01-01T00:00:00.000Z');
  assert.deepEqual(info.locators, { local: null, peer: '2001:db8:cafe::77' });
  assert.deepEqual(info.identities, { local: '2001:db8:100::1', peer: '2001:db8:100::10' });
  assert.equal(info.lifetimeState, 'ok');
  assert.equal(info.replayWindow, 1024);
  assert.equal(info.peerPort, 4500);
  const text = JSON.stringify(sa);
  assert.ok(!/key/i.test(text), text);
  assert.equal(JSON.parse(text).spi, '0x00c0ffee');
});

test('constructor validation names the field', () => {
  const sad = new Sad();
  const cases: [Partial<SaInit>, new (...a: never[]) => Error, RegExp][] = [
    [{ direction: 'both' as 'in' }, RangeError, /sa\.direction/],
    [{ mode: 'beet' as 'tunnel' }, RangeError, /sa\.mode/],
    [{ suite: 'aes128cbc' as 'aes128gcm16' }, RangeError, /sa\.suite/],
    [{ esn: 1 as unknown as boolean }, TypeError, /sa\.esn/],
    [{ encapsulation: 'tcp' as 'udp' }, RangeError, /sa\.encapsulation/],
    [{ peerPort: 70000 }, RangeError, /sa\.peerPort/],
    [{ encapsulation: 'esp', peerPort: 4500 }, RangeError, /sa\.peerPort/],
    [{ peer: '' }, RangeError, /sa\.peer/],
    [{ identities: { local: '2001:db8::1', peer: '192.0.2.1' } }, RangeError, /sa\.identities/],
    [{ identities: { local: 'nope', peer: '2001:db8::1' } }, RangeError, /sa\.identities\.local/],
    [{ identities: { local: 42 as unknown as string, peer: '2001:db8::1' } }, TypeError, /sa\.identities\.local/],
    [{ selectors: {} as TrafficSelector }, TypeError, /sa\.selectors\.matchInbound/],
    [{ aead: new FakeAead('chacha20poly1305') }, RangeError, /sa\.aead\.suite/],
    [{ aead: new FakeAead('aes128gcm16', false) }, RangeError, /sa\.aead\.esn/],
    [{ replay: undefined }, TypeError, /sa\.replay/],
    [{ replay: new FakeReplay(false) }, RangeError, /sa\.replay\.esn/],
    [{ seq: new FakeSeq() }, RangeError, /sa\.seq/],
    [{ iro: false, locators: { peer: '2001:db8:cafe::1' } }, RangeError, /sa\.locators\.peer/],
    [{ locators: { peer: '203.0.113.9', local: '2001:db8:aa::1' } }, RangeError, /sa\.locators/],
    [{ lifetime: { soft: { bytes: 10 }, hard: { bytes: 5 } } }, RangeError, /sa\.lifetime\.soft\.bytes/],
    [{ lifetime: { hard: { seconds: -1 } } }, RangeError, /sa\.lifetime\.hard\.seconds/],
  ];
  for (const [o, type, re] of cases) {
    assert.throws(() => sad.install(inboundInit(o)), (e: unknown) => e instanceof type && re.test((e as Error).message), JSON.stringify(o));
  }
  assert.throws(() => sad.install(outboundInit({ seq: undefined })), (e: unknown) => e instanceof TypeError && /sa\.seq/.test((e as Error).message));
  assert.throws(() => sad.install(outboundInit({ replay: new FakeReplay() })), RangeError);
  assert.equal(sad.size, 0);
  // Initial locators are accepted (and copied) on an IRO SA.
  const sa = sad.install(inboundInit({ locators: { peer: ip('2001:db8:cafe::1'), local: null } }));
  assert.equal(formatIp(sa.outerPeer), '2001:db8:cafe::1');
  assert.ok(sa instanceof SecurityAssociation);
});
