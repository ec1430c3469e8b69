/**
 * The crypto step of both pipelines (DESIGN.md "Data flow", outbound 4 / inbound 4), for one
 * batch on whichever thread runs it: a pool worker, or the main thread when the pool has no
 * workers. It never touches sockets, sequence counters or replay windows (STYLE 4): the main
 * thread already framed every packet and assigned its SA slot and sequence number.
 *
 * Per packet i with status 0 and sa[i] >= 0: the ESP packet is data[offset[i], + length[i])
 * (header, IV, plaintext or ciphertext, room for / the ICV). Seal encrypts and writes the ICV;
 * open verifies and decrypts, setting status to Drop.AUTH_FAILED + 1 on a bad tag, or
 * Drop.NO_SA + 1 when the slot has no key (the SA was removed while the batch was in flight).
 */
import { openBatch, sealBatch } from '../esp/batch.js';
import type { AeadBatch, AeadContext } from '../esp/types.js';
import { ESP_HDR_LEN, ESP_ICV_LEN, ESP_IV_LEN, ESP_TRAILER_LEN } from '../packet/constants.js';
import type { PacketBatch } from '../packet/batch.js';
import { Drop } from '../util/drop.js';

export type CryptoOp = 'seal' | 'open';

/** Where the engine gets the AEAD context of an SA slot. */
export interface ContextSource {
  /** The context for `slot`, or undefined when the slot holds no SA. */
  context(slot: number): AeadContext | undefined;
}

/** Bytes of an ESP packet that are not ciphertext: header, IV and ICV. */
const ESP_OVERHEAD = ESP_HDR_LEN + ESP_IV_LEN + ESP_ICV_LEN;
const STATUS_NO_SA = Drop.NO_SA + 1;
const STATUS_MALFORMED = Drop.MALFORMED + 1;

export class CryptoEngine {
  private readonly source: ContextSource;
  /** Per-batch compaction of SA slots into a short context list (the addon gets only these). */
  private stamp = 0;
  private stampOf = new Int32Array(0);
  private localOf = new Int32Array(0);
  private ctxIndex = new Int32Array(0);
  private len = new Uint32Array(0);
  private readonly ctxs: AeadContext[] = [];

  constructor(source: ContextSource) {
    this.source = source;
  }

  /**
   * Seals or opens every eligible packet of `batch` in place. Returns how many packets were
   * processed successfully. The batch's buffers are borrowed for the call only.
   */
  run(op: CryptoOp, batch: PacketBatch): number {
    const n = batch.count;
    this.ensureCapacity(batch.capacity);
    const { sa, status, length } = batch;
    const ctxIndex = this.ctxIndex;
    const len = this.len;
    const ctxs = this.ctxs;
    ctxs.length = 0;
    const stamp = ++this.stamp;
    let eligible = 0;
    for (let i = 0; i < n; i++) {
      ctxIndex[i] = -1;
      const slot = sa[i]!;
      if (status[i] !== 0 || slot < 0) continue;
      if (length[i]! < ESP_OVERHEAD + ESP_TRAILER_LEN) {
        status[i] = STATUS_MALFORMED;
        continue;
      }
      let local: number;
      if (slot < this.stampOf.length && this.stampOf[slot] === stamp) {
        local = this.localOf[slot]!;
      } else {
        const ctx = this.source.context(slot);
        if (ctx === undefined) {
          status[i] = STATUS_NO_SA;
          continue;
        }
        this.ensureSlots(slot + 1);
        local = ctxs.length;
        ctxs.push(ctx);
        this.stampOf[slot] = stamp;
        this.localOf[slot] = local;
      }
      ctxIndex[i] = local;
      len[i] = length[i]! - ESP_OVERHEAD;
      eligible++;
    }
    if (eligible === 0) return 0;
    const job: AeadBatch = { data: batch.data, esp: batch.offset, len, seqHi: batch.seqHi, ctxIndex, status, count: n };
    if (op === 'seal') {
      sealBatch(ctxs, job);
      return eligible;
    }
    return openBatch(ctxs, job);
  }

  private ensureCapacity(capacity: number): void {
    if (this.ctxIndex.length >= capacity) return;
    this.ctxIndex = new Int32Array(capacity);
    this.len = new Uint32Array(capacity);
  }

  private ensureSlots(n: number): void {
    if (this.stampOf.length >= n) return;
    const size = Math.max(n, this.stampOf.length * 2, 64);
    const stampOf = new Int32Array(size);
    stampOf.set(this.stampOf);
    const localOf = new Int32Array(size);
    localOf.set(this.localOf);
    this.stampOf = stampOf;
    this.localOf = localOf;
  }
}
