/**
 * The crypto worker pool (DESIGN.md "Data flow", step 4 of both pipelines): batches in, batches
 * out, buffers moved, never cloned. A piscina pool of `threads` workers, or, with threads = 0,
 * the same engine on the main thread (on a 2-core machine that can be the faster choice:
 * `iro bench` measures both). Completion order is not guaranteed with several workers; the
 * dataplane restores submit order itself.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { BackendName } from '../esp/types.js';
import { PacketBatch } from '../packet/batch.js';
import { aInteger } from '../util/assert.js';
import { CryptoEngine, type CryptoOp } from './engine.js';
import type { KeyTable } from './keytable.js';
import { KeyTableSource } from './keysource.js';
import type { CryptoTask, WorkerData } from './worker.js';

export { CryptoEngine, type ContextSource, type CryptoOp } from './engine.js';
export { KeyTable, type KeyEntry } from './keytable.js';
export { KeyTableSource } from './keysource.js';

/** What the dataplane needs from a pool (it imports only this type). */
export interface CryptoRunner {
  /** Seals or opens `batch`; resolves with the batch over the same memory (a new object when it
   * crossed threads: the one passed in is then detached and must not be used). */
  run(op: CryptoOp, batch: PacketBatch): Promise<PacketBatch>;
  /** Tasks submitted and not yet finished. */
  queueDepth(): number;
  /** Workers (0 = the main thread). */
  readonly threads: number;
}

export interface CryptoPoolOptions {
  /** Worker threads; 0 runs the engine on the main thread. */
  readonly threads: number;
  readonly keys: KeyTable;
  /** Fixed AEAD backend, or 'auto' for each suite's fastest. */
  readonly backend: BackendName | 'auto';
  /** Called after each task with its duration and packet count (metrics). */
  readonly onTask?: (op: CryptoOp, seconds: number, packets: number) => void;
}

export class CryptoPool implements CryptoRunner {
  readonly threads: number;
  private readonly piscina: Piscina | null;
  private readonly inline: CryptoEngine | null;
  private readonly onTask: ((op: CryptoOp, seconds: number, packets: number) => void) | undefined;
  private pending = 0;

  /** Throws TypeError/RangeError naming the option (STYLE 7). */
  constructor(options: CryptoPoolOptions) {
    this.threads = aInteger('options.threads', options.threads, 0, 64);
    this.onTask = options.onTask;
    if (this.threads === 0) {
      this.piscina = null;
      this.inline = new CryptoEngine(new KeyTableSource(options.keys, options.backend));
      return;
    }
    this.inline = null;
    const workerData: WorkerData = { keys: options.keys.buffer, backend: options.backend };
    this.piscina = new Piscina({
      filename: fileURLToPath(new URL('./worker.js', import.meta.url)),
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData,
    });
  }

  queueDepth(): number {
    return this.pending;
  }

  async run(op: CryptoOp, batch: PacketBatch): Promise<PacketBatch> {
    const started = process.hrtime.bigint();
    const packets = batch.count;
    this.pending++;
    try {
      let result: PacketBatch;
      if (this.inline !== null) {
        this.inline.run(op, batch);
        result = batch;
      } else {
        const layout = batch.layout;
        const task: CryptoTask = { op, layout, buffer: batch.buffer };
        const buffer = (await this.piscina!.run(task, { transferList: [batch.buffer] })) as ArrayBuffer;
        result = PacketBatch.wrap(layout, buffer);
      }
      this.onTask?.(op, Number(process.hrtime.bigint() - started) / 1e9, packets);
      return result;
    } finally {
      this.pending--;
    }
  }

  async close(): Promise<void> {
    if (this.piscina !== null) await this.piscina.destroy();
  }
}
