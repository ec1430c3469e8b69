/**
 * Submit-order completion (STYLE 4: sequential, then parallel, then sequential). Batches go to
 * the crypto runner in packet order; whichever finishes first, `deliver` sees them in the order
 * they were submitted, so the wire and the TUN see packets in the order they were read.
 */
import type { PacketBatch } from '../packet/batch.js';

interface Slot {
  done: boolean;
  batch: PacketBatch | null;
  /** Packets of a batch whose task failed (the batch's memory is gone). */
  lost: number;
}

export class OrderedStage {
  private readonly queue: Slot[] = [];
  private readonly work: (batch: PacketBatch) => Promise<PacketBatch>;
  private readonly deliver: (batch: PacketBatch) => void;
  private readonly fail: (packets: number, err: unknown) => void;

  /**
   * `work` runs the parallel step; `deliver` gets each finished batch in submit order; `fail`
   * is told, in order too, when a task failed as a whole.
   */
  constructor(
    work: (batch: PacketBatch) => Promise<PacketBatch>,
    deliver: (batch: PacketBatch) => void,
    fail: (packets: number, err: unknown) => void,
  ) {
    this.work = work;
    this.deliver = deliver;
    this.fail = fail;
  }

  /** Batches submitted and not yet delivered. */
  get inflight(): number {
    return this.queue.length;
  }

  submit(batch: PacketBatch): void {
    const slot: Slot = { done: false, batch: null, lost: 0 };
    const packets = batch.count;
    this.queue.push(slot);
    this.work(batch).then(
      (result) => {
        slot.batch = result;
        slot.done = true;
        this.drain();
      },
      (err: unknown) => {
        slot.lost = packets;
        slot.done = true;
        this.drain(err);
      },
    );
  }

  private drain(err?: unknown): void {
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const slot = this.queue.shift()!;
      if (slot.batch !== null) this.deliver(slot.batch);
      else this.fail(slot.lost, err);
    }
  }
}
