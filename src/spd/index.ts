/**
 * spd/: the Security Policy Database (RFC 4301 §4.4.1): ordered PROTECT/BYPASS/DISCARD entries,
 * traffic selectors with an explicit local/remote mapping, a compiled lookup that does not grow
 * with the number of peers, and the RFC 4301 §5.2 post-decryption selector check.
 * Imports only packet/ and util/.
 */
export { TrafficSelector } from './selector.js';
export type { Direction, PrefixSpec, RangeSpec, SelectorInit, SelectorJson } from './selector.js';
export { Policy, POLICY_ACTIONS, POLICY_DIRECTIONS, DELIVER, inboundCleartextVerdict } from './policy.js';
export type { PolicyAction, PolicyDirection, PolicyInit, PolicyJson } from './policy.js';
export { Spd } from './spd.js';
export type { AddPolicyOptions } from './spd.js';
export { PrefixIndex } from './prefix-index.js';
export type { IndexEntry } from './prefix-index.js';
