/**
 * iro's metric set (DESIGN.md "Conventions, concretely", the metrics table): one prom-client
 * Registry per process, on the main thread. Counters and gauges are read from a MetricsSource at
 * scrape time; histograms are observed as events happen (MetricsRecorder). Every labelled series
 * whose labels are known in advance (drop reasons, directions, binding-update results, pool ops,
 * binding roles, each configured peer) is exposed from the first scrape, at 0 until it moves.
 *
 * One scrape reads the source once: the first metric collected takes a snapshot of every source
 * method, the others reuse it, and it is dropped in a microtask (prom-client collects all metrics
 * of one scrape synchronously, before its first await), so packets and bytes of one scrape come
 * from the same instant. A scrape that does not follow this pattern still gets correct values,
 * only from several snapshots.
 */
import { Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import { DROP_LABELS } from '../util/drop.js';
import { IroError } from '../util/errors.js';
import { snapshotGauge, totalsCounter } from './series.js';
import {
  BINDING_UPDATE_RESULTS,
  DIRECTIONS,
  PEER_ROLES,
  POOL_OPS,
  type BuildInfo,
  type Direction,
  type MetricsRecorder,
  type MetricsSource,
  type PeerRole,
  type PeerSnapshot,
  type PoolOp,
  type TunSnapshot,
} from './types.js';

/** Handover durations: 1 ms .. 10 s. */
export const HANDOVER_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Pool task run times: 10 µs .. 100 ms. */
export const POOL_TASK_BUCKETS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];
/** Packets per pool batch: 1 .. 1024, powers of two. */
export const POOL_BATCH_BUCKETS: readonly number[] = exponentialBuckets(1, 2, 11);

export interface MetricsOptions {
  /** Register prom-client's default process_* and nodejs_* metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** The registry to serve and the recorder the dataplane reports events to. */
export interface IroMetrics extends MetricsRecorder {
  /** Owned by this object; serve it with startMetricsServer(). */
  readonly registry: Registry;
}

/** Everything one scrape reads from the source. */
interface Scrape {
  readonly build: BuildInfo;
  readonly peers: readonly PeerSnapshot[];
  readonly tun: TunSnapshot;
  readonly drops: Readonly<Record<Direction, Float64Array>>;
  readonly bindings: Readonly<Partial<Record<PeerRole, number>>>;
  readonly poolQueueDepth: number;
}

function takeScrape(source: MetricsSource): Scrape {
  const peers = [...source.peers()];
  const names = new Set<string>();
  for (const p of peers) {
    if (names.has(p.name)) throw new IroError('ERR_STATE', `metrics source listed peer "${p.name}" twice; peer names must be unique`);
    names.add(p.name);
  }
  return {
    build: source.buildInfo(),
    peers,
    tun: source.tun(),
    drops: { in: source.drops('in'), out: source.drops('out') },
    bindings: source.bindings(),
    poolQueueDepth: source.poolQueueDepth(),
  };
}

const SOURCE_METHODS = ['buildInfo', 'peers', 'tun', 'drops', 'bindings', 'poolQueueDepth'] as const;

/**
 * Builds the registry of iro's metrics over `source`. The source is called only while a scrape
 * runs; the returned recorder's methods are safe on the hot path (no allocation per call beyond
 * prom-client's label hashing, never throw).
 */
export function createMetrics(source: MetricsSource, options: MetricsOptions = {}): IroMetrics {
  for (const m of SOURCE_METHODS) {
    if (typeof (source as unknown as Record<string, unknown> | null)?.[m] !== 'function') {
      throw new TypeError(`source.${m} must be a function`);
    }
  }
  if (options.defaultMetrics !== undefined && typeof options.defaultMetrics !== 'boolean') {
    throw new TypeError('options.defaultMetrics must be a boolean');
  }

  const registry = new Registry();
  let current: Scrape | undefined;
  const scrape = (): Scrape => {
    if (current === undefined) {
      current = takeScrape(source);
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current;
  };

  snapshotGauge(registry, {
    name: 'iro_build_info',
    help: 'Always 1; the labels say which iro, Node.js, I/O back-end and AEAD backend are running.',
    labelNames: ['version', 'node_version', 'backend', 'crypto'],
    fill: (emit) => {
      const b = scrape().build;
      emit({ version: b.version, node_version: b.nodeVersion, backend: b.backend, crypto: b.crypto }, 1);
    },
  });
  snapshotGauge(registry, {
    name: 'iro_peer_info',
    help: 'Always 1 per configured peer; the labels give its role and outbound cipher.',
    labelNames: ['peer', 'role', 'cipher'],
    fill: (emit) => {
      for (const p of scrape().peers) emit({ peer: p.name, role: p.role, cipher: p.cipher }, 1);
    },
  });
  snapshotGauge(registry, {
    name: 'iro_peer_up',
    help: '1 when traffic can flow to the peer now (outbound SA installed, locator known), else 0.',
    labelNames: ['peer'],
    fill: (emit) => {
      for (const p of scrape().peers) emit({ peer: p.name }, p.up ? 1 : 0);
    },
  });
  totalsCounter(registry, {
    name: 'iro_packets_total',
    help: 'ESP packets exchanged with the peer: out = sent, in = received and authenticated.',
    labelNames: ['peer', 'direction'],
    fill: (emit) => {
      for (const p of scrape().peers) {
        emit({ peer: p.name, direction: 'in' }, p.packetsIn);
        emit({ peer: p.name, direction: 'out' }, p.packetsOut);
      }
    },
  });
  totalsCounter(registry, {
    name: 'iro_bytes_total',
    help: 'Wire bytes of iro_packets_total (the ESP packet from SPI to ICV, without outer IP/UDP headers).',
    labelNames: ['peer', 'direction'],
    fill: (emit) => {
      for (const p of scrape().peers) {
        emit({ peer: p.name, direction: 'in' }, p.bytesIn);
        emit({ peer: p.name, direction: 'out' }, p.bytesOut);
      }
    },
  });
  totalsCounter(registry, {
    name: 'iro_tun_packets_total',
    help: 'Packets on the TUN: out = read from it (outbound pipeline), in = written to it (inbound pipeline).',
    labelNames: ['direction'],
    fill: (emit) => {
      const t = scrape().tun;
      emit({ direction: 'in' }, t.writtenPackets);
      emit({ direction: 'out' }, t.readPackets);
    },
  });
  totalsCounter(registry, {
    name: 'iro_tun_bytes_total',
    help: 'Bytes of iro_tun_packets_total (IP packets, no link-layer header).',
    labelNames: ['direction'],
    fill: (emit) => {
      const t = scrape().tun;
      emit({ direction: 'in' }, t.writtenBytes);
      emit({ direction: 'out' }, t.readBytes);
    },
  });
  totalsCounter(registry, {
    name: 'iro_dropped_packets_total',
    help: 'Packets dropped by the pipeline of that direction (out = TUN to wire, in = wire to TUN), by reason.',
    labelNames: ['direction', 'reason'],
    fill: (emit) => {
      const drops = scrape().drops;
      for (const direction of DIRECTIONS) {
        const tally = drops[direction];
        for (let i = 0; i < DROP_LABELS.length; i++) emit({ direction, reason: DROP_LABELS[i]! }, tally[i] ?? 0);
      }
    },
  });
  snapshotGauge(registry, {
    name: 'iro_last_authenticated_rx_timestamp_seconds',
    help: 'Unix time of the last packet from the peer whose ICV verified; 0 = never.',
    labelNames: ['peer'],
    fill: (emit) => {
      for (const p of scrape().peers) emit({ peer: p.name }, p.lastAuthenticatedRx);
    },
  });
  snapshotGauge(registry, {
    name: 'iro_bindings',
    help: 'Bindings held now by the local role: home-agent/correspondent = binding cache, mobile-node = binding update list.',
    labelNames: ['role'],
    fill: (emit) => {
      const b = scrape().bindings;
      for (const role of PEER_ROLES) emit({ role }, b[role] ?? 0);
    },
  });
  totalsCounter(registry, {
    name: 'iro_binding_updates_total',
    help: 'Binding Updates with the peer by result: sent, accepted, refused_* (by cause), expired.',
    labelNames: ['peer', 'result'],
    fill: (emit) => {
      for (const p of scrape().peers) {
        const bu = p.bindingUpdates;
        for (const result of BINDING_UPDATE_RESULTS) emit({ peer: p.name, result }, bu[result] ?? 0);
        for (const [result, n] of Object.entries(bu)) {
          if (!(BINDING_UPDATE_RESULTS as readonly string[]).includes(result)) emit({ peer: p.name, result }, n);
        }
      }
    },
  });
  totalsCounter(registry, {
    name: 'iro_handovers_total',
    help: 'Completed handovers (care-of address changes that took effect) with the peer.',
    labelNames: ['peer'],
    fill: (emit) => {
      for (const p of scrape().peers) emit({ peer: p.name }, p.handovers);
    },
  });
  snapshotGauge(registry, {
    name: 'iro_sa_sequence_ratio',
    help: "Share (0-1) of the SA's sequence number space used: out = sent, in = highest authenticated.",
    labelNames: ['peer', 'direction'],
    fill: (emit) => {
      for (const p of scrape().peers) {
        emit({ peer: p.name, direction: 'in' }, p.seqRatioIn);
        emit({ peer: p.name, direction: 'out' }, p.seqRatioOut);
      }
    },
  });
  snapshotGauge(registry, {
    name: 'iro_pool_queue_depth',
    help: 'Batches submitted to the worker pool and not yet started.',
    labelNames: [],
    fill: (emit) => emit({}, scrape().poolQueueDepth),
  });

  // Handover series follow the configured peers: zeroed when a peer appears, removed with it.
  const handoverPeers = new Set<string>();
  const handover = new Histogram<'peer'>({
    name: 'iro_handover_duration_seconds',
    help: 'Time from a care-of address change to the handover taking effect with the peer.',
    labelNames: ['peer'],
    buckets: [...HANDOVER_BUCKETS],
    registers: [registry],
    collect(this: Histogram<'peer'>) {
      const now = new Set<string>();
      for (const p of scrape().peers) now.add(p.name);
      for (const name of handoverPeers) {
        if (!now.has(name)) {
          this.remove({ peer: name });
          handoverPeers.delete(name);
        }
      }
      for (const name of now) {
        if (!handoverPeers.has(name)) {
          this.zero({ peer: name });
          handoverPeers.add(name);
        }
      }
    },
  });
  const poolTask = new Histogram<'op'>({
    name: 'iro_pool_task_duration_seconds',
    help: 'Run time of one worker-pool task (one batch), by operation.',
    labelNames: ['op'],
    buckets: [...POOL_TASK_BUCKETS],
    registers: [registry],
  });
  for (const op of POOL_OPS) poolTask.zero({ op });
  const poolBatch = new Histogram({
    name: 'iro_pool_batch_packets',
    help: 'Packets per worker-pool task.',
    buckets: [...POOL_BATCH_BUCKETS],
    registers: [registry],
  });

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  return {
    registry,
    observeHandover(peer: string, seconds: number): void {
      if (!(seconds >= 0 && seconds !== Infinity)) return;
      handover.observe({ peer }, seconds);
      handoverPeers.add(peer);
    },
    observePoolTask(op: PoolOp, seconds: number, packets: number): void {
      if (!(seconds >= 0 && seconds !== Infinity && packets >= 0 && packets !== Infinity)) return;
      poolTask.observe({ op }, seconds);
      poolBatch.observe(packets);
    },
  };
}
