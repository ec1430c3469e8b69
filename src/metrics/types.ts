/**
 * The contract between the dataplane and metrics/ (DESIGN.md "Metrics"). The dataplane keeps its
 * counters as plain numbers (typed arrays, fields of its own records) and bumps them on the hot
 * path; metrics/ reads them through a MetricsSource only when Prometheus scrapes (prom-client's
 * `collect()`), so a packet never touches prom-client. Worker tallies reach these numbers with the
 * batch results, never one message per packet.
 *
 * Directions: `out` is the outbound pipeline (TUN -> wire), `in` the inbound pipeline
 * (wire -> TUN). Per peer, `out` is what was sent to the peer and `in` what was received from it;
 * for the TUN, `out` counts packets read from it and `in` packets written to it; drops are
 * counted in the pipeline that dropped them.
 *
 * Every counter a source returns is a running total since the process started (or since the peer
 * appeared): it never goes down while the series exists. metrics/ exposes these totals exactly,
 * so Prometheus's rate() equals what the dataplane counted.
 */

/** Pipeline direction, the `direction` label value. */
export type Direction = 'in' | 'out';
export const DIRECTIONS: readonly Direction[] = ['in', 'out'];

/** A node's or a peer's role, in the config file's keywords (the `role` label value). */
export type PeerRole = 'mobile-node' | 'home-agent' | 'correspondent';
export const PEER_ROLES: readonly PeerRole[] = ['mobile-node', 'home-agent', 'correspondent'];

/**
 * Outcomes of Binding Updates (the `result` label of `iro_binding_updates_total`). These are
 * always exposed, at 0 until they happen; a source may report further keys of the same shape
 * (lower case, `_`-separated, from a small fixed set), which appear once reported.
 * - `sent`: BUs this node sent (first transmissions and retransmissions; mobile node).
 * - `accepted`: BUs accepted (BA status 0/1 received by a mobile node, or sent by an HA/CN).
 * - `refused_sequence`: BA status 135, sequence number out of window (RFC 6275 §6.1.8).
 * - `refused_auth`: BU not protected by the peer's SA, or its return-routability data failed.
 * - `refused_address`: home address or care-of address not acceptable (BA 132/133, no binding
 *   for the HoA, CoA not verified).
 * - `refused_prohibited`: BA status 129, administratively prohibited (e.g. `NAT = deny`).
 * - `expired`: bindings whose lifetime ran out without a refresh.
 */
export type BindingUpdateResult =
  | 'sent'
  | 'accepted'
  | 'refused_sequence'
  | 'refused_auth'
  | 'refused_address'
  | 'refused_prohibited'
  | 'expired';
export const BINDING_UPDATE_RESULTS: readonly BindingUpdateResult[] = [
  'sent',
  'accepted',
  'refused_sequence',
  'refused_auth',
  'refused_address',
  'refused_prohibited',
  'expired',
];

/** What is running: the labels of `iro_build_info`. Fixed for the process lifetime. */
export interface BuildInfo {
  /** iro's version (package.json). */
  readonly version: string;
  /** `process.version`, e.g. `v20.20.0`. */
  readonly nodeVersion: string;
  /** The I/O back-end: `native` or `native-free`. */
  readonly backend: string;
  /** The AEAD backend: `node`, `noble` or `native`. */
  readonly crypto: string;
}

/**
 * One configured peer at scrape time. The source may build a fresh object per scrape or return the
 * same live object each time; metrics/ reads it synchronously and keeps no reference to it.
 */
export interface PeerSnapshot {
  /** The configured `Name`, unique among peers: the `peer` label. Never an address or a key. */
  readonly name: string;
  /** The peer's configured role. */
  readonly role: PeerRole;
  /** strongSwan keyword of the peer's outbound SA suite, e.g. `aes128gcm16`. */
  readonly cipher: string;
  /** True when traffic can flow to the peer now: an outbound SA is installed and a locator is known. */
  readonly up: boolean;
  /** ESP packets received from the peer that passed the ICV check (running total). */
  readonly packetsIn: number;
  /** ESP packets sent to the peer (handed to the kernel; running total). */
  readonly packetsOut: number;
  /** Wire bytes of `packetsIn`: the ESP packet from the SPI to the ICV, as carried in UDP or IP. */
  readonly bytesIn: number;
  /** Wire bytes of `packetsOut`, counted like `bytesIn`. */
  readonly bytesOut: number;
  /** Unix time in seconds of the last packet from the peer whose ICV verified; 0 = never. */
  readonly lastAuthenticatedRx: number;
  /** Share of the outbound SA's sequence space used, 0..1 (2^32 or, with ESN, 2^64 numbers). */
  readonly seqRatioOut: number;
  /** Share of the inbound SA's sequence space used (highest authenticated number), 0..1. */
  readonly seqRatioIn: number;
  /**
   * Binding Update outcomes by result (running totals), keyed by BindingUpdateResult or another
   * result of the same shape; missing BINDING_UPDATE_RESULTS read as 0.
   */
  readonly bindingUpdates: Readonly<Record<string, number>>;
  /** Completed handovers (care-of address changes that took effect) with this peer (running total). */
  readonly handovers: number;
}

/** The local TUN (or macvtap) side: identity packets, i.e. what applications sent and receive. */
export interface TunSnapshot {
  /** Packets read from the TUN (outbound pipeline; running total). */
  readonly readPackets: number;
  /** Bytes of `readPackets` (IP packets, no link-layer header). */
  readonly readBytes: number;
  /** Packets written to the TUN (inbound pipeline; running total). */
  readonly writtenPackets: number;
  /** Bytes of `writtenPackets`. */
  readonly writtenBytes: number;
}

/**
 * What the dataplane exposes to metrics/. Every method is called synchronously during a scrape,
 * once per scrape (`drops` once per direction), and must be cheap and side-effect free (no I/O,
 * no allocation beyond the returned snapshot).
 */
export interface MetricsSource {
  buildInfo(): BuildInfo;
  /** The configured peers now: a peer removed from the config is no longer listed. */
  peers(): Iterable<PeerSnapshot>;
  tun(): TunSnapshot;
  /**
   * Dropped packets of one pipeline by reason: running totals indexed by DropReason, as
   * `newDropTally()` (util/drop.ts) allocates them. The array is read, never kept or written.
   */
  drops(direction: Direction): Float64Array;
  /**
   * Bindings held now, by the local role that holds them: `home-agent` and `correspondent` count
   * binding cache entries, `mobile-node` counts binding update list entries (RFC 6275 §9.1, §11.1).
   * Missing roles read as 0.
   */
  bindings(): Readonly<Partial<Record<PeerRole, number>>>;
  /** Batches submitted to the worker pool and not yet started. */
  poolQueueDepth(): number;
}

/** The pool operation of a task: the `op` label of `iro_pool_task_duration_seconds`. */
export type PoolOp = 'seal' | 'open';
export const POOL_OPS: readonly PoolOp[] = ['seal', 'open'];

/**
 * Events the dataplane reports as they happen (histograms). Cheap enough to call once per batch;
 * never throws: a negative or non-finite value is ignored rather than breaking the data path.
 */
export interface MetricsRecorder {
  /** A handover with `peer` completed `seconds` after the care-of address changed. */
  observeHandover(peer: string, seconds: number): void;
  /** A pool task ran `op` over `packets` packets in `seconds` (worker run time). */
  observePoolTask(op: PoolOp, seconds: number, packets: number): void;
}

/** The answer of a health check: `ok` decides 200 or 503; `details` goes into the JSON body. */
export interface HealthReport {
  readonly ok: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * What the HTTP server needs from a registry. prom-client's Registry satisfies it; cli/ passes
 * `IroMetrics.registry` without importing prom-client.
 */
export interface ExpositionSource {
  /** The Content-Type of `metrics()`'s text. */
  readonly contentType: string;
  metrics(): Promise<string>;
}
