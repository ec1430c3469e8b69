/**
 * The numbers of iro's mobility logic, grouped by origin (STYLE 9). Times are in milliseconds,
 * lifetimes in seconds unless a name says "units" (4-second units of the MH Lifetime field).
 *
 * RFCs: 6275 §12 (protocol constants), §13 (configuration variables), 5555 §3.2.1 (IPv4 Address
 * Acknowledgement status). Wire numbers shared with the packet codecs live in packet/constants.ts.
 */

// ---------------------------------------------------------------------------------------------
// Specification constants

/** RFC 6275 §12: INITIAL_BINDACK_TIMEOUT, the first wait for a BA (and iro's CoA test reply). */
export const INITIAL_BINDACK_TIMEOUT_MS = 1000;
/** RFC 6275 §13: InitialBindackTimeoutFirstReg, the first wait of a home registration made when
 * the home agent holds no binding for the HoA yet (it may run DAD first). */
export const INITIAL_BINDACK_TIMEOUT_FIRST_REG_MS = 1500;
/** RFC 6275 §12: MAX_BINDACK_TIMEOUT; retransmission intervals double up to this (§11.8). */
export const MAX_BINDACK_TIMEOUT_MS = 32000;
/** RFC 6275 §12: MAX_UPDATE_RATE, Binding Updates per second to one destination (§11.8). */
export const MAX_UPDATE_RATE = 3;
/** The window MAX_UPDATE_RATE counts in. */
export const UPDATE_RATE_WINDOW_MS = 1000;
/** RFC 6275 §12: MAX_RR_BINDING_LIFETIME; iro caps correspondent bindings at it too. */
export const MAX_RR_BINDING_LIFETIME_S = 420;

/** RFC 6275 §9.5.1 / §10.3.1 BA statuses not (yet) in packet/constants.ts. */
export const BA_STATUS_HOME_REG_NOT_SUPPORTED = 131;
export const BA_STATUS_REG_TYPE_CHANGE_DISALLOWED = 139;
/** RFC 6275 §6.1.8: 136-138, expired home / care-of nonce index, expired nonces. */
export const BA_STATUS_EXPIRED_NONCE_MIN = 136;
export const BA_STATUS_EXPIRED_NONCE_MAX = 138;
/** RFC 6275 §6.1.8: statuses below 128 accept the binding. */
export const BA_STATUS_REJECT_MIN = 128;

/** RFC 5555 §3.2.1: IPv4 Address Acknowledgement statuses "administratively prohibited" and
 * "incorrect IPv4 home address" [K]. */
export const IPV4_ACK_STATUS_PROHIBITED = 129;
export const IPV4_ACK_STATUS_INCORRECT_HOA = 130;
/** An IPv4 home address is registered as a single address (RFC 5555 §3.1.1 prefix length). */
export const IPV4_HOST_PREFIX_LEN = 32;

// ---------------------------------------------------------------------------------------------
// Implementation constants

/** PROTOCOL.md A.10 step 4: refresh a binding when this share of its granted lifetime is gone. */
export const REFRESH_FRACTION = 0.8;
/** Default lifetime a mobile node asks its home agent for, and a home agent's default policy cap
 * (PROTOCOL.md F.27: 0x0384 units = 3600 s). */
export const DEFAULT_HOME_LIFETIME_S = 3600;
/** PROTOCOL.md A.10: the CoA test cookie is 64 random bits. */
export const COTEST_COOKIE_LEN = 8;
