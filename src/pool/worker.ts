/**
 * The piscina worker: seals or opens one batch per task with the CryptoEngine, taking each SA's
 * key from the shared KeyTable (contexts are built once per key and rebuilt when the slot's
 * generation changes). The batch arrives and leaves as one moved ArrayBuffer, never cloned.
 * Imports only esp, packet, util (and the addon through esp's native backend).
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import type { BackendName } from '../esp/types.js';
import { PacketBatch, type BatchLayout } from '../packet/batch.js';
import { CryptoEngine, type CryptoOp } from './engine.js';
import { KeyTableSource } from './keysource.js';
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

const data = workerData as WorkerData | null;
const engine = data ? new CryptoEngine(new KeyTableSource(new KeyTable(data.keys), data.backend)) : null;

/** One task: returns the same memory, moved back to the main thread. */
export default function runTask(task: CryptoTask): unknown {
  if (engine === null) throw new Error('the crypto worker was started without workerData');
  engine.run(task.op, PacketBatch.wrap(task.layout, task.buffer));
  return move(task.buffer);
}
