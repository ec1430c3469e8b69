/**
 * An AEAD context that schedules its key only when it is first used. A gateway configures
 * thousands of peers, most of them idle at any moment; its SA records keep a LazyAeadContext,
 * and the native EVP state (about 1 KiB per SA) exists only for SAs that carry packets. The key
 * material is fetched from the caller (e.g. the workers' key table) at that moment, used, and
 * wiped; this object holds no copy of it.
 */
import { IroError } from '../util/errors.js';
import type { AeadBackend, AeadContext, BackendName, SuiteName } from './types.js';

/** Fresh copies of an SA's key and salt (the context wipes them after use), or null when gone. */
export type KeySource = () => { key: Uint8Array; salt: Uint8Array } | null;

export class LazyAeadContext implements AeadContext {
  readonly suite: SuiteName;
  readonly esn: boolean;
  readonly backend: BackendName;
  readonly #factory: AeadBackend;
  readonly #keys: KeySource;
  #ctx: AeadContext | null = null;

  constructor(backend: AeadBackend, suite: SuiteName, esn: boolean, keys: KeySource) {
    this.#factory = backend;
    this.backend = backend.name;
    this.suite = suite;
    this.esn = esn;
    this.#keys = keys;
  }

  /** True once the key has been scheduled. */
  get materialized(): boolean {
    return this.#ctx !== null;
  }

  #context(): AeadContext {
    if (this.#ctx !== null) return this.#ctx;
    const m = this.#keys();
    if (m === null) throw new IroError('ERR_STATE', 'the key of this SA is no longer available');
    try {
      this.#ctx = this.#factory.create(this.suite, m.key, m.salt, this.esn);
    } finally {
      m.key.fill(0);
      m.salt.fill(0);
    }
    return this.#ctx;
  }

  seal(buf: Uint8Array, esp: number, len: number, seqHi: number): void {
    this.#context().seal(buf, esp, len, seqHi);
  }

  open(buf: Uint8Array, esp: number, len: number, seqHi: number): boolean {
    try {
      return this.#context().open(buf, esp, len, seqHi);
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.#ctx?.destroy();
    this.#ctx = null;
  }
}
