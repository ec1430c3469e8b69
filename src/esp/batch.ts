/**
 * Batched AEAD over one buffer (AeadBatch, the shape the addon takes): the pool's workers seal
 * and open whole batches with one call here. With native contexts the batch goes to the addon in
 * a single call; with any other backend it loops over the per-packet contexts.
 *
 * Status convention (PacketBatch.status): 0 = process, otherwise DropReason + 1; packets with a
 * non-zero status or a negative ctxIndex are skipped. A packet whose tag does not verify gets
 * status Drop.AUTH_FAILED + 1.
 */
import { nativeOpenBatch, nativeSealBatch, STATUS_AUTH_FAILED } from './backend-native.js';
import type { AeadBatch, AeadContext } from './types.js';

export { STATUS_AUTH_FAILED };

/**
 * Seals packets 0..count-1 of `batch` in place (ESP header and IV already written, plaintext of
 * `len[i]` bytes at `esp[i] + 16`, ICV written after it). `ctxs[ctxIndex[i]]` is packet i's SA.
 */
export function sealBatch(ctxs: readonly AeadContext[], batch: AeadBatch): void {
  if (nativeSealBatch(ctxs, batch)) return;
  const { data, esp, len, seqHi, ctxIndex, status } = batch;
  for (let i = 0; i < batch.count; i++) {
    const c = ctxIndex[i]!;
    if (status[i] !== 0 || c < 0) continue;
    ctxs[c]!.seal(data, esp[i]!, len[i]!, seqHi[i]!);
  }
}

/**
 * Verifies and decrypts packets 0..count-1 of `batch` in place. Returns how many verified; each
 * failure gets status STATUS_AUTH_FAILED and unspecified bytes. Never throws per packet. The
 * caller guarantees that every packet lies inside `data` (espCheck checks each ESP length); the
 * addon refuses a whole batch that breaks this, with a RangeError.
 */
export function openBatch(ctxs: readonly AeadContext[], batch: AeadBatch): number {
  const native = nativeOpenBatch(ctxs, batch);
  if (native >= 0) return native;
  const { data, esp, len, seqHi, ctxIndex, status } = batch;
  let ok = 0;
  for (let i = 0; i < batch.count; i++) {
    const c = ctxIndex[i]!;
    if (status[i] !== 0 || c < 0) continue;
    if (ctxs[c]!.open(data, esp[i]!, len[i]!, seqHi[i]!)) ok++;
    else status[i] = STATUS_AUTH_FAILED;
  }
  return ok;
}

/** A batch of `capacity` jobs over `data` (which the batch borrows, it does not copy), every
 * packet initially skipped (ctxIndex -1) and count 0. */
export function newAeadBatch(data: Uint8Array, capacity: number): AeadBatch {
  return {
    data,
    esp: new Uint32Array(capacity),
    len: new Uint32Array(capacity),
    seqHi: new Uint32Array(capacity),
    ctxIndex: new Int32Array(capacity).fill(-1),
    status: new Uint8Array(capacity),
    count: 0,
  };
}
