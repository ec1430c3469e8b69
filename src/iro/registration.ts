/**
 * The checks a home agent and a correspondent both run on a Binding Update before they touch
 * their binding cache (PROTOCOL.md A.10 home step 2 and correspondent step 2, in that order):
 *
 * 1. the restored source is the HoA the SA is bound to (identities, PROTOCOL.md A.5 inbound 3-4);
 * 2. the registration type fits the receiver (RFC 6275 §9.5.1: H set at a CN -> 131; H missing at a
 *    home agent -> 139);
 * 3. the sequence number is newer than the last accepted one, modulo 2^16 (RFC 6275 §9.5.1 -> 135
 *    carrying the last accepted number);
 * 4. the care-of address (Alternate CoA, RFC 6275 §6.2.5, or RFC 5555 §3.1.2 IPv4 CoA) is a usable
 *    unicast address and equals the outer source (address and, under UDP, the port) unless NAT
 *    traversal is allowed for the peer; then the observed outer locator becomes the CoA
 *    (PROTOCOL.md A.10, F.10);
 * 5. lifetime = min(requested, policy); 0, or a CoA equal to the HoA, deregisters (RFC 6275 §9.5.1).
 *
 * The ESP layer below already checked SA, ICV and replay; nothing here trusts the outer header.
 */

import { bytesEqual } from '../util/bytes.js';
import {
  BA_STATUS_PROHIBITED,
  BA_STATUS_SEQ_OUT_OF_WINDOW,
  BA_STATUS_UNSPECIFIED,
  BU_FLAG_H,
  IPV4_ADDR_LEN,
  IPV6_ADDR_LEN,
} from '../packet/constants.js';
import { mhSeqNewer, type BindingUpdate } from '../packet/mh.js';
import { bindingAck, type IroAction, type MhArrival, type RefusalReason } from './actions.js';
import { BA_STATUS_HOME_REG_NOT_SUPPORTED, BA_STATUS_REG_TYPE_CHANGE_DISALLOWED } from './constants.js';
import { log } from './guards.js';
import { formatLocator, isUsableCareOf, locator, locatorEquals, type Locator } from './locator.js';

export type NatPolicy = 'allow' | 'deny';
export const NAT_POLICIES: readonly NatPolicy[] = ['allow', 'deny'];

export interface BuCheckInput {
  /** Home registration (home agent) or correspondent registration. */
  home: boolean;
  /** The HoA the peer's SA is bound to. */
  homeAddress: Uint8Array;
  bu: BindingUpdate;
  arrival: MhArrival;
  /** Sequence number of the binding held for this HoA, null when there is none. */
  lastSeq: number | null;
  nat: NatPolicy;
  /** The UDP port a peer sends from when no NAT rewrote it (RFC 3948: 4500). */
  udpPort: number;
  /** Policy cap on the lifetime, in 4-second units. */
  maxLifetimeUnits: number;
}

export type BuCheck =
  | {
      ok: true;
      /** The locator to bind: the claimed CoA, or what was observed when NAT traversal applies. */
      coa: Locator;
      natDetected: boolean;
      deregister: boolean;
      /** Granted lifetime in 4-second units (0 when deregistering). */
      lifetimeUnits: number;
    }
  | {
      ok: false;
      reason: RefusalReason;
      /** The BA status to answer with, or null to answer nothing. */
      status: number | null;
      detail: string;
    };

function refuse(reason: RefusalReason, status: number | null, detail: string): BuCheck {
  return { ok: false, reason, status, detail };
}

/** Runs checks 1-5 above. Never throws. */
export function checkBindingUpdate(c: BuCheckInput): BuCheck {
  const { bu, arrival } = c;
  if (!bytesEqual(arrival.identitySrc, c.homeAddress)) {
    return refuse('identity', null, 'restored source is not the home address of the SA');
  }
  const hFlag = (bu.flags & BU_FLAG_H) !== 0;
  if (c.home && !hFlag) {
    return refuse('prohibited', BA_STATUS_REG_TYPE_CHANGE_DISALLOWED, 'home agent got a BU without the H flag');
  }
  if (!c.home && hFlag) {
    return refuse('prohibited', BA_STATUS_HOME_REG_NOT_SUPPORTED, 'correspondent got a home registration');
  }
  if (c.lastSeq !== null && !mhSeqNewer(bu.seq, c.lastSeq)) {
    return refuse('sequence', BA_STATUS_SEQ_OUT_OF_WINDOW, 'sequence number not newer than the last accepted');
  }
  const { altCoa, ipv4CareOf } = bu.options;
  if (altCoa !== undefined && ipv4CareOf !== undefined) {
    return refuse('address', BA_STATUS_UNSPECIFIED, 'both an Alternate CoA and an IPv4 CoA option');
  }
  const claimed = altCoa ?? ipv4CareOf;
  if (claimed === undefined) return refuse('address', BA_STATUS_UNSPECIFIED, 'no care-of address option');
  if (claimed.length !== IPV4_ADDR_LEN && claimed.length !== IPV6_ADDR_LEN) {
    return refuse('address', BA_STATUS_UNSPECIFIED, 'care-of address option of the wrong length');
  }
  const deregister = bu.lifetime === 0 || bytesEqual(claimed, c.homeAddress);
  const claimedLoc = locator(claimed, arrival.src.port === 0 ? 0 : c.udpPort);
  const natDetected = !locatorEquals(claimedLoc, arrival.src);
  if (natDetected && c.nat === 'deny') {
    return refuse('address', BA_STATUS_PROHIBITED, 'care-of address is not the outer source and NAT is not allowed');
  }
  const coa = natDetected ? locator(arrival.src.addr, arrival.src.port) : claimedLoc;
  if (!deregister && !isUsableCareOf(coa.addr)) {
    return refuse('address', BA_STATUS_UNSPECIFIED, 'care-of address is not a routable unicast address');
  }
  const lifetimeUnits = deregister ? 0 : Math.min(bu.lifetime, c.maxLifetimeUnits);
  return { ok: true, coa, natDetected, deregister, lifetimeUnits };
}

export type BuRefusal = Extract<BuCheck, { ok: false }>;

/**
 * The actions for a refused BU, appended to `out`: the refusal counted by reason, logged, and
 * answered with a BA carrying `check.status` (RFC 6275 §9.5.1: 135 carries `lastSeq`, the last
 * accepted number) when there is a status; `to` overrides where that BA goes.
 */
export function refuseBu(
  out: IroAction[],
  peer: string,
  bu: BindingUpdate,
  check: BuRefusal,
  lastSeq: number | null,
  rx: MhArrival,
  to?: Locator,
): void {
  out.push({ kind: 'count', metric: 'bu-refused', peer, reason: check.reason });
  log(out, check.reason === 'sequence' ? 'info' : 'warn', `binding update refused: ${check.detail}`, {
    peer,
    seq: bu.seq,
    lastSeq,
    outerSrc: formatLocator(rx.src),
    status: check.status,
  });
  if (check.status === null) return;
  const message = bindingAck(check.status, check.reason === 'sequence' && lastSeq !== null ? lastSeq : bu.seq, 0);
  out.push(to ? { kind: 'send-mh', peer, sa: 'signal', to, message } : { kind: 'send-mh', peer, sa: 'signal', message });
}

/** The actions for a BU from a peer this node has no binding role for. */
export function refuseUnknownPeer(out: IroAction[], peer: string, msg: string): void {
  log(out, 'warn', msg, { peer });
  out.push({ kind: 'count', metric: 'bu-refused', peer, reason: 'prohibited' });
}

/** The earliest of some optional deadlines. */
export function earliest(...times: (number | null)[]): number | null {
  let best: number | null = null;
  for (const t of times) if (t !== null && (best === null || t < best)) best = t;
  return best;
}
