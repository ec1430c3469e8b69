/**
 * Spd (RFC 4301 §4.4.1, §5.1, §5.2): ordered first match, actions, directions, changes, and a
 * randomized differential test of the compiled lookup against the linear scan.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Spd, Policy, PrefixIndex, inboundCleartextVerdict, DELIVER, type PolicyInit, type Direction } from '../../src/spd/index.js';
import { IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_TCP, IPPROTO_UDP } from '../../src/packet/constants.js';
import { newFlowTuple, type FlowTuple } from '../../src/packet/flow.js';
import { Drop } from '../../src/util/drop.js';
import { parseIp, parsePrefix, formatIp, type Prefix } from '../../src/util/addr.js';
import { flow } from './flows.js';
import { prng } from '../helpers/rng.js';

const HOA = '2001:db8:100::10';
const HOA4 = '198.51.100.10';
const HA = '2001:db8:100::1';

test('ordered first match: the earlier of two overlapping entries wins', () => {
  const spd = new Spd<string>([
    { name: 'ssh-clear', action: 'bypass', proto: IPPROTO_TCP, remotePort: 22, remote: ['2001:db8:100::/48'] },
    { name: 'mn', action: 'protect', ref: 'sa-mn', remote: [HOA] },
    { name: 'home', action: 'discard', remote: ['2001:db8:100::/48'] },
  ]);
  const ssh = flow({ src: HA, dst: HOA, proto: IPPROTO_TCP, srcPort: 50000, dstPort: 22 });
  const web = flow({ src: HA, dst: HOA, proto: IPPROTO_TCP, srcPort: 50000, dstPort: 443 });
  const other = flow({ src: HA, dst: '2001:db8:100::99', proto: IPPROTO_TCP, srcPort: 50000, dstPort: 443 });
  assert.equal(spd.lookupOutbound(ssh)?.name, 'ssh-clear');
  assert.equal(spd.lookupOutbound(web)?.name, 'mn');
  assert.equal(spd.lookupOutbound(web)?.ref, 'sa-mn');
  assert.equal(spd.lookupOutbound(other)?.name, 'home');
  assert.equal(spd.lookupOutbound(other)?.action, 'discard');
  // A more specific prefix later in the list does not win over an earlier broad one.
  spd.add({ name: 'broad-first', action: 'discard', remote: ['::/0'] }, { before: 'ssh-clear' });
  assert.equal(spd.lookupOutbound(ssh)?.name, 'broad-first');
  assert.equal(spd.lookupOutbound(web)?.name, 'broad-first');
  assert.deepEqual(spd.list().map((p) => p.name), ['broad-first', 'ssh-clear', 'mn', 'home']);
  assert.equal(spd.remove('broad-first'), true);
  assert.equal(spd.lookupOutbound(web)?.name, 'mn');
});

test('PROTECT carries the caller reference, BYPASS and DISCARD none; no match is null', () => {
  const spd = new Spd<number>([
    { name: 'ike', action: 'bypass', proto: IPPROTO_UDP, remotePort: [500, 500] },
    { name: 'drop-203', action: 'discard', remote: ['203.0.113.0/24'] },
    { name: 'peer4', action: 'protect', ref: 7, remote: [HOA4] },
  ]);
  const ike = spd.lookupOutbound(flow({ src: '192.0.2.1', dst: '203.0.113.5', proto: IPPROTO_UDP, srcPort: 500, dstPort: 500 }));
  assert.equal(ike?.action, 'bypass');
  assert.equal(ike?.ref, undefined);
  assert.equal(spd.lookupOutbound(flow({ src: '192.0.2.1', dst: '203.0.113.5', proto: IPPROTO_UDP, srcPort: 500, dstPort: 501 }))?.action, 'discard');
  const p = spd.lookupOutbound(flow({ src: '192.0.2.1', dst: HOA4, proto: IPPROTO_TCP }));
  assert.equal(p?.action, 'protect');
  assert.equal(p?.ref, 7);
  assert.equal(spd.lookupOutbound(flow({ src: '192.0.2.1', dst: '198.51.100.11', proto: IPPROTO_TCP })), null);
  const unparsed = newFlowTuple();
  assert.equal(spd.lookupOutbound(unparsed), null);
});

test('IPv4 and IPv6 entries do not leak into each other', () => {
  const spd = new Spd<number>([
    { name: 'v4-all', action: 'bypass', remote: ['0.0.0.0/0'], local: ['0.0.0.0/0'] },
    { name: 'v6-all', action: 'discard', remote: ['::/0'], local: ['::/0'] },
  ]);
  assert.equal(spd.lookupOutbound(flow({ src: '192.0.2.1', dst: '198.51.100.1' }))?.name, 'v4-all');
  assert.equal(spd.lookupOutbound(flow({ src: '2001:db8::1', dst: '2001:db8::2' }))?.name, 'v6-all');
  // An IPv4-mapped IPv6 flow is IPv6.
  assert.equal(spd.lookupOutbound(flow({ src: '::ffff:192.0.2.1', dst: '::ffff:198.51.100.1' }))?.name, 'v6-all');
});

test('inbound and outbound decisions differ: direction and the local/remote mapping', () => {
  const spd = new Spd<string>([
    // SPD-I only: accept IKE from anyone in clear.
    { name: 'ike-in', action: 'bypass', direction: 'in', proto: IPPROTO_UDP, localPort: 500 },
    // SPD-O only: never send Telnet.
    { name: 'no-telnet', action: 'discard', direction: 'out', proto: IPPROTO_TCP, remotePort: 23 },
    // Both: traffic with the MN is protected.
    { name: 'mn', action: 'protect', ref: 'mn', local: [HA], remote: [HOA] },
  ]);
  const ikeIn = flow({ src: HOA, dst: HA, proto: IPPROTO_UDP, srcPort: 500, dstPort: 500 });
  assert.equal(spd.lookupInbound(ikeIn)?.name, 'ike-in');
  // The same 5-tuple classified outbound reads HA as remote: only 'mn' could match, and it does not.
  assert.equal(spd.lookupOutbound(ikeIn), null);
  const ikeOut = flow({ src: HA, dst: HOA, proto: IPPROTO_UDP, srcPort: 500, dstPort: 500 });
  assert.equal(spd.lookupOutbound(ikeOut)?.name, 'mn');
  const telnetOut = flow({ src: HA, dst: HOA, proto: IPPROTO_TCP, srcPort: 40000, dstPort: 23 });
  const telnetIn = flow({ src: HOA, dst: HA, proto: IPPROTO_TCP, srcPort: 40000, dstPort: 23 });
  assert.equal(spd.lookupOutbound(telnetOut)?.name, 'no-telnet');
  assert.equal(spd.lookupInbound(telnetIn)?.name, 'mn');
  assert.equal(spd.lookup('in', telnetIn), spd.lookupInbound(telnetIn));
});

test('inboundCleartextVerdict (RFC 4301 §5.2): bypass delivers, protect means it should have been protected', () => {
  const spd = new Spd<number>([
    { name: 'icmp', action: 'bypass', proto: IPPROTO_ICMPV6, icmpType: [133, 137] },
    { name: 'mn', action: 'protect', ref: 1, remote: [HOA] },
    { name: 'rest', action: 'discard', remote: ['2001:db8:100::/48'] },
  ]);
  const v = (src: string, proto: number, type = 0): number => inboundCleartextVerdict(spd.lookupInbound(flow({ src, dst: HA, proto, srcPort: type })));
  assert.equal(v(HOA, IPPROTO_ICMPV6, 135), DELIVER);
  assert.equal(v(HOA, IPPROTO_TCP), Drop.UNPROTECTED);
  assert.equal(v('2001:db8:100::99', IPPROTO_TCP), Drop.POLICY_DISCARD);
  assert.equal(v('2001:db8:200::1', IPPROTO_TCP), Drop.NO_POLICY);
});

test('policy validation and SPD bookkeeping', () => {
  assert.throws(() => new Policy({ name: 'p', action: 'protect' } as PolicyInit<number>), (e: unknown) => e instanceof TypeError && /policy "p"\.ref/.test((e as Error).message));
  assert.throws(() => new Policy({ name: 'p', action: 'bypass', ref: 1 }), RangeError);
  assert.throws(() => new Policy({ name: 'p', action: 'allow' as 'bypass' }), (e: unknown) => e instanceof RangeError && /policy "p"\.action/.test((e as Error).message));
  assert.throws(() => new Policy({ name: 'p', action: 'bypass', direction: 'up' as 'in' }), RangeError);
  assert.throws(() => new Policy({ name: '', action: 'bypass' }), RangeError);
  assert.throws(() => new Policy({ name: 3 as unknown as string, action: 'bypass' }), TypeError);
  assert.throws(() => new Policy({ name: 'p', action: 'bypass', remote: ['x'] }), (e: unknown) => e instanceof RangeError && /policy "p"\.remote\[0\]/.test((e as Error).message));
  const spd = new Spd<number>([{ name: 'a', action: 'bypass' }]);
  assert.throws(() => spd.add({ name: 'a', action: 'discard' }), RangeError);
  assert.throws(() => spd.add({ name: 'b', action: 'discard' }, { before: 'zzz' }), RangeError);
  assert.equal(spd.size, 1);
  assert.equal(spd.remove('zzz'), false);
  assert.equal(spd.get('a')?.action, 'bypass');
  assert.deepEqual(spd.get('a')?.toJSON(), {
    name: 'a',
    action: 'bypass',
    direction: 'both',
    selector: { local: ['0.0.0.0/0', '::/0'], remote: ['0.0.0.0/0', '::/0'], proto: 'any' },
  });
});

test('changes after a lookup are seen by the next lookup (recompiled)', () => {
  const spd = new Spd<number>();
  const f = flow({ src: HA, dst: HOA, proto: IPPROTO_TCP });
  assert.equal(spd.lookupOutbound(f), null);
  spd.add({ name: 'mn', action: 'protect', ref: 1, remote: [HOA] });
  assert.equal(spd.lookupOutbound(f)?.ref, 1);
  spd.add({ name: 'deny', action: 'discard', remote: [HOA] }, { before: 'mn' });
  spd.compile();
  assert.equal(spd.lookupOutbound(f)?.name, 'deny');
  spd.remove('deny');
  assert.equal(spd.lookupOutbound(f)?.name, 'mn');
});

test('entries filed on the local side (local more specific than remote) are found', () => {
  const spd = new Spd<number>([
    { name: 'from-ha', action: 'protect', ref: 1, local: [HA], remote: ['::/0'] },
    { name: 'from-192', action: 'bypass', local: ['192.0.2.7/32'], remote: ['0.0.0.0/0'] },
  ]);
  assert.equal(spd.lookupOutbound(flow({ src: HA, dst: '2001:db8:999::1' }))?.name, 'from-ha');
  assert.equal(spd.lookupInbound(flow({ src: '2001:db8:999::1', dst: HA }))?.name, 'from-ha');
  assert.equal(spd.lookupOutbound(flow({ src: '2001:db8:999::1', dst: HA })), null);
  assert.equal(spd.lookupOutbound(flow({ src: '192.0.2.7', dst: '203.0.113.1' }))?.name, 'from-192');
  assert.equal(spd.lookupOutbound(flow({ src: '192.0.2.8', dst: '203.0.113.1' })), null);
});

test('10,000 per-peer entries: every peer finds its own entry', () => {
  const inits: PolicyInit<number>[] = [{ name: 'ike', action: 'bypass', proto: IPPROTO_UDP, remotePort: 500 }];
  const addr6 = (i: number): string => `2001:db8:100::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
  for (let i = 0; i < 10_000; i++) inits.push({ name: `peer${i}`, action: 'protect', ref: i, remote: [addr6(i)] });
  const spd = new Spd<number>(inits);
  for (let i = 0; i < 10_000; i += 37) {
    assert.equal(spd.lookupOutbound(flow({ src: HA, dst: addr6(i), proto: IPPROTO_TCP }))?.ref, i);
    assert.equal(spd.lookupInbound(flow({ src: addr6(i), dst: HA, proto: IPPROTO_TCP }))?.ref, i);
  }
  assert.equal(spd.lookupOutbound(flow({ src: HA, dst: addr6(10_001), proto: IPPROTO_TCP })), null);
});

test('PrefixIndex: one table per distinct length, buckets sorted by order', () => {
  const p = (s: string): Prefix => parsePrefix(s)!;
  const ix6 = PrefixIndex.build(6, [
    { prefix: p('2001:db8::/32'), order: 5 },
    { prefix: p('2001:db8::/32'), order: 2 },
    { prefix: p('2001:db8:1::/48'), order: 1 },
    { prefix: p('::/0'), order: 9 },
  ]);
  assert.equal(ix6.lengthCount, 3);
  const a = new Uint8Array(16);
  a.set(parseIp('2001:db8:1::5')!);
  const buckets: number[][] = [];
  for (let i = 0; i < ix6.lengthCount; i++) {
    const b = ix6.find(i, a);
    assert.ok(b >= 0);
    buckets.push([...ix6.items.subarray(ix6.start[b]!, ix6.end[b]!)]);
  }
  assert.deepEqual(buckets, [[1], [2, 5], [9]]); // lengths 48, 32, 0
  a.set(parseIp('2001:db9::1')!);
  assert.deepEqual([0, 1, 2].map((i) => ix6.find(i, a) >= 0), [false, false, true]);
  const ix4 = PrefixIndex.build(4, [{ prefix: p('192.0.2.128/25'), order: 0 }]);
  const b4 = new Uint8Array(16);
  b4.set(parseIp('192.0.2.200')!);
  assert.equal(ix4.find(0, b4), 0);
  b4.set(parseIp('192.0.2.100')!);
  assert.equal(ix4.find(0, b4), -1);
  assert.throws(() => PrefixIndex.build(4, [{ prefix: p('2001:db8::/32'), order: 0 }]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Differential test: compiled lookup vs the naive ordered scan, random SPDs and flows.


const V6_BASES = ['2001:db8::', '2001:db8:1::', '2001:db8:1:2::', '2001:db8:ff00::', '2001:db8:1:2:3:4:5:0'].map((s) => parseIp(s)!);
const V4_BASES = ['192.0.2.0', '198.51.100.0', '203.0.113.0'].map((s) => parseIp(s)!);
const V6_LENS = [0, 32, 40, 48, 64, 96, 112, 120, 125, 127, 128];
const V4_LENS = [0, 24, 25, 27, 30, 31, 32];
const PORTS = [0, 22, 53, 80, 443, 500, 4500, 65535];
const PROTOS = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_ESP];

interface DrawnPolicy {
  local: Prefix[] | undefined;
  remote: Prefix[] | undefined;
  proto: number | undefined;
  a: number | [number, number] | undefined;
  b: number | [number, number] | undefined;
}

class Gen {
  readonly rnd: () => number;
  /** Policies drawn so far: most flows are aimed at one of them so that many different entries match. */
  readonly drawn: DrawnPolicy[] = [];
  constructor(seed: number) {
    this.rnd = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A documentation address: a base with random low bits (IPv6: only the last 32 bits vary, sparsely). */
  addr(family: 4 | 6): Uint8Array {
    const a = new Uint8Array(this.pick(family === 4 ? V4_BASES : V6_BASES));
    if (family === 4) a[3] = this.int(4) === 0 ? this.pick([0, 1, 127, 128, 255]) : this.int(256);
    else for (let i = 12; i < 16; i++) if (this.int(3) === 0) a[i] = this.int(4) === 0 ? this.pick([0, 1, 0x80, 0xff]) : this.int(256);
    return a;
  }
  prefix(family: 4 | 6): Prefix {
    // Mostly long prefixes (per-peer entries), sometimes short ones that overlap many others.
    const lens = family === 4 ? V4_LENS : V6_LENS;
    const len = this.int(4) === 0 ? this.pick(lens) : lens[lens.length - 1 - this.int(3)]!;
    return { addr: this.addr(family), len };
  }
  prefixList(): Prefix[] | undefined {
    if (this.int(16) === 0) return undefined;
    const n = 1 + this.int(3);
    const fam = this.int(3);
    return Array.from({ length: n }, () => this.prefix(fam === 0 ? 4 : fam === 1 ? 6 : this.pick([4, 6] as const)));
  }
  range(pool: readonly number[]): number | [number, number] {
    const a = this.pick(pool);
    if (this.int(2) === 0) return a;
    const b = this.pick(pool);
    return [Math.min(a, b), Math.max(a, b)];
  }
  policy(i: number): PolicyInit<number> {
    const action = this.pick(['protect', 'bypass', 'discard'] as const);
    const init: Record<string, unknown> = { name: `p${i}`, action, direction: this.pick(['out', 'in', 'both'] as const) };
    if (action === 'protect') init['ref'] = i;
    const d: DrawnPolicy = { local: this.prefixList(), remote: this.prefixList(), proto: undefined, a: undefined, b: undefined };
    if (d.local) init['local'] = d.local;
    if (d.remote) init['remote'] = d.remote;
    if (this.int(3) !== 0) {
      const proto = this.pick(PROTOS);
      d.proto = init['proto'] = proto;
      if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
        if (this.int(2) === 0) d.a = init['localPort'] = this.range(PORTS);
        if (this.int(2) === 0) d.b = init['remotePort'] = this.range(PORTS);
      } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
        if (this.int(2) === 0) d.a = init['icmpType'] = this.range([0, 3, 8, 128, 129, 135, 255]);
        if (this.int(2) === 0) d.b = init['icmpCode'] = this.range([0, 1, 4]);
      } else if (proto === IPPROTO_MH && this.int(2) === 0) {
        d.a = init['mhType'] = this.range([0, 5, 6, 11]);
      }
    }
    this.drawn.push(d);
    return init as unknown as PolicyInit<number>;
  }
  /** A random address inside `p` (host bits random). */
  inside(p: Prefix): Uint8Array {
    const a = this.addr(p.addr.length === 4 ? 4 : 6);
    for (let bit = 0; bit < p.len; bit++) {
      const m = 0x80 >> (bit & 7);
      a[bit >> 3] = (a[bit >> 3]! & ~m) | (p.addr[bit >> 3]! & m);
    }
    return a;
  }
  value(r: number | [number, number] | undefined, pool: readonly number[]): number {
    if (r === undefined || this.int(4) === 0) return this.pick(pool);
    if (typeof r === 'number') return r;
    return r[0] + this.int(r[1] - r[0] + 1);
  }
  /** A flow aimed at a drawn policy (3 in 4), in a random direction, or an unrelated random flow. */
  flow(): FlowTuple {
    const f = newFlowTuple();
    const d = this.drawn.length > 0 && this.int(4) !== 0 ? this.pick(this.drawn) : undefined;
    const family = this.pick([4, 6] as const);
    const n = family === 4 ? 4 : 16;
    const near = (list: Prefix[] | undefined): Uint8Array => {
      const cands = (list ?? []).filter((p) => p.addr.length === n);
      return cands.length > 0 ? this.inside(this.pick(cands)) : this.addr(family);
    };
    const local = near(d?.local);
    const remote = near(d?.remote);
    const out = this.int(2) === 0;
    f.family = family;
    f.src.set(out ? local : remote);
    f.dst.set(out ? remote : local);
    f.proto = d?.proto !== undefined && this.int(5) !== 0 ? d.proto : this.pick(PROTOS);
    const pa = this.value(d?.a, PORTS);
    const pb = this.value(d?.b, PORTS);
    if (f.proto === IPPROTO_TCP || f.proto === IPPROTO_UDP) {
      f.srcPort = out ? pa : pb;
      f.dstPort = out ? pb : pa;
    } else if (f.proto === IPPROTO_ICMP || f.proto === IPPROTO_ICMPV6 || f.proto === IPPROTO_MH) {
      f.srcPort = pa & 0xff;
      f.dstPort = pb & 0xff;
    }
    f.fragment = this.int(10) === 0;
    return f;
  }
}

function describe(f: FlowTuple): string {
  const n = f.family === 4 ? 4 : 16;
  return `${formatIp(f.src.subarray(0, n))} -> ${formatIp(f.dst.subarray(0, n))} proto ${f.proto} ${f.srcPort}/${f.dstPort}${f.fragment ? ' frag' : ''}`;
}

function compareAll(spd: Spd<number>, flows: readonly FlowTuple[], seed: number): { hits: number; distinct: number } {
  let hits = 0;
  const seen = new Set<string>();
  for (const f of flows) {
    for (const dir of ['out', 'in'] as Direction[]) {
      const fast = spd.lookup(dir, f);
      const slow = spd.scan(dir, f);
      if (fast !== slow) {
        assert.fail(`seed ${seed}, ${dir} ${describe(f)}: compiled lookup gave ${fast?.name ?? 'null'}, scan gave ${slow?.name ?? 'null'}`);
      }
      if (slow) {
        hits++;
        seen.add(slow.name);
      }
    }
  }
  return { hits, distinct: seen.size };
}

test('differential: compiled lookup equals the ordered scan on random SPDs and flows', () => {
  const SEEDS = [1, 2, 3, 4, 5, 0xdecafbad, 20251125];
  let lookups = 0;
  let misses = 0;
  for (const seed of SEEDS) {
    const g = new Gen(seed);
    const spd = new Spd<number>();
    let made = 0;
    while (spd.size < 250) {
      try {
        spd.add(g.policy(made++));
      } catch (e) {
        // Random local/remote lists may share no family: a RangeError by design; draw again.
        if (!(e instanceof RangeError && /share no address family/.test(e.message))) throw e;
      }
    }
    const flows = Array.from({ length: 2500 }, () => g.flow());
    const r = compareAll(spd, flows, seed);
    // Meaningful only if many lookups match, many different entries win, and some match nothing.
    assert.ok(r.hits > flows.length / 2, `seed ${seed}: only ${r.hits} of ${flows.length * 2} lookups matched`);
    assert.ok(r.distinct > 30, `seed ${seed}: only ${r.distinct} distinct entries hit`);
    lookups += flows.length * 2;
    misses += flows.length * 2 - r.hits;

    // Change the SPD (removals, insertions in the middle) and compare again.
    for (let i = 0; i < 60; i++) spd.remove(`p${g.int(made)}`);
    const names = spd.list().map((p) => p.name);
    for (let i = 0; i < 40; i++) {
      try {
        spd.add(g.policy(made++), { before: g.pick(names) });
      } catch (e) {
        if (!(e instanceof RangeError && /share no address family/.test(e.message))) throw e;
      }
    }
    compareAll(spd, flows, seed);
  }
  assert.ok(misses > lookups / 10, `only ${misses} of ${lookups} lookups matched nothing`);
});
