/**
 * TrafficSelector (RFC 4301 §4.4.1.1): every selector kind, both families, the local/remote
 * mapping by direction, OPAQUE (fragments), validation, and the RFC 4301 §5.2 post-decryption
 * check (PROTOCOL.md F.11).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { TrafficSelector } from '../../src/spd/index.js';
import { IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_TCP, IPPROTO_UDP } from '../../src/packet/constants.js';
import { parsePrefix } from '../../src/util/addr.js';
import { flow } from './flows.js';

test('an empty selector is ANY: both families, every protocol, fragments too', () => {
  const s = new TrafficSelector();
  for (const dir of ['out', 'in'] as const) {
    assert.equal(s.matches(flow({ src: '2001:db8::1', dst: '2001:db8:1::2', proto: IPPROTO_TCP, srcPort: 1, dstPort: 2 }), dir), true);
    assert.equal(s.matches(flow({ src: '192.0.2.1', dst: '198.51.100.2', proto: IPPROTO_UDP, fragment: true }), dir), true);
  }
  assert.deepEqual(s.toJSON(), { local: ['0.0.0.0/0', '::/0'], remote: ['0.0.0.0/0', '::/0'], proto: 'any' });
});

test('a flow of family 0 (unparsed packet) never matches', () => {
  const f = flow({ src: '192.0.2.1', dst: '192.0.2.2' });
  f.family = 0;
  assert.equal(new TrafficSelector().matches(f, 'out'), false);
});

test('local/remote addresses map to src/dst by direction', () => {
  const s = new TrafficSelector({ local: ['2001:db8:1::/48'], remote: ['2001:db8:2::/48'] });
  const fromLocal = flow({ src: '2001:db8:1::10', dst: '2001:db8:2::20' });
  const fromRemote = flow({ src: '2001:db8:2::20', dst: '2001:db8:1::10' });
  assert.equal(s.matches(fromLocal, 'out'), true);
  assert.equal(s.matchOutbound(fromLocal), true);
  assert.equal(s.matches(fromLocal, 'in'), false);
  assert.equal(s.matches(fromRemote, 'in'), true);
  assert.equal(s.matchInbound(fromRemote), true);
  assert.equal(s.matches(fromRemote, 'out'), false);
  assert.equal(s.matches(flow({ src: '2001:db8:1::10', dst: '2001:db8:3::20' }), 'out'), false);
});

test('prefix lists: any listed prefix matches; IPv4 and IPv6 in one list', () => {
  const s = new TrafficSelector({
    local: ['192.0.2.0/24', '2001:db8:100::/64'],
    remote: ['198.51.100.7', '203.0.113.0/25', '2001:db8:200::1/128'],
  });
  assert.equal(s.matches(flow({ src: '192.0.2.9', dst: '198.51.100.7' }), 'out'), true);
  assert.equal(s.matches(flow({ src: '192.0.2.9', dst: '198.51.100.8' }), 'out'), false);
  assert.equal(s.matches(flow({ src: '192.0.2.9', dst: '203.0.113.127' }), 'out'), true);
  assert.equal(s.matches(flow({ src: '192.0.2.9', dst: '203.0.113.128' }), 'out'), false);
  assert.equal(s.matches(flow({ src: '2001:db8:100::5', dst: '2001:db8:200::1' }), 'out'), true);
  assert.equal(s.matches(flow({ src: '2001:db8:100:1::5', dst: '2001:db8:200::1' }), 'out'), false);
  assert.equal(s.matches(flow({ src: '2001:db8:100::5', dst: '2001:db8:200::2' }), 'out'), false);
});

test('a family present on one side only never matches that family', () => {
  const s = new TrafficSelector({ local: ['192.0.2.0/24'] });
  assert.equal(s.matches(flow({ src: '192.0.2.1', dst: '198.51.100.1' }), 'out'), true);
  assert.equal(s.matches(flow({ src: '2001:db8::1', dst: '2001:db8::2' }), 'out'), false);
});

test('prefixes are normalized (host bits cleared) and Prefix objects accepted', () => {
  const s = new TrafficSelector({ local: ['2001:db8::1/32'], remote: [parsePrefix('192.0.2.77/24')!, '::/0'] });
  assert.deepEqual(s.toJSON().local, ['2001:db8::/32']);
  assert.deepEqual(s.toJSON().remote, ['192.0.2.0/24', '::/0']);
});

test('next-layer protocol', () => {
  const s = new TrafficSelector({ proto: IPPROTO_ESP });
  assert.equal(s.matches(flow({ src: '192.0.2.1', dst: '192.0.2.2', proto: IPPROTO_ESP }), 'out'), true);
  assert.equal(s.matches(flow({ src: '192.0.2.1', dst: '192.0.2.2', proto: IPPROTO_UDP }), 'out'), false);
});

test('ports map local/remote by direction (TCP, UDP)', () => {
  // A local SSH server: local port 22, remote ephemeral ports.
  const s = new TrafficSelector({ proto: IPPROTO_TCP, localPort: 22, remotePort: [1024, 65535] });
  const reply = flow({ src: '192.0.2.1', dst: '198.51.100.9', proto: IPPROTO_TCP, srcPort: 22, dstPort: 40000 });
  const request = flow({ src: '198.51.100.9', dst: '192.0.2.1', proto: IPPROTO_TCP, srcPort: 40000, dstPort: 22 });
  assert.equal(s.matches(reply, 'out'), true);
  assert.equal(s.matches(request, 'in'), true);
  assert.equal(s.matches(request, 'out'), false);
  assert.equal(s.matches(reply, 'in'), false);
  assert.equal(s.matches(flow({ src: '198.51.100.9', dst: '192.0.2.1', proto: IPPROTO_TCP, srcPort: 1023, dstPort: 22 }), 'in'), false);
  assert.equal(s.matches(flow({ src: '198.51.100.9', dst: '192.0.2.1', proto: IPPROTO_UDP, srcPort: 40000, dstPort: 22 }), 'in'), false);
  const udp = new TrafficSelector({ proto: IPPROTO_UDP, remotePort: [500, 500] });
  assert.equal(udp.matches(flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 500, dstPort: 500 }), 'out'), true);
  assert.equal(udp.matches(flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 500, dstPort: 4500 }), 'out'), false);
  assert.deepEqual(s.toJSON(), { local: ['0.0.0.0/0', '::/0'], remote: ['0.0.0.0/0', '::/0'], proto: 6, localPort: 22, remotePort: [1024, 65535] });
});

test('ICMP type/code use the FlowTuple encoding and do not depend on the direction', () => {
  const echo = new TrafficSelector({ proto: IPPROTO_ICMPV6, icmpType: 128, icmpCode: 0 });
  const req = flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_ICMPV6, srcPort: 128, dstPort: 0 });
  assert.equal(echo.matches(req, 'out'), true);
  assert.equal(echo.matches(req, 'in'), true);
  assert.equal(echo.matches(flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_ICMPV6, srcPort: 129, dstPort: 0 }), 'out'), false);
  assert.equal(echo.matches(flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_ICMPV6, srcPort: 128, dstPort: 1 }), 'out'), false);
  const unreach = new TrafficSelector({ proto: IPPROTO_ICMP, icmpType: 3 });
  assert.equal(unreach.matches(flow({ src: '192.0.2.1', dst: '192.0.2.2', proto: IPPROTO_ICMP, srcPort: 3, dstPort: 4 }), 'in'), true);
  assert.equal(unreach.matches(flow({ src: '192.0.2.1', dst: '192.0.2.2', proto: IPPROTO_ICMP, srcPort: 8, dstPort: 0 }), 'in'), false);
  assert.deepEqual(echo.toJSON().icmpType, 128);
  assert.deepEqual(echo.toJSON().icmpCode, 0);
});

test('MH type (RFC 6275 §6.1) is the FlowTuple srcPort', () => {
  const bu = new TrafficSelector({ proto: IPPROTO_MH, mhType: 5 });
  assert.equal(bu.matches(flow({ src: '2001:db8::10', dst: '2001:db8::1', proto: IPPROTO_MH, srcPort: 5 }), 'out'), true);
  assert.equal(bu.matches(flow({ src: '2001:db8::10', dst: '2001:db8::1', proto: IPPROTO_MH, srcPort: 6 }), 'out'), false);
  assert.equal(bu.toJSON().mhType, 5);
});

test('OPAQUE: a non-first fragment matches only selectors whose ports/types are ANY', () => {
  const frag = flow({ src: '192.0.2.1', dst: '192.0.2.2', proto: IPPROTO_UDP, fragment: true });
  assert.equal(new TrafficSelector({ proto: IPPROTO_UDP }).matches(frag, 'out'), true);
  assert.equal(new TrafficSelector({ proto: IPPROTO_UDP, localPort: [0, 65535] }).matches(frag, 'out'), true);
  assert.equal(new TrafficSelector({ proto: IPPROTO_UDP, remotePort: 0 }).matches(frag, 'out'), false);
  const icmpFrag = flow({ src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_ICMPV6, srcPort: 128, fragment: true });
  assert.equal(new TrafficSelector({ proto: IPPROTO_ICMPV6, icmpType: 128 }).matches(icmpFrag, 'out'), false);
});

test('validation names the field (TypeError for types, RangeError for values)', () => {
  const cases: [unknown, new (...a: never[]) => Error, RegExp][] = [
    [{ local: ['2001:db8::/129'] }, RangeError, /selector\.local\[0\]/],
    [{ remote: ['192.0.2.0/24', 'nonsense'] }, RangeError, /selector\.remote\[1\]/],
    [{ remote: [] }, RangeError, /selector\.remote must not be empty/],
    [{ remote: '192.0.2.0/24' }, TypeError, /selector\.remote must be an array/],
    [{ remote: [42] }, TypeError, /selector\.remote\[0\]/],
    [{ proto: 256 }, RangeError, /selector\.proto/],
    [{ proto: 'tcp' }, TypeError, /selector\.proto/],
    [{ localPort: 22 }, RangeError, /selector\.localPort needs selector\.proto/],
    [{ proto: IPPROTO_TCP, localPort: 70000 }, RangeError, /selector\.localPort/],
    [{ proto: IPPROTO_TCP, remotePort: [10, 5] }, RangeError, /selector\.remotePort must have lo <= hi/],
    [{ proto: IPPROTO_TCP, remotePort: [1, 2, 3] }, TypeError, /selector\.remotePort/],
    [{ proto: IPPROTO_UDP, icmpType: 1 }, RangeError, /selector\.icmpType needs/],
    [{ proto: IPPROTO_ICMP, icmpCode: 256 }, RangeError, /selector\.icmpCode/],
    [{ proto: IPPROTO_TCP, mhType: 5 }, RangeError, /selector\.mhType needs/],
    [{ local: ['192.0.2.0/24'], remote: ['2001:db8::/32'] }, RangeError, /share no address family/],
  ];
  for (const [init, type, re] of cases) {
    assert.throws(() => new TrafficSelector(init as never), (e: unknown) => e instanceof type && re.test((e as Error).message), JSON.stringify(init));
  }
});

test('the caller keeps ownership of the prefixes it passed', () => {
  const p = parsePrefix('2001:db8:5::/48')!;
  const s = new TrafficSelector({ remote: [p] });
  p.addr.fill(0xff);
  assert.equal(s.matches(flow({ src: '2001:db8::1', dst: '2001:db8:5::1' }), 'out'), true);
});

// RFC 4301 §5.2 / PROTOCOL.md F.11: the check runs on the restored packet.
test('post-decryption check, tunnel SA: a mismatching inner identity is refused', () => {
  // The HA's inbound tunnel SA from one MN: inner src must be that MN's HoA, dst in the home network.
  const sel = new TrafficSelector({ local: ['2001:db8:100::/48', '192.0.2.0/24'], remote: ['2001:db8:100::10/128', '198.51.100.10/32'] });
  assert.equal(sel.matchInbound(flow({ src: '2001:db8:100::10', dst: '2001:db8:100::1', proto: IPPROTO_TCP, srcPort: 40000, dstPort: 443 })), true);
  assert.equal(sel.matchInbound(flow({ src: '198.51.100.10', dst: '192.0.2.80', proto: IPPROTO_UDP, srcPort: 5353, dstPort: 53 })), true);
  // Another MN's HoA smuggled inside this MN's SA: refused.
  assert.equal(sel.matchInbound(flow({ src: '2001:db8:100::11', dst: '2001:db8:100::1', proto: IPPROTO_TCP })), false);
  assert.equal(sel.matchInbound(flow({ src: '198.51.100.11', dst: '192.0.2.80', proto: IPPROTO_UDP })), false);
  // Destination outside the protected network: refused.
  assert.equal(sel.matchInbound(flow({ src: '2001:db8:100::10', dst: '2001:db8:999::1', proto: IPPROTO_TCP })), false);
});

test('post-decryption check, IRO transport SA: passes on identities, fails on unrestored CoAs', () => {
  // HA side of the MN's BU SA: remote = HoA, local = HA address, MH only.
  const sel = new TrafficSelector({ local: ['2001:db8:100::1'], remote: ['2001:db8:100::10'], proto: IPPROTO_MH });
  const restored = flow({ src: '2001:db8:100::10', dst: '2001:db8:100::1', proto: IPPROTO_MH, srcPort: 5 });
  const onWire = flow({ src: '2001:db8:cafe::10', dst: '2001:db8:100::1', proto: IPPROTO_MH, srcPort: 5 });
  assert.equal(sel.matchInbound(restored), true);
  assert.equal(sel.matchInbound(onWire), false);
  assert.equal(sel.matchInbound(flow({ src: '2001:db8:100::10', dst: '2001:db8:100::1', proto: IPPROTO_TCP })), false);
});
