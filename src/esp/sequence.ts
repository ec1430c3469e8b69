/**
 * The send side's ESP sequence counter (RFC 4303 §2.2, §3.3.3): 64 bits carried as two u32
 * halves, incremented before use (the first packet carries 1), never allowed to cycle: without
 * ESN it stops at 2^32 - 1, with ESN at 2^64 - 1, and the SA must be rekeyed before then.
 *
 * The counter is also the IV source for AEAD (PROTOCOL.md F.1), so its value must never go
 * backwards while a key lives: restart safety persists `value` (or a reservation above it) and
 * restores it here. Sequence numbers are assigned on the main thread only (STYLE 4).
 */
import { IroError } from '../util/errors.js';
import { seqHiOf, seqLoOf, seqToBigInt } from '../packet/esp.js';

const U32_MAX = 0xffffffff;
/** RFC 4303 §3.3.3: the last number a sender may use without ESN. */
export const SEQ_MAX_32 = 0xffffffffn;
/** RFC 4303 §3.3.3: the last number a sender may use with ESN. */
export const SEQ_MAX_64 = 0xffffffffffffffffn;

export class SequenceCounter {
  readonly esn: boolean;
  /** High 32 bits of the last number handed out (0 before the first). */
  hi = 0;
  /** Low 32 bits of the last number handed out (0 before the first). */
  lo = 0;
  private readonly hiMax: number;

  /**
   * `last` is the last number already used (0n for a new SA; a persisted value after a restart).
   * Throws TypeError / RangeError when it is not a bigint within the sequence space.
   */
  constructor(esn: boolean, last = 0n) {
    this.esn = esn;
    this.hiMax = esn ? U32_MAX : 0;
    this.value = last;
  }

  /** The largest number this counter may reach. */
  get max(): bigint {
    return this.esn ? SEQ_MAX_64 : SEQ_MAX_32;
  }

  /** The last number handed out, as a bigint (not for the hot path). */
  get value(): bigint {
    return seqToBigInt(this.hi, this.lo);
  }

  /** Sets the last number used, e.g. restored from persistent state. */
  set value(last: bigint) {
    if (typeof last !== 'bigint') throw new TypeError('sequence value must be a bigint');
    if (last < 0n || last > this.max) throw new RangeError(`sequence value must be between 0 and ${this.max}, got ${last}`);
    this.hi = seqHiOf(last);
    this.lo = seqLoOf(last);
  }

  /** Numbers still available. */
  get remaining(): bigint {
    return this.max - this.value;
  }

  /** Share of the sequence space used, 0 to 1 (the `iro_sa_sequence_ratio` gauge). */
  get usedRatio(): number {
    return Number(this.value) / Number(this.max);
  }

  /**
   * Advances to the next number; afterwards `hi`/`lo` hold the number to send. Returns false and
   * leaves the counter unchanged when the space is exhausted (the caller drops the packet with
   * Drop.SEQ_EXHAUSTED and the SA needs rekeying). Allocation-free.
   */
  next(): boolean {
    if (this.lo !== U32_MAX) {
      this.lo++;
      return true;
    }
    if (this.hi >= this.hiMax) return false;
    this.hi++;
    this.lo = 0;
    return true;
  }

  /** Like next(), as a bigint, throwing IroError 'ERR_SEQ_EXHAUSTED' when exhausted (API use). */
  nextOrThrow(): bigint {
    if (!this.next()) {
      throw new IroError('ERR_SEQ_EXHAUSTED', `ESP sequence numbers exhausted at ${this.max}; the SA must be rekeyed (RFC 4303 §3.3.3)`);
    }
    return this.value;
  }
}
