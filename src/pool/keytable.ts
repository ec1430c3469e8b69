/**
 * The key table shared with the crypto workers: one SharedArrayBuffer, one fixed-size entry per
 * SA slot, written only by the main thread. Workers build their AEAD context for a slot on first
 * use and rebuild it when the entry's generation changes (a new key in the slot, or the slot
 * wiped on SA delete). This keeps key material out of every per-batch message.
 *
 * Entry layout (ENTRY_BYTES bytes, Int32 generation first so Atomics can guard it):
 *   [0..3] generation (even = stable, odd = being written; only the main thread writes, so it
 *          only ever moves gen -> gen+1 -> gen+2)
 *   [4] suite id (index into SUITE_NAMES) [5] esn flag [6] key length [7] reserved
 *   [8..11] salt [12..43] key (up to 32 bytes)
 * A reader copies the entry between two reads of the generation (a seqlock) and retries when the
 * two differ or the value is odd.
 */
import { SUITE_NAMES, type SuiteName } from '../esp/types.js';

export const ENTRY_BYTES = 48;
const OFF_SUITE = 4;
const OFF_ESN = 5;
const OFF_KEYLEN = 6;
const OFF_SALT = 8;
const OFF_KEY = 12;
const SALT_LEN = 4;
const MAX_KEY_LEN = 32;

export interface KeyEntry {
  readonly generation: number;
  readonly suite: SuiteName;
  readonly esn: boolean;
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

export class KeyTable {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;

  constructor(slotsOrBuffer: number | SharedArrayBuffer) {
    if (typeof slotsOrBuffer === 'number') {
      if (!Number.isInteger(slotsOrBuffer) || slotsOrBuffer < 1) throw new RangeError('key table slots must be a positive integer');
      this.buffer = new SharedArrayBuffer(slotsOrBuffer * ENTRY_BYTES);
    } else {
      this.buffer = slotsOrBuffer;
    }
    this.slots = this.buffer.byteLength / ENTRY_BYTES;
    this.bytes = new Uint8Array(this.buffer);
    this.words = new Int32Array(this.buffer);
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) {
      throw new RangeError(`key table slot must be between 0 and ${this.slots - 1}, got ${slot}`);
    }
  }

  /** Main thread: installs a key in `slot` (copies it). */
  set(slot: number, suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean): void {
    this.checkSlot(slot);
    if (key.length > MAX_KEY_LEN) throw new RangeError(`key must be at most ${MAX_KEY_LEN} bytes`);
    if (salt.length !== SALT_LEN) throw new RangeError(`salt must be ${SALT_LEN} bytes`);
    const w = (slot * ENTRY_BYTES) / 4;
    const gen = Atomics.load(this.words, w);
    Atomics.store(this.words, w, gen + 1);
    const base = slot * ENTRY_BYTES;
    this.bytes.fill(0, base + OFF_SUITE, base + ENTRY_BYTES);
    this.bytes[base + OFF_SUITE] = SUITE_NAMES.indexOf(suite);
    this.bytes[base + OFF_ESN] = esn ? 1 : 0;
    this.bytes[base + OFF_KEYLEN] = key.length;
    this.bytes.set(salt, base + OFF_SALT);
    this.bytes.set(key, base + OFF_KEY);
    Atomics.store(this.words, w, gen + 2);
  }

  /** Main thread: wipes `slot`; workers drop their context for it when they next look. */
  clear(slot: number): void {
    this.checkSlot(slot);
    const w = (slot * ENTRY_BYTES) / 4;
    const gen = Atomics.load(this.words, w);
    Atomics.store(this.words, w, gen + 1);
    const base = slot * ENTRY_BYTES;
    this.bytes.fill(0, base + OFF_SUITE, base + ENTRY_BYTES);
    Atomics.store(this.words, w, gen + 2);
  }

  /** Current generation of `slot` (cheap; workers compare it with their cached context). Slots
   * never written have generation 0; an empty slot (key length 0) reads as null. */
  generation(slot: number): number {
    return Atomics.load(this.words, (slot * ENTRY_BYTES) / 4);
  }

  /**
   * Any thread: a consistent copy of the entry, or null when the slot is empty (never set, or
   * cleared). The returned key/salt are fresh copies the caller must wipe after use.
   */
  read(slot: number): KeyEntry | null {
    this.checkSlot(slot);
    const w = (slot * ENTRY_BYTES) / 4;
    const base = slot * ENTRY_BYTES;
    for (;;) {
      const before = Atomics.load(this.words, w);
      if (before & 1) continue;
      const keyLen = this.bytes[base + OFF_KEYLEN]!;
      const suite = SUITE_NAMES[this.bytes[base + OFF_SUITE]!];
      const esn = this.bytes[base + OFF_ESN] === 1;
      const salt = this.bytes.slice(base + OFF_SALT, base + OFF_SALT + SALT_LEN);
      const key = this.bytes.slice(base + OFF_KEY, base + OFF_KEY + keyLen);
      if (Atomics.load(this.words, w) !== before) {
        key.fill(0);
        continue;
      }
      if (keyLen === 0 || suite === undefined) return null;
      return { generation: before, suite, esn, key, salt };
    }
  }
}
