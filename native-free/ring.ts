/**
 * The ring between the macvtap reader worker (reader-worker.ts, the only producer) and the main
 * thread (macvtap.ts, the only consumer), in SharedArrayBuffers so that no packet is copied
 * between threads or sent as a message.
 *
 * - `control` (Int32Array): HEAD (next slot the main thread reads; written by main only), TAIL
 *   (next slot the worker fills; written by the worker only), CLOSING (set by main), then the
 *   worker's counters (uint32, wrapping; the main thread widens them, see CounterWidener).
 *   HEAD and TAIL run freely and wrap at 2^32; slot = index & (capacity - 1).
 * - `meta` (Int32Array): per slot, the IP packet's offset in `store` and its length.
 * - `store` (bytes): capacity + 1 slots of `slotBytes`; the last is the worker's scratch slot for
 *   frames read while the ring is full (they are counted and dropped).
 *
 * Publication: the worker writes the slot and its meta, then Atomics.store(TAIL); the main thread
 * Atomics.load(TAIL) before reading slots, and Atomics.store(HEAD) after (sequentially consistent
 * atomics order the plain accesses around them). Wake-ups: after publishing index t the worker
 * posts a message when HEAD == t (the ring was empty, so the main thread may be idle); after
 * storing HEAD the main thread checks TAIL again. One of the two always sees the other, so a
 * packet is never left unannounced.
 */

export const CTL_HEAD = 0;
export const CTL_TAIL = 1;
export const CTL_CLOSING = 2;
/** Counters the worker keeps, in this order from CTL_COUNTERS. */
export const WORKER_COUNTERS = [
  'framesIn',
  'checksumsFinished',
  'nonIp',
  'neighbour',
  'gso',
  'malformed',
  'truncated',
  'queueFull',
  'readErrors',
] as const;
export type WorkerCounter = (typeof WORKER_COUNTERS)[number];
export const CTL_COUNTERS = 3;
export const CTL_LENGTH = CTL_COUNTERS + WORKER_COUNTERS.length;
/** `meta` holds two Int32 per slot: offset in `store`, then length. */
export const META_PER_SLOT = 2;

/** Message the worker posts: the ring went from empty to non-empty. */
export const MSG_READABLE = 0;
/** Message the worker posts before giving up on a device that keeps failing. */
export interface ReaderFailure {
  readonly failed: string;
}

/** What the worker is started with (workerData). */
export interface ReaderInit {
  /** The macvtap descriptor, blocking mode (descriptors are shared by all threads). */
  readonly fd: number;
  readonly control: SharedArrayBuffer;
  readonly meta: SharedArrayBuffer;
  readonly store: SharedArrayBuffer;
  /** Slots in the ring: a power of two. */
  readonly capacity: number;
  readonly slotBytes: number;
  /** Bytes asked of each read(2): one more than the largest frame, so a cut-short read shows. */
  readonly readLen: number;
}

/** Turns the worker's wrapping uint32 counters into plain monotonic numbers on the main thread. */
export class CounterWidener {
  private readonly control: Int32Array;
  private readonly last: Uint32Array = new Uint32Array(WORKER_COUNTERS.length);
  private readonly total: Float64Array = new Float64Array(WORKER_COUNTERS.length);

  constructor(control: Int32Array) {
    this.control = control;
  }

  /** Folds in what changed since the last call; call more often than every 2^32 events. */
  sync(): void {
    for (let i = 0; i < WORKER_COUNTERS.length; i++) {
      const now = Atomics.load(this.control, CTL_COUNTERS + i) >>> 0;
      this.total[i]! += (now - this.last[i]!) >>> 0;
      this.last[i] = now;
    }
  }

  get(name: WorkerCounter): number {
    return this.total[WORKER_COUNTERS.indexOf(name)]!;
  }
}
