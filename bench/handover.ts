/**
 * Handover benchmark: 20 moves of a mobile node between access networks A and B in the roaming
 * lab (src/lab/roaming.ts: `move()` joins the new network, then leaves the old one, as a laptop
 * changing Wi-Fi does; iro notices by itself), with traffic flowing all along: a ping flood from
 * the correspondent to the mobile node's home address (one echo request every millisecond, through
 * the home agent and the tunnel; the replies come back the same way).
 *
 * Per move it records:
 *   - registration: Binding Update to Binding Ack with the home agent (the mobile node's log);
 *   - iro_handover_duration_seconds on the mobile node (peer home: the gap between the last
 *     authenticated packet on the old outer addresses and the first on the new ones, as its
 *     dataplane measures it) and on the home agent (peer laptop: the same for the replies);
 *   - from a capture on the mobile node (`tcpdump -i any` in its namespace, so it survives links
 *     going down): the last ESP packet received on the old care-of address to the first received
 *     on the new one.
 * and reports the median and maximum of each, the ping loss, and every move, as JSON in
 * bench/results/handover-<ISO 8601 basic UTC time>.json and as a Markdown table.
 *
 * Run (root): `node dist/bench/handover.js [--moves N] [--family 4|6] [--dwell-ms MS]`
 * (about a minute for 20 moves).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Lab,
  ROAMING,
  ensureTools,
  logMessage,
  metricValue,
  startCapture,
  startRoamingLab,
  tsharkFields,
  waitForBinding,
  type Access,
  type IroDaemon,
} from '../src/lab/index.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

const DEFAULT_MOVES = 20;
/** Time on each network after the home agent's binding moved, before the next move. */
const DEFAULT_DWELL_MS = 1000;
/** The ping flood's interval (ping -i, seconds): one packet each way per millisecond. */
const PING_INTERVAL_S = '0.001';
/** Upper bound on the flood's duration; it is stopped (SIGINT) when the moves are done. */
const PING_DEADLINE_S = 600;
const BINDING_TIMEOUT_MS = 15_000;
/** Headers only: the analysis reads times and addresses. */
const SNAPLEN = 96;

interface Sample {
  readonly count: number;
  readonly sum: number;
}

interface MoveResult {
  readonly k: number;
  readonly from: Access;
  readonly to: Access;
  /** Unix time (s) the move began. */
  readonly at: number;
  readonly registrationMs: number | null;
  /** iro_handover_duration_seconds observed during this move (sum of the observations, and how many). */
  readonly mnMetric: Sample;
  readonly haMetric: Sample;
  /** Last ESP received on the old care-of address to the first on the new one, from the capture (s). */
  readonly captureGap: number | null;
}

interface Stats {
  readonly n: number;
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

function stats(values: readonly (number | null)[]): Stats {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, medianMs: null, maxMs: null };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { n: v.length, medianMs: round(median * 1000), maxMs: round(v[v.length - 1]! * 1000) };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

async function histogram(d: IroDaemon, peer: string): Promise<Sample> {
  const m = await d.metrics();
  return {
    count: metricValue(m, 'iro_handover_duration_seconds_count', { peer }) ?? 0,
    sum: metricValue(m, 'iro_handover_duration_seconds_sum', { peer }) ?? 0,
  };
}

function delta(a: Sample, b: Sample): Sample {
  return { count: b.count - a.count, sum: b.sum - a.sum };
}

/** The `signallingMs` of the mobile node's "handover" log record for the move to `coa` after `at` (ms). */
function registration(mn: IroDaemon, coa: string, at: number): number | null {
  for (const l of mn.proc.lines) {
    if (logMessage(l) !== 'handover') continue;
    const rec = JSON.parse(l) as { time: string; to?: string; signallingMs?: number };
    if (rec.to === coa && Date.parse(rec.time) >= at && typeof rec.signallingMs === 'number') return rec.signallingMs;
  }
  return null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { moves: { type: 'string' }, family: { type: 'string' }, 'dwell-ms': { type: 'string' } } });
  const moves = Number(values.moves ?? DEFAULT_MOVES);
  const family = Number(values.family ?? 6) as 4 | 6;
  const dwellMs = Number(values['dwell-ms'] ?? DEFAULT_DWELL_MS);
  if (!Number.isInteger(moves) || moves < 1) throw new RangeError(`--moves must be a positive integer, got ${values.moves}`);
  if (family !== 4 && family !== 6) throw new RangeError(`--family must be 4 or 6, got ${values.family}`);
  if (!Number.isFinite(dwellMs) || dwellMs < 0) throw new RangeError(`--dwell-ms must be a non-negative number, got ${values['dwell-ms']}`);
  ensureTools(['ping', 'tcpdump', 'tshark']);
  const started = new Date();
  const lab = new Lab({ prefix: 'benchho' });
  const results: MoveResult[] = [];
  let pingSummary = '';
  try {
    const r = await startRoamingLab(lab, { family });
    const { topo, cfg, daemons } = r;
    const hoa = family === 6 ? ROAMING.identity.hoa6 : ROAMING.identity.hoa4;
    const capture = await startCapture(topo.mn, 'any', { snaplen: SNAPLEN, filter: 'udp port 4500' });
    const flood = topo.cn.spawn('ping', ['-n', '-q', '-i', PING_INTERVAL_S, '-w', String(PING_DEADLINE_S), hoa], { label: 'ping flood', stopSignal: 'SIGINT' });
    await new Promise((res) => setTimeout(res, dwellMs));
    for (let k = 0; k < moves; k++) {
      const from = topo.at;
      const to: Access = from === 'A' ? 'B' : 'A';
      const before = [await histogram(daemons.mn, cfg.peerNames.ha), await histogram(daemons.ha, cfg.peerNames.mn)] as const;
      const at = Date.now();
      topo.move(to);
      await waitForBinding(daemons.ha, cfg.peerNames.mn, topo.seenCareOf(family), { timeoutMs: BINDING_TIMEOUT_MS });
      await new Promise((res) => setTimeout(res, dwellMs));
      const after = [await histogram(daemons.mn, cfg.peerNames.ha), await histogram(daemons.ha, cfg.peerNames.mn)] as const;
      results.push({
        k: k + 1,
        from,
        to,
        at: at / 1000,
        registrationMs: registration(daemons.mn, topo.careOf(family), at),
        mnMetric: delta(before[0], after[0]),
        haMetric: delta(before[1], after[1]),
        captureGap: null,
      });
      process.stderr.write(`move ${k + 1}/${moves}: ${from} -> ${to}\n`);
    }
    await flood.stop('SIGINT');
    pingSummary = flood.stdout.split('\n').filter((l) => /packets transmitted|rtt/.test(l)).join('; ');
    await capture.stop();

    // MN side: ESP received from the home agent, by care-of address.
    const frames = (await tsharkFields(capture.file, ['frame.time_epoch', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst'])).map((f) => ({
      time: Number(f['frame.time_epoch']![0]),
      src: (family === 6 ? f['ipv6.src'] : f['ip.src'])![0] ?? '',
      dst: (family === 6 ? f['ipv6.dst'] : f['ip.dst'])![0] ?? '',
    }));
    const ha = topo.haLocator(family);
    const fromHa = frames.filter((f) => f.src === ha);
    for (const [i, m] of results.entries()) {
      const oldCoa = topo.careOf(family, m.from);
      const newCoa = topo.careOf(family, m.to);
      const until = results[i + 1]?.at ?? Number.POSITIVE_INFINITY;
      const first = fromHa.find((f) => f.dst === newCoa && f.time >= m.at && f.time < until);
      const last = first ? fromHa.filter((f) => f.dst === oldCoa && f.time < first.time).at(-1) : undefined;
      results[i] = { ...m, captureGap: first && last ? first.time - last.time : null };
    }
  } finally {
    const problems = await lab.teardown();
    if (problems.length > 0) process.stderr.write(`teardown problems:\n${problems.join('\n')}\n`);
  }

  const perObservation = (s: Sample): number | null => (s.count === 0 ? null : s.sum / s.count);
  const summary = {
    registration: stats(results.map((m) => (m.registrationMs === null ? null : m.registrationMs / 1000))),
    metricMobileNode: stats(results.map((m) => perObservation(m.mnMetric))),
    metricHomeAgent: stats(results.map((m) => perObservation(m.haMetric))),
    captureMobileNode: stats(results.map((m) => m.captureGap)),
  };
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `handover-${stamp}.json`);
  const out = {
    date: started.toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    setup: { moves, family, dwellMs, traffic: `ping -i ${PING_INTERVAL_S} from the correspondent to the home address ${family === 6 ? ROAMING.identity.hoa6 : ROAMING.identity.hoa4}`, careOf: 'auto', capture: 'tcpdump -i any in the mobile node namespace' },
    ping: pingSummary,
    summary,
    moves: results,
  };
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');

  const row = (name: string, s: Stats): string => `| ${name} | ${s.n} | ${s.medianMs ?? 'n/a'} | ${s.maxMs ?? 'n/a'} |`;
  const lines = [
    `Handover, ${moves} moves A <-> B, IPv${family} care-of addresses, ping every ${PING_INTERVAL_S} s (${cpus().length} CPUs, Node ${process.version})`,
    '',
    '| measure | moves | median (ms) | max (ms) |',
    '|---|---:|---:|---:|',
    row('registration (BU -> BA, mobile node log)', summary.registration),
    row('iro_handover_duration_seconds, mobile node (peer home)', summary.metricMobileNode),
    row('iro_handover_duration_seconds, home agent (peer laptop)', summary.metricHomeAgent),
    row('capture on the mobile node: last ESP on the old CoA -> first on the new', summary.captureMobileNode),
    '',
    `ping: ${pingSummary}`,
    `results: ${file}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

await main();
