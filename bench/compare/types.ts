/**
 * The shape of a comparison run: its options and the report it produces, which is also the
 * schema of bench/results/<date>.json (`schema: "iro-bench-compare/1"`). Rates are bits per
 * second, times milliseconds unless the name says otherwise, CPU in seconds.
 */
import type { Logger } from '../../src/util/log.js';
import type { ContenderKind } from './contenders/types.js';
import type { InstallResult } from './install.js';
import type { IperfResult, PingResult } from './measure.js';
import type { PromThroughput } from './prometheus.js';
import type { Summary } from './stats.js';

export const REPORT_SCHEMA = 'iro-bench-compare/1';

export interface CompareOptions {
  /** One repetition of 3-second runs (CI's smoke test). Explicit `reps`/`durationSeconds` win. */
  readonly quick?: boolean;
  /** Repetitions of every measurement (default 5; quick: 1). */
  readonly reps?: number;
  /** Seconds per iperf3 run (default 10; quick: 3). */
  readonly durationSeconds?: number;
  /** Contender ids or id prefixes (`iro`, `strongswan`); empty = all. */
  readonly only?: readonly string[];
  /** Where the JSON, Markdown and SVG go (default <repo>/bench/results). */
  readonly outDir?: string;
  /** Install missing Debian packages with apt-get (default true); false = only say which. */
  readonly install?: boolean;
  /** Progress and problems (default: silent). */
  readonly log?: Logger;
  /** How to run iro's CLI (default [node, <repo>/bin/iro.js]). */
  readonly iroCommand?: readonly string[];
  /** The repository root (default: found from this file's location). */
  readonly repoRoot?: string;
  /** Tear down and reject with ERR_BENCH_INTERRUPTED on SIGINT/SIGTERM (default true). */
  readonly handleSignals?: boolean;
}

/** The options as the run used them. */
export interface ResolvedOptions {
  readonly quick: boolean;
  readonly reps: number;
  readonly durationSeconds: number;
  readonly only: readonly string[];
  readonly outDir: string;
  readonly install: boolean;
}

export type PromReading = PromThroughput | { readonly error: string };

export interface RepResult {
  /** 1-based repetition number. */
  readonly rep: number;
  readonly ok: boolean;
  /** Why this repetition failed (setup or measurement); null when ok. */
  readonly error: string | null;
  readonly mtu: number | null;
  readonly pingIdle: PingResult | null;
  /** TCP, one stream, with the pings sent during it. */
  readonly tcp1: IperfResult | null;
  readonly pingLoad: PingResult | null;
  readonly tcp4: IperfResult | null;
  readonly udp: IperfResult | null;
  /** iro only: Prometheus's view of each run. */
  readonly prometheus: { readonly tcp1: PromReading; readonly tcp4: PromReading; readonly udp: PromReading } | null;
  /**
   * iro only: non-zero drop counters at the end of the repetition, per side, keyed
   * `direction/reason`, read from each side's /metrics (running totals since `iro up`).
   */
  readonly drops: { readonly a: Readonly<Record<string, number>>; readonly b: Readonly<Record<string, number>> } | null;
}

export interface ContenderSummary {
  readonly tcp1BitsPerSecond: Summary | null;
  readonly tcp4BitsPerSecond: Summary | null;
  readonly tcp1Retransmits: Summary | null;
  readonly udpBitsPerSecond: Summary | null;
  readonly udpLossPercent: Summary | null;
  readonly udpReceiverSocketLossPercent: Summary | null;
  readonly pingIdleP50Ms: Summary | null;
  readonly pingIdleP99Ms: Summary | null;
  readonly pingLoadP50Ms: Summary | null;
  readonly pingLoadP99Ms: Summary | null;
  readonly cpuSecondsPerGBTcp1: Summary | null;
  readonly cpuSecondsPerGBTcp4: Summary | null;
  readonly cpuSecondsPerGBUdp: Summary | null;
  /** iro: Prometheus payload-equivalent rate / iperf3 goodput - 1, per test. */
  readonly promTcp1RelativeDifference: Summary | null;
  readonly promTcp4RelativeDifference: Summary | null;
  readonly promUdpRelativeDifference: Summary | null;
  /** iro: queue_full drops summed over both sides and every repetition; null if never read. */
  readonly queueFullDrops: number | null;
}

export interface ContenderReport {
  readonly id: string;
  readonly label: string;
  readonly kind: ContenderKind;
  readonly details: Readonly<Record<string, string | number>>;
  /** ok: every repetition measured; partial: some failed; failed: none measured. */
  readonly status: 'ok' | 'partial' | 'failed';
  /** "failed: <reason>" material: the first failure's reason; null when none failed. */
  readonly error: string | null;
  /** What the tunnel reported at its first successful setup (versions, negotiated cipher). */
  readonly notes: Readonly<Record<string, string>>;
  readonly reps: readonly RepResult[];
  readonly summary: ContenderSummary;
}

export interface Environment {
  readonly hostname: string;
  readonly kernel: string;
  readonly os: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryBytes: number;
  readonly nodeVersion: string;
  readonly gitCommit: string | null;
  readonly gitDirty: boolean | null;
  readonly tools: Readonly<Record<string, string>>;
}

export interface IroComparison {
  readonly id: string;
  /** iro median / best peer's median (same run). */
  readonly tcp1Ratio: number | null;
  readonly tcp4Ratio: number | null;
  readonly pingIdleRatio: number | null;
  readonly pingLoadP99Ms: number | null;
  readonly queueFullDrops: number | null;
  /** Largest |relative difference| between Prometheus and iperf3 over the TCP runs' medians. */
  readonly promTcpWorstDifference: number | null;
  /** Targets of the issue; null when there is nothing to judge (a failed contender, no peer). */
  readonly targets: {
    readonly tcpGoodputAtLeastBestPeer: boolean | null;
    readonly idlePingAtMostBestPeer: boolean | null;
    readonly noQueueFullDrops: boolean | null;
    readonly prometheusWithin5Percent: boolean | null;
  };
}

export interface BestPeer {
  readonly id: string;
  readonly value: number;
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: ResolvedOptions & {
    readonly udpDatagramBytes: number;
    readonly idlePingCount: number;
    readonly pingIntervalSeconds: number;
  };
  readonly environment: Environment;
  readonly lab: {
    readonly namespaces: readonly string[];
    readonly vethMtu: number;
    readonly outer: Readonly<Record<string, string>>;
    readonly inner: Readonly<Record<string, string>>;
  };
  readonly install: InstallResult;
  readonly prometheus: {
    /** `ok`, `not needed` (no iro contender) or `failed: <reason>`. */
    readonly status: string;
    readonly version: string | null;
    readonly scrapeIntervalSeconds: number;
    readonly namespace: string | null;
  };
  readonly contenders: readonly ContenderReport[];
  readonly comparison: {
    /** The best peer (wireguard-go, strongSwan, OpenVPN) on each measure; null when none ran. */
    readonly bestPeer: { readonly tcp1: BestPeer | null; readonly tcp4: BestPeer | null; readonly pingIdle: BestPeer | null };
    readonly iro: readonly IroComparison[];
  };
  /** Files written (absolute paths). */
  readonly files: { readonly json: string; readonly markdown: string; readonly svg: string };
}
