/**
 * A capped free list of PacketBatches (STYLE "preallocate with a capped pool"). Batches come back
 * from the crypto pool as new objects over the same memory; `put` takes whichever object is
 * current. Taking from an empty pool returns null: the pipeline then stops reading (backpressure)
 * instead of allocating without bound.
 */
import { PacketBatch, type BatchLayout } from '../packet/batch.js';

export class BatchPool {
  private readonly free: PacketBatch[] = [];
  private readonly layout: BatchLayout;
  private created = 0;
  readonly max: number;

  constructor(layout: BatchLayout, max: number) {
    this.layout = layout;
    this.max = max;
  }

  /** An empty batch, or null when `max` batches are in use. */
  take(): PacketBatch | null {
    const b = this.free.pop();
    if (b !== undefined) {
      b.count = 0;
      return b;
    }
    if (this.created >= this.max) return null;
    this.created++;
    return new PacketBatch(this.layout);
  }

  put(batch: PacketBatch): void {
    batch.count = 0;
    this.free.push(batch);
  }

  /** Batches currently taken. */
  get inUse(): number {
    return this.created - this.free.length;
  }

  /** Forgets a batch that was lost (its memory went with a failed worker task). */
  lost(): void {
    this.created--;
  }
}
