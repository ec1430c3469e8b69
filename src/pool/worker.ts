/**
 * The piscina worker: seals or opens one batch per task with the CryptoEngine, taking each SA's
 * key from the shared KeyTable (contexts are built once per key and rebuilt when the slot's
 * generation changes). The batch arrives and leaves as one moved ArrayBuffer, never cloned.
 * Imports only esp, packet, util (and the addon through esp's native backend).
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { defaultBackend, getBackend } from '../esp/backends.js';
import type { AeadContext, BackendName } from '../esp/types.js';
import { PacketBatch, type BatchLayout } from '../packet/batch.js';
import { CryptoEngine, type ContextSource, type CryptoOp } from './engine.js';
import { KeyTable } from './keytable.js';

export interface WorkerData {
  readonly keys: SharedArrayBuffer;
  /** A fixed backend, or 'auto' for each suite's fastest available one. */
  readonly backend: BackendName | 'auto';
}

export interface CryptoTask {
  readonly op: CryptoOp;
  readonly layout: BatchLayout;
  readonly buffer: ArrayBuffer;
}

/** Contexts built from the shared key table, cached per slot and generation. */
export class KeyTableSource implements ContextSource {
  private readonly keys: KeyTable;
  private readonly backend: BackendName | 'auto';
  private readonly cache: ({ gen: number; ctx: AeadContext } | undefined)[] = [];

  constructor(keys: KeyTable, backend: BackendName | 'auto') {
    this.keys = keys;
    this.backend = backend;
  }

  context(slot: number): AeadContext | undefined {
    if (slot >= this.keys.slots) return undefined;
    const cached = this.cache[slot];
    if (cached !== undefined && cached.gen === this.keys.generation(slot)) return cached.ctx;
    if (cached !== undefined) {
      cached.ctx.destroy();
      this.cache[slot] = undefined;
    }
    const entry = this.keys.read(slot);
    if (entry === null) return undefined;
    try {
      const backend = this.backend === 'auto' ? defaultBackend(entry.suite) : getBackend(this.backend);
      const ctx = backend.create(entry.suite, entry.key, entry.salt, entry.esn);
      this.cache[slot] = { gen: entry.generation, ctx };
      return ctx;
    } finally {
      entry.key.fill(0);
      entry.salt.fill(0);
    }
  }
}

const data = workerData as WorkerData | null;
const engine = data ? new CryptoEngine(new KeyTableSource(new KeyTable(data.keys), data.backend)) : null;

/** One task: returns the same memory, moved back to the main thread. */
export default function runTask(task: CryptoTask): unknown {
  if (engine === null) throw new Error('the crypto worker was started without workerData');
  engine.run(task.op, PacketBatch.wrap(task.layout, task.buffer));
  return move(task.buffer);
}
