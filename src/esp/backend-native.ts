/**
 * The `native` AEAD backend: an adapter over iro's N-API addon (src/native/), which runs EVP on
 * the OpenSSL Node links, with one key schedule per SA and many packets per call.
 *
 * Per-packet calls (AeadContext.seal/open) go through the addon's batch entry points with a
 * batch of one, using scratch arrays owned by the context; esp/batch.ts hands whole batches to
 * the addon in a single call when every context is native.
 *
 * RFCs: 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP), 4303 §2.2.1 (AAD).
 */
import { loadNative, loadNativeError, type NativeAddon, type NativeAeadContext } from '../native/index.js';
import { Drop } from '../util/drop.js';
import { IroError } from '../util/errors.js';
import { checkAeadParams } from './suites.js';
import type { AeadBackend, AeadBatch, AeadContext, BackendName, SuiteName } from './types.js';

/** PacketBatch/AeadBatch status convention: 0 = keep, otherwise DropReason + 1. */
export const STATUS_AUTH_FAILED = Drop.AUTH_FAILED + 1;

/** Packet index 0 of a batch of one; never written. */
const ONLY_FIRST = new Int32Array(1);

/** The addon when it is built and exports the AEAD functions, else null. */
export function nativeAead(): NativeAddon | null {
  const addon = loadNative();
  return addon !== null && typeof addon.aeadCreate === 'function' ? addon : null;
}

/** Why the native backend is unavailable (for logs and skipped tests), or null when it is. */
export function nativeAeadUnavailableReason(): string | null {
  const addon = loadNative();
  if (addon === null) {
    const err = loadNativeError();
    return `native addon not built (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
  return typeof addon.aeadCreate === 'function' ? null : 'native addon has no aeadCreate export';
}

/**
 * The one-packet arguments of the addon's batch calls, shared by every context of this thread
 * (each worker has its own copy of this module): a context then costs its native EVP state and
 * a small object, which matters on a gateway with thousands of configured peers.
 */
const one = {
  handles: [] as NativeAeadContext[],
  esp: new Uint32Array(1),
  len: new Uint32Array(1),
  seqHi: new Uint32Array(1),
  status: new Uint8Array(1),
};

function loadOne(handle: NativeAeadContext, esp: number, len: number, seqHi: number): void {
  one.handles[0] = handle;
  one.esp[0] = esp;
  one.len[0] = len;
  one.seqHi[0] = seqHi;
  one.status[0] = 0;
}

class NativeAeadContextAdapter implements AeadContext {
  readonly suite: SuiteName;
  readonly backend: BackendName = 'native';
  readonly esn: boolean;
  readonly addon: NativeAddon;
  readonly handle: NativeAeadContext;

  constructor(addon: NativeAddon, suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean) {
    this.addon = addon;
    this.suite = suite;
    this.esn = esn;
    this.handle = addon.aeadCreate(suite, key, salt, esn);
  }

  seal(buf: Uint8Array, esp: number, len: number, seqHi: number): void {
    loadOne(this.handle, esp, len, seqHi);
    this.addon.aeadSeal(one.handles, ONLY_FIRST, buf, one.esp, one.len, one.seqHi, one.status, 1);
  }

  open(buf: Uint8Array, esp: number, len: number, seqHi: number): boolean {
    loadOne(this.handle, esp, len, seqHi);
    try {
      return this.addon.aeadOpen(one.handles, ONLY_FIRST, buf, one.esp, one.len, one.seqHi, one.status, 1, STATUS_AUTH_FAILED) === 1;
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.addon.aeadFree(this.handle);
  }
}

/**
 * The addon and handles of `ctxs` when every one of them is a native context, so that a whole
 * batch can go to the addon in one call; null otherwise. Allocates one array per batch.
 */
function nativeBatchOf(ctxs: readonly AeadContext[]): { addon: NativeAddon; handles: NativeAeadContext[] } | null {
  const first = ctxs[0];
  if (!(first instanceof NativeAeadContextAdapter)) return null;
  const handles: NativeAeadContext[] = [];
  for (const ctx of ctxs) {
    if (!(ctx instanceof NativeAeadContextAdapter)) return null;
    handles.push(ctx.handle);
  }
  return { addon: first.addon, handles };
}

/** Seals the batch in one addon call when every context is native; returns false (and does
 * nothing) otherwise. */
export function nativeSealBatch(ctxs: readonly AeadContext[], b: AeadBatch): boolean {
  const native = nativeBatchOf(ctxs);
  if (native === null) return false;
  native.addon.aeadSeal(native.handles, b.ctxIndex, b.data, b.esp, b.len, b.seqHi, b.status, b.count);
  return true;
}

/** Opens the batch in one addon call when every context is native and returns how many packets
 * verified (failures get status STATUS_AUTH_FAILED); returns -1 (and does nothing) otherwise. */
export function nativeOpenBatch(ctxs: readonly AeadContext[], b: AeadBatch): number {
  const native = nativeBatchOf(ctxs);
  if (native === null) return -1;
  return native.addon.aeadOpen(native.handles, b.ctxIndex, b.data, b.esp, b.len, b.seqHi, b.status, b.count, STATUS_AUTH_FAILED);
}

export const nativeBackend: AeadBackend = {
  name: 'native',
  /** Throws IroError 'ERR_NATIVE' when the addon (or its AEAD part) is not available. */
  create(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean): AeadContext {
    checkAeadParams(suite, key, salt);
    const addon = nativeAead();
    if (addon === null) throw new IroError('ERR_NATIVE', nativeAeadUnavailableReason() ?? 'native AEAD unavailable');
    return new NativeAeadContextAdapter(addon, suite, key, salt, esn);
  },
};
