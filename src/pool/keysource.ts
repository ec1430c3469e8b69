/**
 * AEAD contexts built from the shared key table (keytable.ts), on first use of a slot and again
 * when the slot's generation changes (a new key, or the SA removed). Used by every thread that
 * seals or opens: the pool's workers and the main thread when the pool has no workers. Idle SAs
 * therefore never get a context.
 */
import { defaultBackend, getBackend } from '../esp/backends.js';
import type { AeadContext, BackendName } from '../esp/types.js';
import type { ContextSource } from './engine.js';
import type { KeyTable } from './keytable.js';

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

