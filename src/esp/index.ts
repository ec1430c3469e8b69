/**
 * esp/: AEAD suites on three backends (node:crypto, @noble/ciphers, the native addon), ESP seal
 * and open in place, the send sequence counter and the anti-replay window. Contracts in types.ts.
 *
 * RFCs: 4303 (ESP), 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP), 6479 (replay ring).
 */
export * from './types.js';
export * from './suites.js';
export { nodeBackend } from './backend-node.js';
export { nobleBackend } from './backend-noble.js';
export { nativeBackend, nativeAead, nativeAeadUnavailableReason } from './backend-native.js';
export * from './backends.js';
export * from './batch.js';
export * from './sa-crypto.js';
export * from './sequence.js';
export * from './replay.js';
export * from './library.js';
export * from './lazy.js';
