/**
 * Micro benchmark: a gateway's per-packet classification and SA lookup at 10, 1,000 and 10,000
 * peers (THROUGHPUT issue; spd/ + sad/).
 *
 * Each peer has a PROTECT entry for its IPv6 HoA /128 and IPv4 /32, an inbound and an outbound
 * tunnel SA; a few shared BYPASS/DISCARD entries come first and a default DISCARD last.
 *   outbound: SPD lookup (flow.src = local, flow.dst = HoA) -> entry.ref -> outbound SA by slot
 *   inbound:  SAD lookup by SPI -> SA selector check on the decrypted flow (RFC 4301 §5.2)
 * Flows are random over all peers. Before timing, the compiled lookup is cross-checked against
 * the linear scan and every result against the peer the flow was made for. Reported per size:
 * ns/lookup (after warm-up, best of 5 runs) for both paths and for the linear scan, heap bytes allocated per
 * lookup, and heap bytes per configured peer (SAs + SPD entries, minimal crypto objects).
 *
 * Addresses: IPv6 from 2001:db8::/32 (RFC 3849); IPv4 peers from 198.18.0.0/15, the range
 * reserved for benchmarks (RFC 2544 App. C.2.2, RFC 6890), since the documentation /24s hold
 * fewer than 10,000 addresses.
 *
 * Run: `node --expose-gc dist/bench/classify.js` (re-runs itself with --expose-gc if needed).
 * Writes bench/results/classify-<ISO 8601 basic UTC time>.json and prints a table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AeadContext, ReplayWindow } from '../src/esp/types.js';
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../src/packet/constants.js';
import { newFlowTuple, type FlowTuple } from '../src/packet/flow.js';
import { Sad, type SeqCounter } from '../src/sad/index.js';
import { Spd, TrafficSelector, type PolicyInit } from '../src/spd/index.js';
import { parseIp } from '../src/util/addr.js';

const SIZES = [10, 1_000, 10_000];
const FLOW_COUNT = 4096; // power of two: index with a mask
const WARMUP = 300_000;
const TIMED = 2_000_000;
const REPEATS = 5;
const ALLOC_RUN = 1_000_000;
/** The linear scan costs O(entries): bound its total work instead of its iterations. */
const SCAN_WORK = 30_000_000;
const CROSS_CHECK = 2000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}
const collect = gc as () => void;

// --- minimal crypto objects (no keys): what a configured peer costs besides its real key schedule

class BenchAead implements AeadContext {
  readonly suite = 'aes128gcm16' as const;
  readonly backend = 'node' as const;
  readonly esn = true;
  seal(): void {}
  open(): boolean {
    return true;
  }
  destroy(): void {}
}

class BenchReplay implements ReplayWindow {
  readonly size = 1024;
  readonly esn = true;
  topHi = 0;
  topLo = 0;
  check(): number {
    return 0;
  }
  commit(hi: number, lo: number): void {
    this.topHi = hi;
    this.topLo = lo;
  }
}

class BenchSeq implements SeqCounter {
  hi = 0;
  lo = 0;
  next(): boolean {
    this.lo = (this.lo + 1) >>> 0;
    if (this.lo === 0) this.hi++;
    return true;
  }
}

// --- the gateway configuration

const HA6 = '2001:db8:1::1';
const IN_SPI_BASE = 0x0010_0000;
const OUT_SPI_BASE = 0x0020_0000;

function hoa6(i: number): string {
  const n = i + 1;
  return `2001:db8:100::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
}

function hoa4(i: number): string {
  const n = i + 1; // 198.18.0.0/15 holds 131,072 addresses
  return `198.${18 + (n >>> 16)}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

interface Gateway {
  readonly sad: Sad;
  readonly spd: Spd<number>;
  /** Outbound SA slot of peer i. */
  readonly outSlot: Int32Array;
}

function buildGateway(peers: number): Gateway {
  const sad = new Sad({ maxSlots: peers * 2 + 16 });
  const outSlot = new Int32Array(peers);
  const inits: PolicyInit<number>[] = [
    { name: 'ike', action: 'bypass', proto: IPPROTO_UDP, localPort: 500 },
    { name: 'ike-natt', action: 'bypass', proto: IPPROTO_UDP, localPort: 4500 },
    { name: 'nd', action: 'bypass', proto: IPPROTO_ICMPV6, icmpType: [133, 137] },
    { name: 'blocked', action: 'discard', remote: ['203.0.113.0/24'] },
  ];
  for (let i = 0; i < peers; i++) {
    const name = `mn${i}`;
    const remote = [hoa6(i), hoa4(i)];
    inits.push({ name, action: 'protect', ref: i, remote });
    const selectors = new TrafficSelector({ remote });
    const common = {
      mode: 'tunnel',
      suite: 'aes128gcm16',
      esn: true,
      encapsulation: 'udp',
      identities: { local: HA6, peer: hoa6(i) },
      selectors,
      peer: name,
    } as const;
    sad.install({ ...common, spi: IN_SPI_BASE + i, direction: 'in', aead: new BenchAead(), replay: new BenchReplay() });
    outSlot[i] = sad.install({ ...common, spi: OUT_SPI_BASE + i, direction: 'out', aead: new BenchAead(), seq: new BenchSeq() }).slot;
  }
  inits.push({ name: 'default-deny', action: 'discard' });
  const spd = new Spd<number>(inits);
  spd.compile();
  return { sad, spd, outSlot };
}

// --- flows

/** xorshift32: deterministic flows, so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

interface FlowSet {
  /** Outbound: src = home network, dst = the peer's HoA. */
  readonly out: FlowTuple[];
  /** Inbound: the decrypted inner flow (src = HoA, dst = home network) and the SPI it came with. */
  readonly inFlows: FlowTuple[];
  readonly spi: Uint32Array;
  readonly peer: Int32Array;
}

function makeFlows(peers: number): FlowSet {
  const next = rng(0x1234567 + peers);
  const out: FlowTuple[] = [];
  const inFlows: FlowTuple[] = [];
  const spi = new Uint32Array(FLOW_COUNT);
  const peer = new Int32Array(FLOW_COUNT);
  const home6 = parseIp('2001:db8:1::')!;
  const home4 = parseIp('192.0.2.0')!;
  for (let k = 0; k < FLOW_COUNT; k++) {
    const i = next() % peers;
    const v6 = (next() & 1) === 0;
    const local = new Uint8Array(v6 ? home6 : home4);
    local[local.length - 1] = 1 + (next() % 254);
    const remote = parseIp(v6 ? hoa6(i) : hoa4(i))!;
    const proto = (next() & 3) === 0 ? IPPROTO_UDP : IPPROTO_TCP;
    const localPort = proto === IPPROTO_TCP ? 443 : 53;
    const remotePort = 1024 + (next() % 60000);
    const o = newFlowTuple();
    o.family = v6 ? 6 : 4;
    o.src.set(local);
    o.dst.set(remote);
    o.proto = proto;
    o.srcPort = localPort;
    o.dstPort = remotePort;
    const n = newFlowTuple();
    n.family = o.family;
    n.src.set(remote);
    n.dst.set(local);
    n.proto = proto;
    n.srcPort = remotePort;
    n.dstPort = localPort;
    out.push(o);
    inFlows.push(n);
    spi[k] = IN_SPI_BASE + i;
    peer[k] = i;
  }
  return { out, inFlows, spi, peer };
}

// --- the measured operations (what the data path does per packet)

let sink = 0;

function outboundOnce(gw: Gateway, f: FlowTuple): number {
  const p = gw.spd.lookupOutbound(f);
  if (p === null || p.action !== 'protect') return -1;
  const sa = gw.sad.bySlot(gw.outSlot[p.ref!]!);
  return sa === undefined ? -1 : sa.spi;
}

function inboundOnce(gw: Gateway, spi: number, f: FlowTuple): number {
  const sa = gw.sad.lookupInbound(spi);
  if (sa === undefined) return -1;
  return sa.selectors.matchInbound(f) ? sa.slot : -1;
}

function outboundLoop(gw: Gateway, fs: FlowSet, n: number): void {
  const mask = FLOW_COUNT - 1;
  let acc = 0;
  for (let k = 0; k < n; k++) acc += outboundOnce(gw, fs.out[k & mask]!);
  sink += acc;
}

function inboundLoop(gw: Gateway, fs: FlowSet, n: number): void {
  const mask = FLOW_COUNT - 1;
  let acc = 0;
  for (let k = 0; k < n; k++) acc += inboundOnce(gw, fs.spi[k & mask]!, fs.inFlows[k & mask]!);
  sink += acc;
}

function scanLoop(gw: Gateway, fs: FlowSet, n: number): void {
  const mask = FLOW_COUNT - 1;
  let acc = 0;
  for (let k = 0; k < n; k++) acc += gw.spd.scan('out', fs.out[k & mask]!) === null ? 0 : 1;
  sink += acc;
}

/** ns per call: the best of REPEATS runs of timed/REPEATS calls each, after `warmup` calls
 * (the best run is the one least disturbed by other processes on a shared machine). */
function nsPer(run: (n: number) => void, warmup: number, timed: number): number {
  run(warmup);
  const each = Math.max(1, Math.floor(timed / REPEATS));
  let best = Infinity;
  for (let rep = 0; rep < REPEATS; rep++) {
    const t0 = process.hrtime.bigint();
    run(each);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / each);
  }
  return best;
}

/**
 * Heap growth per call over `n` calls, the least of three runs (a path that allocates shows at
 * least 8-16 bytes per call in every run; lazily compiled code shows once as a fraction of a byte).
 */
function allocPer(run: (n: number) => void, n: number): number {
  run(n / 10);
  let least = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    collect();
    const before = process.memoryUsage().heapUsed;
    run(n);
    least = Math.min(least, Math.max(0, process.memoryUsage().heapUsed - before) / n);
  }
  return least;
}

function crossCheck(gw: Gateway, fs: FlowSet, peers: number): void {
  for (let k = 0; k < Math.min(CROSS_CHECK, FLOW_COUNT); k++) {
    const f = fs.out[k]!;
    const fast = gw.spd.lookupOutbound(f);
    if (fast !== gw.spd.scan('out', f)) throw new Error(`cross-check: compiled lookup and scan differ at ${peers} peers, flow ${k}`);
    if (fast?.ref !== fs.peer[k]) throw new Error(`cross-check: flow ${k} classified to ${fast?.name}, expected mn${fs.peer[k]}`);
    if (outboundOnce(gw, f) !== OUT_SPI_BASE + fs.peer[k]!) throw new Error(`cross-check: flow ${k} got the wrong outbound SA`);
    if (inboundOnce(gw, fs.spi[k]!, fs.inFlows[k]!) < 0) throw new Error(`cross-check: inbound flow ${k} refused by its own SA`);
    // The same inner flow arriving on another peer's SA must fail the selector check.
    if (peers > 1 && inboundOnce(gw, IN_SPI_BASE + ((fs.peer[k]! + 1) % peers), fs.inFlows[k]!) >= 0) {
      throw new Error(`cross-check: inbound flow ${k} accepted on another peer's SA`);
    }
  }
}

interface Row {
  peers: number;
  policies: number;
  sas: number;
  outboundNs: number;
  inboundNs: number;
  scanNs: number;
  outboundAllocBytes: number;
  inboundAllocBytes: number;
  heapBytesPerPeer: number;
}

function runSize(peers: number): Row {
  collect();
  const h0 = process.memoryUsage().heapUsed;
  let gw: Gateway | null = buildGateway(peers);
  collect();
  const heapBytesPerPeer = (process.memoryUsage().heapUsed - h0) / peers;
  const fs = makeFlows(peers);
  crossCheck(gw, fs, peers);
  const g = gw;
  const outRun = (n: number): void => outboundLoop(g, fs, n);
  const inRun = (n: number): void => inboundLoop(g, fs, n);
  const scanIters = Math.max(1000, Math.min(TIMED, Math.floor(SCAN_WORK / g.spd.size)));
  const row: Row = {
    peers,
    policies: g.spd.size,
    sas: g.sad.size,
    outboundNs: nsPer(outRun, WARMUP, TIMED),
    inboundNs: nsPer(inRun, WARMUP, TIMED),
    scanNs: nsPer((n) => scanLoop(g, fs, n), Math.ceil(scanIters / 10), scanIters),
    outboundAllocBytes: allocPer(outRun, ALLOC_RUN),
    inboundAllocBytes: allocPer(inRun, ALLOC_RUN),
    heapBytesPerPeer,
  };
  gw = null;
  return row;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'iro') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the iro repository root');
    dir = up;
  }
}

function main(): void {
  const started = new Date();
  const rows = SIZES.map(runSize);
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `classify-${stamp}.json`);
  const result = {
    benchmark: 'classify',
    date: started.toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    settings: { flows: FLOW_COUNT, warmup: WARMUP, timed: TIMED, repeats: REPEATS, allocRun: ALLOC_RUN, scanWork: SCAN_WORK },
    rows,
    sink,
  };
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

  const header = ['peers', 'policies', 'SAs', 'out ns/lookup', 'in ns/lookup', 'scan ns/lookup', 'alloc B/lookup (out/in)', 'heap B/peer'];
  const lines = rows.map((r) => [
    String(r.peers),
    String(r.policies),
    String(r.sas),
    r.outboundNs.toFixed(1),
    r.inboundNs.toFixed(1),
    r.scanNs.toFixed(1),
    `${r.outboundAllocBytes.toFixed(3)} / ${r.inboundAllocBytes.toFixed(3)}`,
    r.heapBytesPerPeer.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(`classify: ${result.cpu}, node ${result.node}`);
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log(`wrote ${file}`);
}

main();
