/**
 * sad/: the Security Association Database (RFC 4301 §4.4.2): SA records with identities and
 * locators (IRO), lifetimes, counters and references to their crypto state; inbound lookup by
 * SPI alone, outbound by reference or slot. Imports only esp/ (types), packet/ and util/.
 */
export { Sad, DEFAULT_MAX_SLOTS } from './sad.js';
export type { SadOptions, LocatorUpdate } from './sad.js';
export { SecurityAssociation, SA_DIRECTIONS, SA_MODES, ENCAPSULATIONS, validateSpi } from './sa.js';
export type { AddressSpec, Encapsulation, Locators, SaDirection, SaInfo, SaInit, SaMode, SaSelectors, SeqCounter } from './sa.js';
export { Lifetime, LifetimeState } from './lifetime.js';
export type { LifetimeInit, LifetimeJson, LifetimeLimits } from './lifetime.js';
