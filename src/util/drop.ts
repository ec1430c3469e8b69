/**
 * Why a packet was dropped. The data path records a DropReason (a small integer, so tallies can
 * live in typed arrays and cross worker boundaries cheaply) and never throws per packet.
 * DROP_LABELS gives the bounded `reason` label of `iro_dropped_packets_total`.
 */

export const Drop = {
  /** Outbound: no SPD entry matched (RFC 4301 §5.1: discard). */
  NO_POLICY: 0,
  /** The matching policy says DISCARD. */
  POLICY_DISCARD: 1,
  /** Inbound: no SA for the SPI; outbound: policy PROTECT without an installed SA. */
  NO_SA: 2,
  /** Anti-replay window rejected the sequence number (RFC 4303 §3.4.3). */
  REPLAY: 3,
  /** ICV / AEAD tag did not verify. */
  AUTH_FAILED: 4,
  /** Truncated or inconsistent headers. */
  MALFORMED: 5,
  /** Pad length or pad contents invalid (RFC 4303 §2.4). */
  PADDING: 6,
  /** Decrypted packet does not match the SA's selectors (RFC 4301 §5.2). */
  SELECTOR: 7,
  /** Packet larger than the path allows. */
  MTU: 8,
  /** A queue or the worker pool was full. */
  QUEUE_FULL: 9,
  /** SA hard lifetime reached. */
  SA_EXPIRED: 10,
  /** Sequence number space exhausted (RFC 4303 §3.3.3): rekey needed. */
  SEQ_EXHAUSTED: 11,
  /** Next Header 59: dummy packet (RFC 4303 §2.6), discarded silently. */
  DUMMY: 12,
  /** Outer addresses differ from the SA identities on a non-IRO transport SA. */
  ADDRESS_MISMATCH: 13,
  /** IP fragment where ESP processing needs a whole packet. */
  FRAGMENT: 14,
  /** Protocol or option this implementation does not handle. */
  UNSUPPORTED: 15,
  /** SPI 0 or 1-255 on the wire (RFC 4303 §2.1). */
  SPI_RESERVED: 16,
  /** Inbound cleartext packet that policy says must be protected (RFC 4301 §5.2). */
  UNPROTECTED: 17,
  /** No verified binding / locator to send to (IRO "safe by default"). */
  NO_ROUTE: 18,
  /** Send failed in the kernel (buffer full, unreachable). */
  TX_ERROR: 19,
  /** A crypto task failed as a whole (a worker died); its packets are lost and counted here. */
  INTERNAL: 20,
} as const;
export type DropReason = (typeof Drop)[keyof typeof Drop];

export const DROP_LABELS: readonly string[] = [
  'no_policy',
  'policy_discard',
  'no_sa',
  'replay',
  'auth_failed',
  'malformed',
  'padding',
  'selector',
  'mtu',
  'queue_full',
  'sa_expired',
  'seq_exhausted',
  'dummy',
  'address_mismatch',
  'fragment',
  'unsupported',
  'spi_reserved',
  'unprotected',
  'no_route',
  'tx_error',
  'internal',
];

export const DROP_REASON_COUNT = DROP_LABELS.length;

/** A fresh tally array, one slot per DropReason. */
export function newDropTally(): Float64Array {
  return new Float64Array(DROP_REASON_COUNT);
}
