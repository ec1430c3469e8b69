/**
 * Restart safety for the send side: the 64-bit ESP send counter of every outbound SA is reserved
 * ahead in a state file, so that after a crash (even `kill -9`) and a restart no sequence number,
 * and therefore no AEAD nonce, is ever used twice under the same key (PROTOCOL.md F.1, RFC 4106
 * §3.1, RFC 7634 §2: the IV MUST NOT repeat for a given key).
 *
 * Scheme: before sending sequence number n, the file must hold a reservation r >= n. On start an
 * SA resumes at the persisted reservation (the numbers between the last one sent and r are simply
 * skipped; the peer's replay window accepts a jump forward). The reservation is extended by
 * `step` when the counter crosses the low-water mark, with an fsync'd atomic rename.
 *
 * The same file keeps the last Binding Update sequence number per peer (RFC 6275 §11.7.1:
 * sequence numbers must keep increasing across a restart, PROTOCOL.md F.26).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { IroError } from '../util/errors.js';

const STATE_VERSION = 1;
/** Sequence numbers reserved per file write: ~5 s at 200k packets/s; a crash skips at most this many. */
export const DEFAULT_RESERVE_STEP = 1n << 20n;

interface StateFileV1 {
  version: 1;
  /** SA key -> highest reserved send sequence number (decimal string of a 64-bit value). */
  sequences: Record<string, string>;
  /** Peer name -> last Binding Update sequence number sent (0..65535). */
  buSequences: Record<string, number>;
}

/**
 * Identifies an SA's nonce space: SPI plus a short fingerprint of the key, so a new key (which
 * gets a fresh nonce space) restarts at 1 while a restart with the same key resumes. The
 * fingerprint is 64 bits of SHA-256 over the key material: it cannot be inverted to the key.
 */
export function sequenceKey(spi: number, keymat: Uint8Array): string {
  const fp = createHash('sha256').update(keymat).digest('hex').slice(0, 16);
  return `${spi.toString(16).padStart(8, '0')}:${fp}`;
}

export class StateStore {
  readonly path: string;
  private data: StateFileV1;
  private deferred = 0;
  private dirty = false;

  private constructor(path: string, data: StateFileV1) {
    this.path = path;
    this.data = data;
  }

  /**
   * Opens (creating the directory with mode 0700 if needed) the state file of interface `name`.
   * A corrupt file is an error, never silently reset: resetting would reuse nonces.
   */
  static open(dir: string, name: string): StateStore {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new IroError('ERR_STATE', `cannot create state directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const path = join(dir, `${name}.state.json`);
    let text: string | null = null;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new IroError('ERR_STATE', `cannot read state file ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (text === null) return new StateStore(path, { version: STATE_VERSION, sequences: {}, buSequences: {} });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new IroError(
        'ERR_STATE',
        `state file ${path} is corrupt (${(err as Error).message}); sequence numbers cannot be resumed safely. ` +
          'Install new keys (iro genpair) and remove the file to start over.',
        { cause: err },
      );
    }
    const p = parsed as Partial<StateFileV1>;
    if (p.version !== STATE_VERSION || typeof p.sequences !== 'object' || p.sequences === null) {
      throw new IroError('ERR_STATE', `state file ${path} has an unknown format (version ${String(p.version)})`);
    }
    return new StateStore(path, {
      version: STATE_VERSION,
      sequences: { ...p.sequences },
      buSequences: { ...(p.buSequences ?? {}) },
    });
  }

  reservedSequence(key: string): bigint {
    const v = this.data.sequences[key];
    return v === undefined ? 0n : BigInt(v);
  }

  setReservedSequence(key: string, value: bigint): void {
    this.data.sequences[key] = value.toString();
  }

  buSequence(peer: string): number | undefined {
    return this.data.buSequences[peer];
  }

  setBuSequence(peer: string, seq: number): void {
    this.data.buSequences[peer] = seq;
  }

  /**
   * Runs `fn` with writes deferred, then writes once (when anything changed): e.g. the
   * reservations of thousands of SAs at start-up. Nothing may be sent before it returns.
   */
  batch<T>(fn: () => T): T {
    this.deferred++;
    try {
      return fn();
    } finally {
      this.deferred--;
      if (this.deferred === 0 && this.dirty) this.flush();
    }
  }

  /** Writes the file atomically and durably: temp file, fsync, rename, fsync of the directory.
   * Inside `batch` it only marks the store dirty; the batch writes at its end. */
  flush(): void {
    if (this.deferred > 0) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.data, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  /** Size of the state file in bytes (for `iro show`). */
  size(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }
}

/**
 * Keeps one outbound SA's sequence numbers inside its persisted reservation. The data path asks
 * `allow(next)` before assigning a number; it is a comparison on the hot path and a durable file
 * write once per `step` numbers.
 */
export class SequenceReservation {
  private reserved: bigint;
  private readonly key: string;
  private readonly store: StateStore;
  private readonly step: bigint;
  /** Highest number that may have been sent before this start; the SA continues at resumeAfter + 1. */
  readonly resumeAfter: bigint;

  /**
   * Reads the persisted reservation, extends it by `step` durably, and returns the reservation
   * with `resumeAt` = the first sequence number the SA may use (> every number possibly sent
   * before the restart).
   */
  constructor(store: StateStore, key: string, step = DEFAULT_RESERVE_STEP) {
    if (step < 1n) throw new RangeError('reservation step must be positive');
    this.store = store;
    this.key = key;
    this.step = step;
    this.resumeAfter = store.reservedSequence(key);
    this.reserved = this.resumeAfter + step;
    store.setReservedSequence(key, this.reserved);
    store.flush();
  }

  /** The highest sequence number currently covered by the durable reservation. */
  get limit(): bigint {
    return this.reserved;
  }

  /**
   * Makes sure `upTo` is covered, extending the reservation (a durable write) when it is not.
   * Called by the data path whenever its counter reaches `limit`; `upTo` may be a whole batch ahead.
   */
  ensure(upTo: bigint): void {
    if (upTo <= this.reserved) return;
    let next = this.reserved + this.step;
    while (next < upTo) next += this.step;
    this.store.setReservedSequence(this.key, next);
    this.store.flush();
    this.reserved = next;
  }
}
