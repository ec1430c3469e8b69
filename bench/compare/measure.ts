/**
 * The measurements, each bounded in time: iperf3 TCP and UDP from namespace A to B, ping RTTs
 * (idle, and during a TCP run), and the CPU time of the tunnel processes.
 *
 * - Goodput: iperf3 -J `end.sum_received.bits_per_second` (what the receiving application got).
 *   UDP: 1400-byte datagrams sent as fast as iperf3 can (`-b 0`); the received rate and the loss.
 * - CPU: utime+stime of each tunnel process from /proc/PID/stat (all its threads), sampled just
 *   before and after the iperf3 client; reported as CPU seconds per GB delivered.
 * - RTT: per-reply `time=` values of iputils ping; percentiles over one run's samples.
 */
import { readFileSync } from 'node:fs';
import { BenchError } from './errors.js';
import type { Lab } from './lab.js';
import type { TimedLine } from './session.js';
import { quantile } from './stats.js';

/** iperf3's control/data port inside namespace B. */
const IPERF_PORT = 5201;
/** Datagram size of the UDP test (the "UDP at 1400 bytes"). */
export const UDP_DATAGRAM_BYTES = 1400;
/** Slack on top of a test's duration before the client is killed. */
const IPERF_SLACK_MS = 30_000;
const IPERF_CONNECT_TIMEOUT_MS = 5000;
const SERVER_READY_TIMEOUT_MS = 10_000;
const SERVER_EXIT_WAIT_MS = 2000;
/** Idle ping: 20 echo requests 50 ms apart. */
export const IDLE_PING_COUNT = 20;
export const PING_INTERVAL_S = 0.05;
/** Ping under load starts this long after the iperf3 client, and stops a second before its end. */
const LOAD_PING_DELAY_MS = 500;

/** Linux USER_HZ: the unit of utime/stime in /proc/PID/stat (sysconf(_SC_CLK_TCK), 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface IperfResult {
  /** Received bits per second (goodput). */
  readonly bitsPerSecond: number;
  /** Bytes the receiver got. */
  readonly bytes: number;
  /** The receiver's measuring interval. */
  readonly seconds: number;
  /** TCP: retransmitted segments (sender side); null for UDP. */
  readonly retransmits: number | null;
  /** UDP: datagrams lost, in percent; null for TCP. */
  readonly lossPercent: number | null;
  /**
   * UDP: datagrams the receiving host dropped because the iperf3 socket's buffer was full
   * (`Udp: RcvbufErrors` of namespace B's /proc/net/snmp over the run), in percent of the
   * datagrams sent: loss that happened after the tunnel had delivered them. Null for TCP.
   */
  readonly receiverSocketLossPercent: number | null;
  /**
   * Wall-clock window of the transfer as the receiver saw it (Unix ms), from the server's
   * real-time interval lines (see transferStart); `endMs - startMs` = `seconds`.
   */
  readonly startMs: number;
  readonly endMs: number;
  /** How `startMs` was found: `server-intervals` (precise) or `client-exit` (fallback). */
  readonly windowSource: 'server-intervals' | 'client-exit';
  /** CPU seconds used by the tunnel processes during the run (all of them). */
  readonly cpuSeconds: number | null;
  /** The same per tunnel process, in the order of TunnelInfo.pids (A's side first). */
  readonly cpuSecondsByProcess: readonly number[] | null;
  /** `cpuSeconds` per 10^9 bytes delivered. */
  readonly cpuSecondsPerGB: number | null;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  readonly rttsMs: readonly number[];
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface IperfRun {
  readonly streams: number;
  readonly udp: boolean;
  readonly durationSeconds: number;
}

/** utime+stime (seconds) of each of `pids`; null when there are none or one has gone. */
export function cpuSeconds(pids: readonly number[]): number[] | null {
  if (pids.length === 0) return null;
  const out: number[] = [];
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    // Fields after the parenthesised command name (which may contain spaces): field 3 is the
    // first; utime and stime are fields 14 and 15 (proc(5)).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push((Number(rest[14 - 3]) + Number(rest[15 - 3])) / CLOCK_TICKS_PER_SECOND);
  }
  return out;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second?: number; bytes?: number; seconds?: number; lost_percent?: number };
    sum_sent?: { retransmits?: number; packets?: number };
  };
}

/** Parses iperf3 -J output into a result (without timing and CPU, added by the caller). */
export function parseIperf(
  text: string,
  udp: boolean,
): Omit<IperfResult, 'startMs' | 'endMs' | 'windowSource' | 'cpuSeconds' | 'cpuSecondsByProcess' | 'cpuSecondsPerGB' | 'receiverSocketLossPercent'> & {
  readonly datagramsSent: number | null;
} {
  let json: IperfJson;
  try {
    json = JSON.parse(text) as IperfJson;
  } catch {
    throw new BenchError('ERR_BENCH_MEASURE', `iperf3 printed no JSON: ${text.slice(0, 200)}`);
  }
  if (json.error !== undefined) throw new BenchError('ERR_BENCH_MEASURE', `iperf3: ${json.error}`);
  const r = json.end?.sum_received;
  if (r === undefined || typeof r.bits_per_second !== 'number' || typeof r.bytes !== 'number' || typeof r.seconds !== 'number') {
    throw new BenchError('ERR_BENCH_MEASURE', 'iperf3 -J output has no end.sum_received');
  }
  return {
    bitsPerSecond: r.bits_per_second,
    bytes: r.bytes,
    seconds: r.seconds,
    retransmits: udp ? null : (json.end?.sum_sent?.retransmits ?? null),
    lossPercent: udp ? (r.lost_percent ?? null) : null,
    datagramsSent: udp ? (json.end?.sum_sent?.packets ?? null) : null,
  };
}

/** `Udp: RcvbufErrors` of a namespace (/proc/net/snmp is per network namespace); null if absent. */
async function udpRcvbufErrors(lab: Lab, side: 'a' | 'b'): Promise<number | null> {
  const text = (await lab.exec(side, 'cat', ['/proc/net/snmp'], { timeoutMs: 5000, check: false })).stdout;
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (names === undefined || values === undefined) return null;
  const i = names.split(/\s+/).indexOf('RcvbufErrors');
  const v = Number(values.split(/\s+/)[i]);
  return i > 0 && Number.isFinite(v) ? v : null;
}

/** An interval line of iperf3's text output: `[  5]   1.00-2.00   sec ...` or `[SUM] ...`. */
const INTERVAL_LINE = /^\[\s*(?:\d+|SUM)\]\s+(\d+\.\d+)-(\d+\.\d+)\s+sec\s/;

/**
 * When the receiver's measurement started (Unix ms), from the server's interval lines: the
 * server prints "a.aa-b.bb sec" as soon as interval b.bb ends (--forceflush), so each line read at
 * time T says the test started at or before T - b.bb s; the smallest such bound is the least
 * delayed one. Null when no interval line was seen. This pins Prometheus's window to the
 * transfer to within a few milliseconds, where the client's exit time lags by the result exchange.
 */
export function transferStart(lines: readonly TimedLine[]): number | null {
  let best: number | null = null;
  for (const l of lines) {
    const m = l.text.match(INTERVAL_LINE);
    if (!m) continue;
    const start = l.ms - Number(m[2]) * 1000;
    if (best === null || start < best) best = start;
  }
  return best;
}

/**
 * One iperf3 test from `addrA` (in A) to `addrB` (in B). The server is started for this test
 * only (`-1`) and stopped by PID afterwards. `during` runs concurrently with the client (ping
 * under load) and is awaited before returning.
 */
export async function iperf<T>(
  lab: Lab,
  addrA: string,
  addrB: string,
  run: IperfRun,
  pids: readonly number[],
  during?: () => Promise<T>,
): Promise<{ result: IperfResult; during: T | undefined }> {
  const session = lab.session;
  const server = lab.start('b', 'iperf3 server', 'iperf3', ['-s', '-1', '-B', addrB, '-p', String(IPERF_PORT), '--forceflush']);
  try {
    await server.waitFor(/Server listening/, SERVER_READY_TIMEOUT_MS);
    const args = ['-c', addrB, '-B', addrA, '-p', String(IPERF_PORT), '-t', String(run.durationSeconds), '-J',
      '--connect-timeout', String(IPERF_CONNECT_TIMEOUT_MS)];
    if (run.streams > 1) args.push('-P', String(run.streams));
    if (run.udp) args.push('-u', '-b', '0', '-l', String(UDP_DATAGRAM_BYTES));
    const dropsBefore = run.udp ? await udpRcvbufErrors(lab, 'b') : null;
    const cpuBefore = cpuSeconds(pids);
    const client = lab.exec('a', 'iperf3', args, { timeoutMs: run.durationSeconds * 1000 + IPERF_SLACK_MS, check: false });
    const side = during ? session.sleep(LOAD_PING_DELAY_MS).then(during) : Promise.resolve(undefined);
    const [out, duringResult] = await Promise.all([client, side]);
    const exitMs = Date.now();
    const cpuAfter = cpuSeconds(pids);
    const { datagramsSent, ...parsed } = parseIperf(out.stdout, run.udp);
    const dropsAfter = run.udp ? await udpRcvbufErrors(lab, 'b') : null;
    const socketDrops = dropsBefore !== null && dropsAfter !== null ? dropsAfter - dropsBefore : null;
    const byProcess = cpuBefore !== null && cpuAfter !== null ? cpuAfter.map((v, i) => v - cpuBefore[i]!) : null;
    const cpu = byProcess === null ? null : byProcess.reduce((a, b) => a + b, 0);
    // The server prints its last interval line and exits right after the client; give it a moment.
    await Promise.race([server.exited, session.sleep(SERVER_EXIT_WAIT_MS)]);
    const start = transferStart(server.timedLines);
    const startMs = start ?? exitMs - parsed.seconds * 1000;
    return {
      result: {
        ...parsed,
        startMs,
        endMs: startMs + parsed.seconds * 1000,
        windowSource: start !== null ? 'server-intervals' : 'client-exit',
        cpuSeconds: cpu,
        cpuSecondsByProcess: byProcess,
        receiverSocketLossPercent: socketDrops !== null && datagramsSent ? (100 * socketDrops) / datagramsSent : null,
        cpuSecondsPerGB: cpu !== null && parsed.bytes > 0 ? cpu / (parsed.bytes / 1e9) : null,
      },
      during: duringResult,
    };
  } finally {
    await server.stop();
  }
}

/** Parses iputils ping output: per-reply RTTs and the transmitted/received summary. */
export function parsePing(text: string): PingResult {
  const rtts = [...text.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const summary = text.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const sent = summary ? Number(summary[1]) : 0;
  const received = summary ? Number(summary[2]) : rtts.length;
  return {
    sent,
    received,
    rttsMs: rtts,
    p50Ms: rtts.length > 0 ? quantile(rtts, 0.5) : null,
    p99Ms: rtts.length > 0 ? quantile(rtts, 0.99) : null,
  };
}

/** `count` pings from `addrA` to `addrB`, 50 ms apart, bounded by `deadlineSeconds`. */
export async function ping(lab: Lab, addrA: string, addrB: string, count: number, deadlineSeconds: number): Promise<PingResult> {
  const args = ['-n', '-c', String(count), '-i', String(PING_INTERVAL_S), '-W', '1', '-w', String(deadlineSeconds), '-I', addrA, addrB];
  const out = await lab.exec('a', 'ping', args, { timeoutMs: deadlineSeconds * 1000 + 5000, check: false });
  return parsePing(out.stdout);
}

/** Pings for the body of a TCP run of `durationSeconds` (skipping its first and last moments). */
export function loadPing(lab: Lab, addrA: string, addrB: string, durationSeconds: number): Promise<PingResult> {
  const seconds = Math.max(1, Math.floor(durationSeconds - LOAD_PING_DELAY_MS / 1000 - 0.5));
  return ping(lab, addrA, addrB, Math.floor(seconds / PING_INTERVAL_S), seconds);
}

/**
 * Waits until a ping from `addrA` reaches `addrB` (a tunnel's first packet may wait for a
 * handshake). Rejects with ERR_BENCH_SETUP after `timeoutMs`.
 */
export async function waitForTraffic(lab: Lab, addrA: string, addrB: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await lab.exec('a', 'ping', ['-n', '-c', '1', '-W', '1', '-I', addrA, addrB], { timeoutMs: 5000, check: false });
    if (r.code === 0) return;
    await lab.session.sleep(200);
  }
  throw new BenchError('ERR_BENCH_SETUP', `no reply to pings from ${addrA} to ${addrB} through the tunnel within ${timeoutMs} ms`);
}
