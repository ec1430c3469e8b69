/**
 * Prometheus in the loop: a private Prometheus server (Debian's `prometheus` binary, never its
 * systemd service) started by the harness inside namespace B with a generated config, scraping
 * iro's /metrics on B's loopback every second. After each iro run the harness asks it, through
 * the HTTP API, for `increase()` of iro's counters over exactly the iperf3 transfer window, and
 * converts that to numbers comparable with iperf3's goodput.
 *
 * Why namespace B: iro's metrics listen on loopback inside each namespace, and B is the receiving
 * side, whose `iro_bytes_total{direction="in"}` counts the ESP packets that passed the ICV check,
 * the closest counter to iperf3's `sum_received`. The harness reaches B's loopback with nsfetch.
 *
 * Conversion (per ESP packet; RFC 4303 §2, RFC 4106 §3, RFC 7634 §2, RFC 3948 §2.1):
 *   iro_bytes_total counts SPI..ICV:  inner IP packet + 8 (SPI, sequence) + 8 (IV) + pad
 *                                     + 2 (pad length, next header) + 16 (ICV)
 *   wire (L3 on the veth)          = ESP + 20 (outer IPv4) + 8 (UDP, when Encapsulation = udp)
 *   payload-equivalent             = ESP - packets x (ESP framing + 20 inner IPv4 + 32 TCP with
 *                                     timestamps | 8 UDP)
 * with pad = what aligns (inner length + 2) to 4 bytes for a full-sized packet (the tunnel MTU
 * for TCP, 1428 bytes for the 1400-byte UDP datagrams). Packets that are not full-sized (a
 * handful of control packets, pings under load) make the payload-equivalent a slight
 * underestimate; retransmitted TCP segments make it an overestimate (they cross the tunnel but
 * are not goodput). Both are small against the 5 % agreement target.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError } from './errors.js';
import { fetchIn, waitFor200 } from './http.js';
import type { Lab, Side } from './lab.js';
import { UDP_DATAGRAM_BYTES } from './measure.js';
import type { Proc } from './session.js';

export const PROMETHEUS_PORT = 9090;
export const SCRAPE_INTERVAL_S = 1;
const READY_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 10_000;
/** How long after a run the harness waits so Prometheus has scraped past its end. */
export const SETTLE_MS = 2500;
export const AGREEMENT_TARGET = 0.05;

/** Specification constants (RFC 4303 §2, RFC 4106 §3/§5, RFC 7634 §2, RFC 791, RFC 768, RFC 7323). */
const ESP_HEADER_LEN = 8;
const ESP_IV_LEN = 8;
const ESP_TRAILER_LEN = 2;
const ESP_ICV_LEN = 16;
const ESP_ALIGN = 4;
const IPV4_HEADER_LEN = 20;
const UDP_HEADER_LEN = 8;
/** TCP header with the timestamp option Linux negotiates by default (RFC 7323 §3). */
const TCP_HEADER_LEN = 32;

export interface EspFraming {
  readonly encapsulation: 'udp' | 'esp';
  /** The tunnel device's MTU: a full-sized inner TCP packet has this length. */
  readonly mtu: number;
}

/** ESP bytes added to an inner packet of `innerLen` bytes (header, IV, pad, trailer, ICV). */
export function espFramingBytes(innerLen: number): number {
  const pad = (ESP_ALIGN - ((innerLen + ESP_TRAILER_LEN) % ESP_ALIGN)) % ESP_ALIGN;
  return ESP_HEADER_LEN + ESP_IV_LEN + pad + ESP_TRAILER_LEN + ESP_ICV_LEN;
}

/** Inner length of a full-sized packet of the test, and its IP+transport header bytes. */
function innerShape(framing: EspFraming, udp: boolean): { innerLen: number; headers: number } {
  return udp
    ? { innerLen: UDP_DATAGRAM_BYTES + IPV4_HEADER_LEN + UDP_HEADER_LEN, headers: IPV4_HEADER_LEN + UDP_HEADER_LEN }
    : { innerLen: framing.mtu, headers: IPV4_HEADER_LEN + TCP_HEADER_LEN };
}

export interface PromThroughput {
  /** The iperf3 transfer window the counters were taken over. */
  readonly windowSeconds: number;
  readonly espPackets: number;
  readonly espBytes: number;
  /** ESP rate as iro counts it (SPI..ICV), bits/s. */
  readonly espBitsPerSecond: number;
  /** Rate of the outer IPv4 packets on the veth, bits/s. */
  readonly wireBitsPerSecond: number;
  /** ESP rate minus per-packet ESP framing and inner headers: comparable with goodput. */
  readonly payloadBitsPerSecond: number;
  readonly iperfBitsPerSecond: number;
  /** payload / iperf3 - 1. */
  readonly relativeDifference: number;
  readonly withinTarget: boolean;
}

/** Converts counter increases over a window to the three rates (see the module header). */
export function convertThroughput(
  espBytes: number,
  espPackets: number,
  windowSeconds: number,
  framing: EspFraming,
  udp: boolean,
  iperfBitsPerSecond: number,
): PromThroughput {
  const { innerLen, headers } = innerShape(framing, udp);
  const outer = IPV4_HEADER_LEN + (framing.encapsulation === 'udp' ? UDP_HEADER_LEN : 0);
  const bits = (bytes: number): number => (bytes * 8) / windowSeconds;
  const payloadBitsPerSecond = bits(espBytes - espPackets * (espFramingBytes(innerLen) + headers));
  const relativeDifference = payloadBitsPerSecond / iperfBitsPerSecond - 1;
  return {
    windowSeconds,
    espPackets,
    espBytes,
    espBitsPerSecond: bits(espBytes),
    wireBitsPerSecond: bits(espBytes + espPackets * outer),
    payloadBitsPerSecond,
    iperfBitsPerSecond,
    relativeDifference,
    withinTarget: Math.abs(relativeDifference) <= AGREEMENT_TARGET,
  };
}

/** The generated prometheus.yml: one job scraping `targets` every second. */
export function prometheusConfig(targets: readonly string[]): string {
  return [
    'global:',
    `  scrape_interval: ${SCRAPE_INTERVAL_S}s`,
    '  scrape_timeout: 900ms',
    `  evaluation_interval: ${SCRAPE_INTERVAL_S}s`,
    'scrape_configs:',
    '  - job_name: iro',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
}

interface QueryReply {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: { metric: Record<string, string>; value: [number, string] }[] };
}

export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export class Prometheus {
  readonly lab: Lab;
  readonly side: Side;
  readonly proc: Proc;
  readonly version: string;

  private constructor(lab: Lab, side: Side, proc: Proc, version: string) {
    this.lab = lab;
    this.side = side;
    this.proc = proc;
    this.version = version;
  }

  /** Starts Prometheus inside `side` scraping `targets` (host:port on that side's loopback). */
  static async start(lab: Lab, side: Side, targets: readonly string[]): Promise<Prometheus> {
    const dir = lab.mkdir('prometheus');
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, prometheusConfig(targets), { mode: 0o600 });
    const version = (await lab.session.run('prometheus', ['--version'], { timeoutMs: 10_000 })).stdout.split('\n')[0] ?? '';
    const proc = lab.start(side, 'prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ]);
    try {
      await waitFor200(lab, side, `http://127.0.0.1:${PROMETHEUS_PORT}/-/ready`, READY_TIMEOUT_MS, proc);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return new Prometheus(lab, side, proc, version.trim());
  }

  /** Evaluates an instant query at `atMs` (Unix ms). */
  async query(expr: string, atMs: number): Promise<Sample[]> {
    const url = `http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/query?query=${encodeURIComponent(expr)}&time=${(atMs / 1000).toFixed(3)}`;
    const r = await fetchIn(this.lab, this.side, url, QUERY_TIMEOUT_MS);
    if (!('status' in r)) throw new BenchError('ERR_BENCH_MEASURE', `Prometheus query ${expr}: ${r.error}`);
    let reply: QueryReply;
    try {
      reply = JSON.parse(r.body) as QueryReply;
    } catch {
      throw new BenchError('ERR_BENCH_MEASURE', `Prometheus query ${expr}: HTTP ${r.status}, not JSON`);
    }
    if (reply.status !== 'success' || reply.data?.resultType !== 'vector') {
      throw new BenchError('ERR_BENCH_MEASURE', `Prometheus query ${expr}: ${reply.error ?? `HTTP ${r.status}`}`);
    }
    return (reply.data.result ?? []).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  /** A query whose answer is one series (e.g. a `sum()`); null when the answer is empty. */
  async scalar(expr: string, atMs: number): Promise<number | null> {
    const r = await this.query(expr, atMs);
    return r[0]?.value ?? null;
  }

  /** Waits until every target of the job is being scraped successfully. */
  async waitTargetsUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = await this.query('up{job="iro"}', Date.now());
      if (up.length > 0 && up.every((s) => s.value === 1)) return;
      await this.lab.session.sleep(500);
    }
    throw new BenchError('ERR_BENCH_TIMEOUT', `Prometheus did not scrape iro successfully within ${timeoutMs} ms`);
  }

  /**
   * iro's inbound ESP throughput over [startMs, endMs] as Prometheus computes it from
   * `increase(iro_bytes_total{direction="in"}[window])`, converted for comparison with iperf3.
   */
  async throughput(startMs: number, endMs: number, framing: EspFraming, udp: boolean, iperfBitsPerSecond: number): Promise<PromThroughput> {
    const windowMs = Math.round(endMs - startMs);
    const range = `[${windowMs}ms]`;
    const bytes = await this.scalar(`sum(increase(iro_bytes_total{direction="in"}${range}))`, endMs);
    const packets = await this.scalar(`sum(increase(iro_packets_total{direction="in"}${range}))`, endMs);
    if (bytes === null || packets === null) {
      throw new BenchError('ERR_BENCH_MEASURE', `Prometheus has no iro_bytes_total/iro_packets_total samples for the window ending ${new Date(endMs).toISOString()}`);
    }
    return convertThroughput(bytes, packets, windowMs / 1000, framing, udp, iperfBitsPerSecond);
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
