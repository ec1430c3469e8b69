/**
 * What iro/ hands back to its caller (STYLE 3, boringtun's TunnResult): every entry point of the
 * mobile node, home agent and correspondent returns a list of actions, in the order the caller
 * must carry them out. iro/ itself never sends, never arms a timer and never touches metrics.
 *
 * Also the outgoing Mobility Header messages (`MhToSend`) and `writeMhToSend`, which turns one into
 * bytes with packet/mh.ts's builders, and what the caller tells iro about a received MH
 * (`MhArrival`).
 */

import type { LogFields, LogLevel } from '../util/log.js';
import {
  writeBindingAck,
  writeBindingError,
  writeBindingRefreshRequest,
  writeBindingUpdate,
  writeMhExperimental,
  type BindingAckInput,
  type BindingErrorInput,
  type BindingUpdateInput,
  type MobilityOptions,
} from '../packet/mh.js';
import type { Locator } from './locator.js';

/** The two SA pairs iro distinguishes per peer. `signal`: the transport-mode SA carrying the
 * Mobility Header (BU, BA, BE, BRR, CoA test). `payload`: the SA carrying data (MN-HA: the
 * tunnel-mode SA; MN-CN: the transport-mode SA). A dataplane that uses one SA pair for both gets
 * the same change twice and applies it once. */
export type SaRole = 'payload' | 'signal';
export const SA_ROLES: readonly SaRole[] = ['payload', 'signal'];

export type MobilityRole = 'mobile-node' | 'home-agent' | 'correspondent';

/** Why a BU was refused: the `reason` label of `iro_binding_updates_total{result="refused"}`.
 * `auth` (bad ICV, replay, unknown SPI) is counted by the dataplane: such a BU never reaches iro. */
export type RefusalReason =
  | 'sequence' // RFC 6275 §9.5.1: not newer than the last accepted (BA 135)
  | 'address' // care-of address missing, unusable, or not the outer source without NAT allowed
  | 'identity' // restored source is not the HoA the SA is bound to
  | 'auth'
  | 'prohibited' // policy: wrong registration type, not allowed
  | 'expired' // RFC 6275 BA 136-138
  | 'unverified' // correspondent: the CoA test went unanswered
  | 'status'; // any other refusal status in a BA
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'sequence',
  'address',
  'identity',
  'auth',
  'prohibited',
  'expired',
  'unverified',
  'status',
];

/** A Mobility Header to send, in the shape packet/mh.ts's builders take. */
export type MhToSend =
  | ({ kind: 'binding-update' } & BindingUpdateInput)
  | ({ kind: 'binding-ack' } & BindingAckInput)
  | ({ kind: 'binding-error' } & BindingErrorInput)
  | { kind: 'binding-refresh-request'; options?: MobilityOptions }
  /** RFC 5096 experimental message (iro's CoA test, cotest.ts); `mhType` is the configured type. */
  | { kind: 'experimental'; mhType: number; body: Uint8Array };

/**
 * Use these locators for the peer's SA pair of `sa`. A field left out is unchanged; `null` means
 * "the identity address" (no rewrite: at home, or the peer is reached through its home address).
 * `local`: the on-wire source (own CoA); `remote`: the on-wire destination (the peer's CoA, or
 * its endpoint for the access network's address family).
 */
export interface SetLocatorsAction {
  kind: 'set-locators';
  peer: string;
  sa: SaRole;
  local?: Locator | null;
  remote?: Locator | null;
}

/**
 * Send `message` inside the peer's signalling SA (identities as addresses, checksum over them).
 * `to` overrides the remote locator for this one message: a correspondent's CoA test to the claimed
 * CoA (the only packet it sends to an unverified address), and a home agent's refusal, which goes
 * where the refused BU came from ([I]: it answers one ESP-authenticated BU with one message, so it
 * cannot amplify, and the binding is not touched), as is its BA to a deregistration (the binding that
 * would have routed it is gone). `from` overrides the local locator for this one
 * message: the mobile node's correspondent BU and CoA test reply leave from the CoA while the SA's
 * local locator still is the HoA (traffic to that CN goes via the home agent until it verifies).
 */
export interface SendMhAction {
  kind: 'send-mh';
  peer: string;
  sa: 'signal';
  to?: Locator;
  from?: Locator;
  message: MhToSend;
}

/** A binding was created, moved, verified or deleted (`coa` null). `bindings` is how many this node
 * holds in `role` afterwards (the `iro_bindings{role}` gauge). Correspondent bindings report
 * `verified`; home-agent bindings and mobile-node registrations are always verified. */
export interface BindingChangedAction {
  kind: 'binding-changed';
  role: MobilityRole;
  peer: string;
  coa: Locator | null;
  verified: boolean;
  lifetimeS: number;
  bindings: number;
}

export type BuMetric = 'bu-sent' | 'bu-accepted' | 'bu-refused';

/** One BU sent, accepted or refused (`reason` only with `bu-refused`). */
export interface CountAction {
  kind: 'count';
  metric: BuMetric;
  peer: string;
  reason?: RefusalReason;
}

/** The mobile node's registration moved from one CoA to another. `signallingMs` runs from the
 * movement event to the accepted BA; the dataplane measures the data-path gap itself. */
export interface HandoverAction {
  kind: 'handover';
  peer: string;
  from: Locator;
  to: Locator;
  signallingMs: number;
}

/** Send RFC 3948 NAT keepalives to the peer on the active path every `intervalMs`; 0 stops them
 * (RFC 5555 NAT Detection; PROTOCOL.md F.24: only when a NAT was seen, only on the active path). */
export interface KeepaliveAction {
  kind: 'keepalive';
  peer: string;
  intervalMs: number;
}

export interface LogAction {
  kind: 'log';
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

export type IroAction =
  | SetLocatorsAction
  | SendMhAction
  | BindingChangedAction
  | CountAction
  | HandoverAction
  | KeepaliveAction
  | LogAction;

/**
 * What the caller knows about a received Mobility Header besides its content: it arrived inside
 * the peer's signalling SA (SPI lookup, ICV and replay already passed), with these outer locators
 * (unauthenticated: PROTOCOL.md F.10) and this restored identity source.
 */
export interface MhArrival {
  /** Outer source address and, under UDP encapsulation, source port (0 for raw ESP). */
  src: Locator;
  /** Outer destination address and port. */
  dst: Locator;
  /** The source identity after restoration (PROTOCOL.md A.5 inbound step 3): 16 bytes. */
  identitySrc: Uint8Array;
}

/** A Binding Acknowledgement to send (RFC 6275 §6.1.8); `lifetime` in 4-second units. */
export function bindingAck(status: number, seq: number, lifetime: number, options?: MobilityOptions): MhToSend {
  return options ? { kind: 'binding-ack', status, seq, lifetime, options } : { kind: 'binding-ack', status, seq, lifetime };
}

/**
 * Writes `msg` at `buf[off]` with packet/mh.ts's builders, checksum over the identities `src` and
 * `dst` (16 bytes each). Returns the bytes written. Throws TypeError/RangeError as the builders do
 * (a caller bug: iro only produces valid messages).
 */
export function writeMhToSend(buf: Uint8Array, off: number, msg: MhToSend, src: Uint8Array, dst: Uint8Array): number {
  switch (msg.kind) {
    case 'binding-update':
      return writeBindingUpdate(buf, off, msg, src, dst);
    case 'binding-ack':
      return writeBindingAck(buf, off, msg, src, dst);
    case 'binding-error':
      return writeBindingError(buf, off, msg, src, dst);
    case 'binding-refresh-request':
      return writeBindingRefreshRequest(buf, off, msg.options, src, dst);
    case 'experimental':
      return writeMhExperimental(buf, off, msg.body, src, dst, msg.mhType);
  }
}
