/**
 * iro as a library (the package's main entry): seal payloads into ESP packets and open ESP
 * packets back into payloads with the AEAD suites of RFC 4106 (AES-GCM) and RFC 7634
 * (ChaCha20-Poly1305), keyed the way `ip xfrm state` is keyed.
 *
 * ```ts
 * import { createEspSa } from 'iro';
 * const sa = createEspSa({ suite: 'aes128gcm16', keymat: '0x...', spi: 0x1001, esn: true });
 * const { payload, nextHeader, seq } = sa.open(espBytes);
 * ```
 * Lower-level, allocation-free building blocks (AEAD contexts, in-place seal/open, the replay
 * window and the sequence counter) are exported too, for dataplanes built on iro.
 */
export {
  createEspSa,
  EspOpenError,
  type EspOpenFailure,
  type EspOpenOptions,
  type EspOpened,
  type EspSa,
  type EspSaOptions,
  type EspSealOptions,
} from './esp/library.js';
export { SUITE_NAMES, type AeadBackend, type AeadContext, type BackendName, type ReplayWindow, type SuiteInfo, type SuiteName } from './esp/types.js';
export { SUITES, parseKeymat, suiteInfo, type Keymat } from './esp/suites.js';
export { availableBackends, defaultBackend, getBackend, BACKEND_NAMES } from './esp/backends.js';
export { espOpen, espSeal, espPacketLength, newEspInbound, type EspInbound } from './esp/sa-crypto.js';
export { BitmapReplayWindow, createReplayWindow, REPLAY_WINDOW_DEFAULT, type ReplayWindowOptions } from './esp/replay.js';
export { SequenceCounter } from './esp/sequence.js';
export { IroError, type IroErrorCode } from './util/errors.js';
export { Drop, DROP_LABELS, type DropReason } from './util/drop.js';
