/**
 * The AEAD backends by name, and the default backend of each suite.
 *
 * Defaults come from bench/micro.ts (per-packet seal and open, 64-8192 bytes, on the project's
 * 2-vCPU test machine): for every suite the native addon was fastest (4-6x node:crypto, whose
 * cost is dominated by creating a cipher object per packet), then node, then noble (pure
 * JavaScript; its AES-GCM rebuilds the key schedule and GHASH tables per packet). The first
 * backend of a suite's list that is available in this process is its default.
 */
import { aOneOf } from '../util/assert.js';
import { nativeAead, nativeBackend } from './backend-native.js';
import { nobleBackend } from './backend-noble.js';
import { nodeBackend } from './backend-node.js';
import type { AeadBackend, BackendName, SuiteName } from './types.js';

export const BACKEND_NAMES: readonly BackendName[] = ['node', 'noble', 'native'];

const BACKENDS: Readonly<Record<BackendName, AeadBackend>> = {
  node: nodeBackend,
  noble: nobleBackend,
  native: nativeBackend,
};

/** Fastest first, per suite, as measured by bench/micro.ts. */
export const BACKEND_PREFERENCE: Readonly<Record<SuiteName, readonly BackendName[]>> = {
  aes128gcm16: ['native', 'node', 'noble'],
  aes192gcm16: ['native', 'node', 'noble'],
  aes256gcm16: ['native', 'node', 'noble'],
  chacha20poly1305: ['native', 'node', 'noble'],
};

/** Whether `name` can create contexts in this process (native needs the built addon). */
export function backendAvailable(name: BackendName): boolean {
  return name !== 'native' || nativeAead() !== null;
}

export function availableBackends(): BackendName[] {
  return BACKEND_NAMES.filter(backendAvailable);
}

/** The backend called `name`; TypeError / RangeError for anything else. The native backend's
 * `create` throws IroError 'ERR_NATIVE' when the addon is missing. */
export function getBackend(name: BackendName): AeadBackend {
  return BACKENDS[aOneOf('backend', name, BACKEND_NAMES)];
}

/** The fastest backend available here for `suite`. */
export function defaultBackend(suite: SuiteName): AeadBackend {
  const name = BACKEND_PREFERENCE[suite].find(backendAvailable) ?? 'node';
  return BACKENDS[name];
}
