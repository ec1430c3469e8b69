/**
 * runCompare(): one command that measures iro side by side with the userspace incumbents.
 *
 *   1. check privileges; install what the selected contenders need (apt-get), or say which
 *      command to run and mark those contenders failed;
 *   2. build the lab (two namespaces, one veth pair) and, when iro is measured, start a private
 *      Prometheus inside namespace B;
 *   3. for each repetition, for each contender (round-robin, so drift hits all alike):
 *      set up -> wait for traffic -> idle ping -> TCP -P 1 (+ ping under load) -> TCP -P 4 ->
 *      UDP 1400 B -> (iro) read drop counters -> tear down -> (iro) ask Prometheus about each run;
 *      a contender whose first repetition fails is reported "failed: <reason>" and skipped after;
 *   4. medians, spread and ratios; write <date>.json, <date>.md and <date>.svg.
 * Everything started is stopped by PID and every namespace and temporary directory removed, in
 * `finally` and on SIGINT/SIGTERM (the promise then rejects with ERR_BENCH_INTERRUPTED).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/util/log.js';
import { compare, summarizeReps } from './analysis.js';
import { selectContenders } from './contenders/index.js';
import { IRO_METRICS_PORT } from './contenders/iro.js';
import type { ContenderEnv, ContenderSpec, TunnelInfo } from './contenders/types.js';
import { environment } from './environment.js';
import { BenchError, InterruptedError, reasonOf } from './errors.js';
import { samplesOf } from './exposition.js';
import { fetchIn } from './http.js';
import { ensureInstalled, installCommand, missingOf, uniquePackages, type Requirement } from './install.js';
import { INNER, Lab, OUTER, SIDES, VETH_MTU } from './lab.js';
import { renderMarkdown } from './markdown.js';
import {
  IDLE_PING_COUNT,
  PING_INTERVAL_S,
  UDP_DATAGRAM_BYTES,
  iperf,
  loadPing,
  ping,
  waitForTraffic,
  type IperfResult,
  type PingResult,
} from './measure.js';
import { Prometheus, SCRAPE_INTERVAL_S, SETTLE_MS } from './prometheus.js';
import { Session } from './session.js';
import { renderSvg } from './svg.js';
import { REPORT_SCHEMA, type CompareOptions, type ContenderReport, type PromReading, type RepResult, type Report, type ResolvedOptions } from './types.js';

export const DEFAULT_REPS = 5;
export const DEFAULT_DURATION_S = 10;
export const QUICK_DURATION_S = 3;
const MAX_REPS = 100;
const MIN_DURATION_S = 2;
const MAX_DURATION_S = 3600;
const TRAFFIC_TIMEOUT_MS = 20_000;
const IDLE_PING_DEADLINE_S = 5;
const TARGETS_UP_TIMEOUT_MS = 10_000;
/** A run that does not unwind within this long after SIGINT/SIGTERM is cleaned up and exited hard. */
const INTERRUPT_GRACE_MS = 30_000;

const COMMON_REQUIREMENTS: readonly Requirement[] = [
  { what: 'ip', pkg: 'iproute2' },
  { what: 'iperf3', pkg: 'iperf3' },
  { what: 'ping', pkg: 'iputils-ping' },
];
const PROMETHEUS_REQUIREMENTS: readonly Requirement[] = [{ what: 'prometheus', pkg: 'prometheus' }];

/** The repository root: the nearest directory above this file with iro's package.json. */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'iro') return dir;
    const up = dirname(dir);
    if (up === dir) throw new BenchError('ERR_BENCH_USAGE', `cannot find the iro repository above ${from}; pass options.repoRoot`);
    dir = up;
  }
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BenchError('ERR_BENCH_USAGE', `options.${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: CompareOptions, repoRoot: string): ResolvedOptions {
  const quick = options.quick === true;
  return {
    quick,
    reps: intOption('reps', options.reps, quick ? 1 : DEFAULT_REPS, 1, MAX_REPS),
    durationSeconds: intOption('durationSeconds', options.durationSeconds, quick ? QUICK_DURATION_S : DEFAULT_DURATION_S, MIN_DURATION_S, MAX_DURATION_S),
    only: [...(options.only ?? [])],
    outDir: resolve(options.outDir ?? join(repoRoot, 'bench', 'results')),
    install: options.install !== false,
  };
}

function checkPrivileges(): void {
  if (process.getuid?.() !== 0) {
    throw new BenchError(
      'ERR_BENCH_PRIVILEGE',
      'iro bench must run as root: it creates network namespaces, veth pairs and TUN devices (CAP_SYS_ADMIN, CAP_NET_ADMIN). ' +
        'Run it with sudo.',
    );
  }
  if (!existsSync('/dev/net/tun')) {
    throw new BenchError('ERR_BENCH_PRIVILEGE', '/dev/net/tun is missing; create it: mkdir -p /dev/net && mknod /dev/net/tun c 10 200');
  }
}

/** `2025-01-31T12-00-00Z`: an ISO date-time usable as a file name everywhere. */
export function fileStamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Non-zero `iro_dropped_packets_total` of each side, keyed `direction/reason`. */
async function readDrops(lab: Lab, port: number): Promise<RepResult['drops']> {
  const out = { a: {} as Record<string, number>, b: {} as Record<string, number> };
  for (const side of SIDES) {
    const r = await fetchIn(lab, side, `http://127.0.0.1:${port}/metrics`);
    if (!('status' in r) || r.status !== 200) {
      throw new BenchError('ERR_BENCH_MEASURE', `/metrics in ${lab.ns[side]}: ${'status' in r ? `HTTP ${r.status}` : r.error}`);
    }
    for (const s of samplesOf(r.body, 'iro_dropped_packets_total')) {
      if (s.value > 0) out[side][`${s.labels.direction ?? '?'}/${s.labels.reason ?? '?'}`] = s.value;
    }
  }
  return out;
}

interface RunContext {
  readonly lab: Lab;
  readonly env: ContenderEnv;
  readonly durationSeconds: number;
  readonly prometheus: Prometheus | null;
  readonly prometheusStatus: string;
}

/** One repetition of one contender. Rejects only when the run is aborted. */
async function runRep(ctx: RunContext, spec: ContenderSpec, rep: number): Promise<{ result: RepResult; notes: Record<string, string> }> {
  const { lab, durationSeconds: d } = ctx;
  const session = lab.session;
  const tunnel = spec.create(ctx.env);
  let info: TunnelInfo | null = null;
  let error: string | null = null;
  let pingIdle: PingResult | null = null;
  let tcp1: IperfResult | null = null;
  let pingLoad: PingResult | null = null;
  let tcp4: IperfResult | null = null;
  let udp: IperfResult | null = null;
  let drops: RepResult['drops'] = null;
  try {
    info = await tunnel.setup(lab);
    const { addressA: a, addressB: b, pids } = info;
    await waitForTraffic(lab, a, b, TRAFFIC_TIMEOUT_MS);
    if (spec.kind === 'iro' && ctx.prometheus !== null) {
      await ctx.prometheus.waitTargetsUp(TARGETS_UP_TIMEOUT_MS).catch((err: unknown) => {
        session.throwIfAborted();
        session.log.warn('Prometheus is not scraping iro yet', { contender: spec.id, error: reasonOf(err) });
      });
    }
    pingIdle = await ping(lab, a, b, IDLE_PING_COUNT, IDLE_PING_DEADLINE_S);
    const first = await iperf(lab, a, b, { streams: 1, udp: false, durationSeconds: d }, pids, () => loadPing(lab, a, b, d));
    tcp1 = first.result;
    pingLoad = first.during ?? null;
    tcp4 = (await iperf(lab, a, b, { streams: 4, udp: false, durationSeconds: d }, pids)).result;
    udp = (await iperf(lab, a, b, { streams: 1, udp: true, durationSeconds: d }, pids)).result;
    if (info.metricsPort !== undefined) {
      const port = info.metricsPort;
      drops = await readDrops(lab, port).catch((err: unknown) => {
        session.throwIfAborted();
        session.log.warn('could not read iro drop counters', { contender: spec.id, error: reasonOf(err) });
        return null;
      });
    }
  } catch (err) {
    session.throwIfAborted();
    const reason = reasonOf(err);
    const said = tunnel.diagnostics().filter((d) => !reason.includes(d.gist));
    error = said.length === 0 ? reason : `${reason} [${said.map((d) => `${d.name} (${d.status}): ${d.gist}`).join('; ')}]`;
  } finally {
    await tunnel.teardown().catch((err: unknown) => {
      if (!session.aborted) session.log.warn('teardown failed', { contender: spec.id, error: reasonOf(err) });
    });
  }
  session.throwIfAborted();
  const ok = error === null;
  let prometheus: RepResult['prometheus'] = null;
  if (ok && spec.kind === 'iro' && spec.framing !== undefined && tcp1 && tcp4 && udp) {
    const framing = spec.framing;
    const read = async (t: IperfResult, isUdp: boolean): Promise<PromReading> => {
      const p = ctx.prometheus;
      if (p === null) return { error: `Prometheus ${ctx.prometheusStatus}` };
      try {
        return await p.throughput(t.startMs, t.endMs, framing, isUdp, t.bitsPerSecond);
      } catch (err) {
        session.throwIfAborted();
        return { error: reasonOf(err) };
      }
    };
    const wait = udp.endMs + SETTLE_MS - Date.now();
    if (wait > 0 && ctx.prometheus !== null) await session.sleep(wait);
    prometheus = { tcp1: await read(tcp1, false), tcp4: await read(tcp4, false), udp: await read(udp, true) };
  }
  return {
    result: { rep, ok, error, mtu: info?.mtu ?? null, pingIdle, tcp1, pingLoad, tcp4, udp, prometheus, drops },
    notes: { ...(info?.notes ?? {}) },
  };
}

function statusOf(reps: readonly RepResult[]): ContenderReport['status'] {
  const ok = reps.filter((r) => r.ok).length;
  return ok === 0 ? 'failed' : ok < reps.length ? 'partial' : 'ok';
}

function gbps(r: IperfResult | null): string {
  return r === null ? '-' : (r.bitsPerSecond / 1e9).toFixed(2);
}

async function execute(session: Session, options: ResolvedOptions, specs: readonly ContenderSpec[], env: ContenderEnv): Promise<Report> {
  const log = session.log;
  const started = new Date();
  const machine = await environment(session, env.repoRoot);
  const measuresIro = specs.some((s) => s.kind === 'iro');

  const wanted = [...COMMON_REQUIREMENTS, ...specs.flatMap((s) => s.requires), ...(measuresIro ? PROMETHEUS_REQUIREMENTS : [])];
  const install = await ensureInstalled(session, wanted, options.install);
  if (!install.ok) log.warn('some packages are missing', { error: install.error, command: install.command });
  const commonMissing = missingOf(COMMON_REQUIREMENTS);
  if (commonMissing.length > 0) {
    throw new BenchError(
      'ERR_BENCH_INSTALL',
      `missing ${commonMissing.map((r) => r.what).join(', ')}; run: ${installCommand(uniquePackages(commonMissing))}`,
    );
  }

  const states = specs.map((spec) => {
    const missing = missingOf(spec.requires);
    const error = missing.length > 0
      ? `missing ${missing.map((r) => r.what).join(', ')}; run: ${installCommand(uniquePackages(missing))}`
      : null;
    return { spec, reps: [] as RepResult[], notes: {} as Record<string, string>, error, skip: error !== null };
  });

  const lab = await Lab.create(session);
  log.info('lab ready', { namespaces: `${lab.ns.a} ${lab.ns.b}` });

  let prometheus: Prometheus | null = null;
  let prometheusStatus = 'not needed';
  if (measuresIro) {
    const missing = missingOf(PROMETHEUS_REQUIREMENTS);
    if (missing.length > 0) {
      prometheusStatus = `failed: missing prometheus; run: ${installCommand(['prometheus'])}`;
    } else {
      try {
        prometheus = await Prometheus.start(lab, 'b', [`127.0.0.1:${IRO_METRICS_PORT}`]);
        prometheusStatus = 'ok';
        log.info('Prometheus ready', { namespace: lab.ns.b, pid: prometheus.proc.pid });
      } catch (err) {
        session.throwIfAborted();
        prometheusStatus = `failed: ${reasonOf(err)}`;
      }
    }
    if (prometheus === null) log.warn('iro will be measured without Prometheus', { status: prometheusStatus });
  }

  const ctx: RunContext = { lab, env, durationSeconds: options.durationSeconds, prometheus, prometheusStatus };
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const st of states) {
      if (st.skip) continue;
      log.info(`rep ${rep}/${options.reps}: ${st.spec.id}`);
      const { result, notes } = await runRep(ctx, st.spec, rep);
      st.reps.push(result);
      if (result.ok) {
        if (Object.keys(st.notes).length === 0) Object.assign(st.notes, notes);
        log.info(`rep ${rep}/${options.reps}: ${st.spec.id} done`, {
          tcp1Gbps: gbps(result.tcp1),
          tcp4Gbps: gbps(result.tcp4),
          udpGbps: gbps(result.udp),
        });
      } else {
        st.error ??= result.error;
        log.warn(`rep ${rep}/${options.reps}: ${st.spec.id} failed`, { error: result.error });
        if (rep === 1) st.skip = true;
      }
    }
  }
  const prometheusVersion = prometheus?.version ?? null;
  await prometheus?.stop();

  const contenders: ContenderReport[] = states.map((st) => ({
    id: st.spec.id,
    label: st.spec.label,
    kind: st.spec.kind,
    details: st.spec.details,
    status: statusOf(st.reps),
    error: st.error,
    notes: st.notes,
    reps: st.reps,
    summary: summarizeReps(st.reps),
  }));

  mkdirSync(options.outDir, { recursive: true });
  const base = join(options.outDir, fileStamp(started));
  const files = { json: `${base}.json`, markdown: `${base}.md`, svg: `${base}.svg` };
  const report: Report = {
    schema: REPORT_SCHEMA,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { ...options, udpDatagramBytes: UDP_DATAGRAM_BYTES, idlePingCount: IDLE_PING_COUNT, pingIntervalSeconds: PING_INTERVAL_S },
    environment: machine,
    lab: { namespaces: [lab.ns.a, lab.ns.b], vethMtu: VETH_MTU, outer: { ...OUTER }, inner: { ...INNER } },
    install,
    prometheus: {
      status: prometheusStatus,
      version: prometheusVersion,
      scrapeIntervalSeconds: SCRAPE_INTERVAL_S,
      namespace: measuresIro ? lab.ns.b : null,
    },
    contenders,
    comparison: compare(contenders),
    files,
  };
  writeAtomically(files.json, toJson(report));
  writeAtomically(files.markdown, renderMarkdown(report));
  writeAtomically(files.svg, renderSvg(report));
  log.info('results written', files);
  return report;
}

/** Indented JSON with arrays of numbers (RTT samples, CPU per process) kept on one line. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return text.replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, items: string) => `[${items.split(/,\s*/).join(', ')}]`) + '\n';
}

/** Writes via a `.tmp` sibling and a rename, so a reader never sees half a file. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs the comparison and writes the result files; resolves with the report. Contenders that
 * cannot be set up are reported as failed, never thrown. Rejects with a BenchError for bad
 * options (ERR_BENCH_USAGE), missing privileges (ERR_BENCH_PRIVILEGE), missing basic tools
 * (ERR_BENCH_INSTALL) or an interruption (ERR_BENCH_INTERRUPTED), always after cleaning up.
 */
export async function runCompare(options: CompareOptions = {}): Promise<Report> {
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const resolved = resolveOptions(options, repoRoot);
  const specs = selectContenders(resolved.only);
  checkPrivileges();
  const session = new Session(options.log ?? silentLogger);
  const env: ContenderEnv = {
    repoRoot,
    iroCommand: options.iroCommand ?? [process.execPath, join(repoRoot, 'bin', 'iro.js')],
  };
  if (env.iroCommand.length === 0) throw new BenchError('ERR_BENCH_USAGE', 'options.iroCommand must not be empty');

  const onExit = (): void => session.closeSync();
  const onSignal = (sig: 'SIGINT' | 'SIGTERM'): void => {
    if (session.aborted) {
      session.closeSync();
      process.exit(SIGNAL_EXIT[sig]);
    }
    session.log.warn(`${sig}: stopping and cleaning up (send it again to exit at once)`);
    session.abort(new InterruptedError(sig));
    setTimeout(() => {
      session.closeSync();
      process.exit(SIGNAL_EXIT[sig]);
    }, INTERRUPT_GRACE_MS).unref();
  };
  const handle = options.handleSignals !== false;
  process.on('exit', onExit);
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    return await execute(session, resolved, specs, env);
  } catch (err) {
    throw session.aborted ? (session.signal.reason as BenchError) : err;
  } finally {
    await session.close();
    process.off('exit', onExit);
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
