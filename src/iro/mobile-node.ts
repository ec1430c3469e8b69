/**
 * The mobile node's side of iro: the Binding Update List (RFC 6275 §11.1) with one entry for the
 * home agent and one per correspondent with route optimization on, and the movement logic that
 * drives it (PROTOCOL.md A.5 "MN", A.10 home and correspondent registration).
 *
 * Events, each returning the actions to carry out in order:
 * - `movement(coa, now)`: a new care-of address (or null: no network). The signalling and payload
 *   SAs to the home agent switch their local locator to the CoA at once (A.10 step 3: the home
 *   agent accepts by SPI whatever the source) and a home registration BU {A|H, lifetime, Alternate
 *   CoA or RFC 5555 IPv4 CoA} goes out from it. Once the home agent accepts, correspondent BUs
 *   {A, Alternate CoA} follow, sent from the CoA inside each MN-CN SA while that SA's local locator
 *   stays the HoA: traffic to a correspondent keeps using the home tunnel until that correspondent
 *   has verified the CoA and acknowledged (A.7, F.17 "safe by default").
 * - `atHome(now)`: back on the home link: locators return to identities and every binding is
 *   deregistered (lifetime 0, CoA = HoA; RFC 6275 §11.5.4).
 * - `receiveMh(peer, message, arrival, now)`: BA, BRR, BE and the correspondent's CoA test request.
 * - `tick(now)`: retransmissions (RFC 6275 §11.8), deferred sends (MAX_UPDATE_RATE), refresh at
 *   80 % of the granted lifetime, and lapse of an unrefreshed binding.
 * - `nextDeadline()`: when `tick` has work next.
 *
 * Sequence numbers (RFC 6275 §11.7.1): every BU sent to a destination, retransmissions included,
 * carries a number greater than the previous one, modulo 2^16. An "exchange" is the run of BUs
 * sent for one purpose (register a CoA, refresh, deregister); a BA answering any BU of the current
 * exchange completes it, and a BA for an older one is ignored. BA 135 makes the node continue from
 * the number the peer reports (F.26).
 */

import { aInteger } from '../util/assert.js';
import { bytesEqual } from '../util/bytes.js';
import {
  BA_STATUS_SEQ_OUT_OF_WINDOW,
  BE_STATUS_UNKNOWN_BINDING,
  BE_STATUS_UNRECOGNIZED_MH,
  BU_FLAG_A,
  BU_FLAG_H,
  IPV4_ADDR_LEN,
  IPV6_ADDR_LEN,
  MH_IPV4_ACK_STATUS_SUCCESS,
  MH_LIFETIME_MAX_UNITS,
  MH_NATD_REFRESH_NONE,
  MH_SEQ_MODULUS,
  MH_TYPE_EXPERIMENTAL,
  NATT_KEEPALIVE_INTERVAL_S,
} from '../packet/constants.js';
import {
  mhLifetimeFromSeconds,
  mhLifetimeToSeconds,
  mhSeqNewer,
  mhSeqNext,
  type BindingAck,
  type BindingError,
  type MhMessage,
  type MobilityOptions,
  type NatDetectionOption,
} from '../packet/mh.js';
import { SA_ROLES, type IroAction, type MhArrival, type RefusalReason, type SetLocatorsAction } from './actions.js';
import {
  BA_STATUS_EXPIRED_NONCE_MAX,
  BA_STATUS_EXPIRED_NONCE_MIN,
  BA_STATUS_REJECT_MIN,
  DEFAULT_HOME_LIFETIME_S,
  INITIAL_BINDACK_TIMEOUT_FIRST_REG_MS,
  INITIAL_BINDACK_TIMEOUT_MS,
  IPV4_HOST_PREFIX_LEN,
  MAX_RR_BINDING_LIFETIME_S,
  REFRESH_FRACTION,
} from './constants.js';
import { COTEST_SUBTYPE_REPLY, COTEST_SUBTYPE_REQUEST, coTestMessage, decodeCoTestBody, type CoTest } from './cotest.js';
import { aAddress, aMhType, aPeerName, checkArrival, checkNow, log } from './guards.js';
import { checkLocator, formatLocator, locatorEquals, type Locator } from './locator.js';
import { earliest } from './registration.js';
import { Retransmitter } from './schedule.js';

const MS_PER_S = 1000;
const SEQ_MAX = MH_SEQ_MODULUS - 1;

/** RFC 6275 §11.1 states of a Binding Update List entry, as iro names them. */
export type BulState = 'unregistered' | 'registering' | 'registered' | 'deregistering';

/** Where the mobile node is: no event yet, on the home link, on a foreign link, or off-line. */
export type Attachment = 'unknown' | 'home' | 'away' | 'detached';

export interface MobileNodeOptions {
  /** The IPv6 home address (16 bytes): the identity of every SA and socket; never changes. */
  homeAddress: Uint8Array;
  /** An IPv4 home address to register as well (RFC 5555 §3.1.1; 4 bytes). */
  homeAddress4?: Uint8Array;
  /** Peer name of the home agent. */
  homeAgent: string;
  /** The home agent's locators, at most one per address family: while away, the home agent SAs'
   * remote locator is the one of the CoA's family (e.g. its IPv4 address and port 4500 when the
   * CoA is IPv4). Left out: the dataplane keeps the remote locator it has. */
  homeAgentEndpoints?: readonly Locator[];
  /** Peer names of the correspondents to register with (route optimization on). */
  correspondents?: readonly string[];
  /** Lifetime asked of the home agent, in seconds (default 3600). */
  homeLifetimeS?: number;
  /** Lifetime asked of correspondents, in seconds (default and maximum 420, RFC 6275 §12). */
  correspondentLifetimeS?: number;
  /** MH type of the CoA test messages (default 11, RFC 5096 experimental; PROTOCOL.md F.31). */
  coTestMhType?: number;
  /** Last sequence number sent to each peer, as persisted by the caller (PROTOCOL.md F.26);
   * default 0, so the first BU carries 1 and BA 135 corrects it if the peer knows better. */
  lastSequence?: Readonly<Record<string, number>>;
}

/** One Binding Update List entry, as `bindingUpdateList()` reports it. */
export interface BulEntrySnapshot {
  peer: string;
  home: boolean;
  state: BulState;
  /** Last sequence number sent. */
  sequence: number;
  /** CoA of the exchange in progress (null: deregistration or none). */
  pendingCoa: Locator | null;
  /** CoA the peer acknowledged, while the binding lasts. */
  registeredCoa: Locator | null;
  grantedLifetimeS: number;
  expiresAt: number | null;
  /** Correspondent only: it answered Binding Error status 2 (no iro support); no more BUs. */
  disabled: boolean;
}

interface Entry {
  readonly peer: string;
  readonly home: boolean;
  state: BulState;
  seq: number;
  /** First sequence number of the current exchange. */
  firstSeq: number;
  /** A BU of the current exchange is unanswered (or held by the rate limit). */
  awaiting: boolean;
  /** Correspondent: an exchange is prepared and starts once the home agent accepts the CoA. */
  waitingForHome: boolean;
  /** CoA of the current exchange; null for a deregistration. */
  coa: Locator | null;
  registeredCoa: Locator | null;
  grantedLifetimeS: number;
  expiresAt: number | null;
  refreshAt: number | null;
  /** Home: the home agent holds no binding, so the first wait is InitialBindackTimeoutFirstReg. */
  firstRegistration: boolean;
  /** The local locator last given to the dataplane for this peer's SAs (null = HoA). */
  local: Locator | null;
  /** Current NAT keepalive interval (0 = none). */
  keepaliveMs: number;
  disabled: boolean;
  readonly tx: Retransmitter;
}

/** True when `x` lies in [first, last] modulo 2^16. */
function seqInRange(x: number, first: number, last: number): boolean {
  return (x - first + MH_SEQ_MODULUS) % MH_SEQ_MODULUS <= (last - first + MH_SEQ_MODULUS) % MH_SEQ_MODULUS;
}

/** The metrics reason for a refusal status in a BA (RFC 6275 §6.1.8). */
function refusalReason(status: number): RefusalReason {
  if (status === BA_STATUS_SEQ_OUT_OF_WINDOW) return 'sequence';
  if (status >= BA_STATUS_EXPIRED_NONCE_MIN && status <= BA_STATUS_EXPIRED_NONCE_MAX) return 'expired';
  if (status > BA_STATUS_REJECT_MIN && status < BA_STATUS_EXPIRED_NONCE_MIN) return 'prohibited';
  return 'status';
}

export class MobileNode {
  private readonly hoa: Uint8Array;
  private readonly hoa4: Uint8Array | null;
  private readonly homeAgent: string;
  private readonly haEndpoints: readonly Locator[];
  private readonly homeLifetimeUnits: number;
  private readonly cnLifetimeUnits: number;
  private readonly coTestMhType: number;
  private readonly home: Entry;
  private readonly cns = new Map<string, Entry>();
  private where: Attachment = 'unknown';
  private coa: Locator | null = null;
  /** When the current CoA appeared (handover timing). */
  private movedAt: number | null = null;
  /** Last CoA the home agent accepted, kept across returns home (handover counting). */
  private lastAcceptedCoa: Locator | null = null;

  constructor(options: MobileNodeOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.hoa = aAddress('options.homeAddress', options.homeAddress, IPV6_ADDR_LEN);
    const hoa4 = options.homeAddress4;
    this.hoa4 = hoa4 === undefined ? null : aAddress('options.homeAddress4', hoa4, IPV4_ADDR_LEN);
    this.homeAgent = aPeerName('options.homeAgent', options.homeAgent);
    const endpoints = options.homeAgentEndpoints ?? [];
    if (!Array.isArray(endpoints)) throw new TypeError('options.homeAgentEndpoints must be an array');
    this.haEndpoints = endpoints.map((l, i) => checkLocator(`options.homeAgentEndpoints[${i}]`, l));
    if (new Set(this.haEndpoints.map((l) => l.family)).size !== this.haEndpoints.length) {
      throw new RangeError('options.homeAgentEndpoints must hold at most one locator per address family');
    }
    const homeS = options.homeLifetimeS ?? DEFAULT_HOME_LIFETIME_S;
    const cnS = options.correspondentLifetimeS ?? MAX_RR_BINDING_LIFETIME_S;
    aInteger('options.homeLifetimeS', homeS, 1, mhLifetimeToSeconds(MH_LIFETIME_MAX_UNITS));
    aInteger('options.correspondentLifetimeS', cnS, 1, MAX_RR_BINDING_LIFETIME_S);
    this.homeLifetimeUnits = mhLifetimeFromSeconds(homeS);
    this.cnLifetimeUnits = mhLifetimeFromSeconds(cnS);
    this.coTestMhType = aMhType('options.coTestMhType', options.coTestMhType ?? MH_TYPE_EXPERIMENTAL);
    const last = options.lastSequence ?? {};
    const seqOf = (peer: string): number =>
      aInteger(`options.lastSequence[${JSON.stringify(peer)}]`, last[peer] ?? 0, 0, SEQ_MAX);
    this.home = this.newEntry(this.homeAgent, true, seqOf(this.homeAgent));
    const cns = options.correspondents ?? [];
    if (!Array.isArray(cns)) throw new TypeError('options.correspondents must be an array');
    cns.forEach((c, i) => {
      const name = aPeerName(`options.correspondents[${i}]`, c);
      if (name === this.homeAgent || this.cns.has(name)) {
        throw new RangeError(`options.correspondents[${i}] ${JSON.stringify(name)} is listed twice`);
      }
      this.cns.set(name, this.newEntry(name, false, seqOf(name)));
    });
  }

  get attachment(): Attachment {
    return this.where;
  }

  /** The current care-of address (null at home, off-line, or before the first event). */
  get careOf(): Locator | null {
    return this.coa;
  }

  /** How many destinations hold an acknowledged binding (`iro_bindings{role="mobile-node"}`). */
  get bindingCount(): number {
    return this.entries().filter((e) => e.registeredCoa !== null).length;
  }

  bindingUpdateList(): BulEntrySnapshot[] {
    return this.entries().map((e) => ({
      peer: e.peer,
      home: e.home,
      state: e.state,
      sequence: e.seq,
      pendingCoa: e.awaiting || e.waitingForHome ? e.coa : null,
      registeredCoa: e.registeredCoa,
      grantedLifetimeS: e.grantedLifetimeS,
      expiresAt: e.expiresAt,
      disabled: e.disabled,
    }));
  }

  /** The last sequence number sent to each peer, for the caller to persist (PROTOCOL.md F.26). */
  lastSequences(): Record<string, number> {
    return Object.fromEntries(this.entries().map((e) => [e.peer, e.seq]));
  }

  /**
   * The node got care-of address `coa` (null: no network at all). A CoA equal to the home address
   * means the home link: same as `atHome`. The same CoA again changes nothing. Throws IroError
   * ERR_USAGE on a malformed locator or time.
   */
  movement(coa: Locator | null, now: number): IroAction[] {
    checkNow(now);
    if (coa === null) return this.detach();
    const c = checkLocator('coa', coa);
    if (c.family === 6 && bytesEqual(c.addr, this.hoa)) return this.atHome(now);
    const out: IroAction[] = [];
    if (this.where === 'away' && locatorEquals(this.coa, c)) {
      log(out, 'debug', 'movement to the current care-of address ignored', { coa: formatLocator(c) });
      return out;
    }
    this.where = 'away';
    this.coa = c;
    this.movedAt = now;
    log(out, 'info', 'new care-of address', { coa: formatLocator(c) });
    this.setKeepalive(this.home, 0, out);
    this.setLocal(this.home, c, out);
    this.startExchange(this.home, c, now, out);
    for (const e of this.cns.values()) {
      if (e.disabled) continue;
      this.settle(e);
      this.setLocal(e, null, out);
      if (c.family === 6) this.prepare(e, c);
      else if (e.registeredCoa !== null) this.prepare(e, null);
    }
    return out;
  }

  /** Back on the home link: locators return to identities at once (the CoA is gone), then every
   * destination holding or getting a binding is sent a deregistration (RFC 6275 §11.5.4). */
  atHome(now: number): IroAction[] {
    checkNow(now);
    const out: IroAction[] = [];
    if (this.where === 'home') return out;
    // After a restart the home agent may still hold a binding we do not know of: deregister anyway.
    const unknown = this.where === 'unknown';
    this.where = 'home';
    this.coa = null;
    this.movedAt = null;
    log(out, 'info', 'back on the home link', {});
    this.setKeepalive(this.home, 0, out);
    for (const e of this.entries()) {
      const bound = e.registeredCoa !== null || e.awaiting || (e.home && unknown);
      this.settle(e);
      this.setLocal(e, null, out);
      if (bound && !e.disabled) this.startExchange(e, null, now, out);
    }
    return out;
  }

  /**
   * A Mobility Header arrived inside `peer`'s signalling SA. Never throws on message content
   * (what does not fit the state is ignored, with a debug log); throws IroError ERR_USAGE on a
   * malformed `arrival` or `now`.
   */
  receiveMh(peer: string, message: MhMessage, arrival: MhArrival, now: number): IroAction[] {
    checkNow(now);
    const rx = checkArrival(arrival);
    const out: IroAction[] = [];
    const e = peer === this.homeAgent ? this.home : this.cns.get(peer);
    if (!e) {
      log(out, 'debug', 'mobility message from a peer not in the binding update list', { peer, kind: message.kind });
      return out;
    }
    switch (message.kind) {
      case 'binding-ack':
        this.onAck(e, message, now, out);
        break;
      case 'binding-refresh-request':
        // RFC 6275 §11.7.4: answer a refresh request with a BU for the registered CoA.
        if (this.canSend() && e.state === 'registered' && !e.awaiting && locatorEquals(e.registeredCoa, this.coa)) {
          this.startExchange(e, e.registeredCoa, now, out);
        }
        break;
      case 'binding-error':
        this.onError(e, message, now, out);
        break;
      case 'experimental': {
        const t = message.mhType === this.coTestMhType && !e.home ? decodeCoTestBody(message.body) : null;
        if (t?.subtype === COTEST_SUBTYPE_REQUEST) this.onCoTest(e, t, rx, out);
        else log(out, 'debug', 'experimental mobility message ignored', { peer, mhType: message.mhType });
        break;
      }
      default:
        log(out, 'debug', 'mobility message ignored by the mobile node', { peer, kind: message.kind });
    }
    return out;
  }

  /** Runs the timers that are due at `now`. */
  tick(now: number): IroAction[] {
    checkNow(now);
    const out: IroAction[] = [];
    for (const e of this.entries()) {
      if (e.expiresAt !== null && now >= e.expiresAt) this.lapse(e, out);
      if (!this.canSend()) continue;
      if (e.awaiting) {
        const due = e.tx.due(now);
        if (due === 'timeout') {
          e.tx.backoff();
          const fields = { peer: e.peer, seq: e.seq, nextWaitMs: e.tx.timeoutMs };
          log(out, 'debug', 'binding update unanswered; retransmitting', fields);
        }
        if (due !== null) this.send(e, now, out);
      } else if (this.refreshDue(e) && now >= e.refreshAt!) {
        this.startExchange(e, e.registeredCoa, now, out);
      }
    }
    return out;
  }

  nextDeadline(): number | null {
    const times: (number | null)[] = [];
    for (const e of this.entries()) {
      times.push(e.expiresAt);
      if (!this.canSend()) continue;
      if (e.awaiting) times.push(e.tx.deadline());
      else if (this.refreshDue(e)) times.push(e.refreshAt);
    }
    return earliest(...times);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  private onAck(e: Entry, ba: BindingAck, now: number, out: IroAction[]): void {
    if (!e.awaiting) {
      log(out, 'debug', 'binding acknowledgement with no binding update outstanding', { peer: e.peer, seq: ba.seq });
      return;
    }
    if (ba.status === BA_STATUS_SEQ_OUT_OF_WINDOW) {
      // RFC 6275 §11.7.3 / F.26: continue from the peer's last accepted number. A 135 naming a
      // number of this exchange answers a straggler: the peer already took a newer BU of ours.
      if (seqInRange(ba.seq, e.firstSeq, e.seq) || !mhSeqNewer(ba.seq, e.seq)) {
        log(out, 'debug', 'stale sequence-number refusal ignored', { peer: e.peer, seq: ba.seq, lastSent: e.seq });
        return;
      }
      out.push({ kind: 'count', metric: 'bu-refused', peer: e.peer, reason: 'sequence' });
      log(out, 'info', 'binding update sequence number out of window; continuing after the peer\'s', {
        peer: e.peer,
        lastSent: e.seq,
        peerSeq: ba.seq,
      });
      e.seq = ba.seq;
      e.firstSeq = mhSeqNext(ba.seq);
      this.send(e, now, out);
      return;
    }
    if (!seqInRange(ba.seq, e.firstSeq, e.seq)) {
      log(out, 'debug', 'binding acknowledgement for an earlier binding update ignored', { peer: e.peer, seq: ba.seq });
      return;
    }
    if (ba.status >= BA_STATUS_REJECT_MIN || (e.coa !== null && ba.lifetime === 0)) {
      const reason = ba.status >= BA_STATUS_REJECT_MIN ? refusalReason(ba.status) : 'status';
      out.push({ kind: 'count', metric: 'bu-refused', peer: e.peer, reason });
      log(out, 'warn', 'binding update refused', { peer: e.peer, seq: ba.seq, status: ba.status, lifetime: ba.lifetime });
      e.tx.hold(now);
      return;
    }
    e.awaiting = false;
    e.tx.stop();
    out.push({ kind: 'count', metric: 'bu-accepted', peer: e.peer });
    if (e.coa === null) {
      this.deregistered(e, out);
      return;
    }
    const granted = mhLifetimeToSeconds(ba.lifetime);
    const previous = e.registeredCoa;
    e.state = 'registered';
    e.registeredCoa = e.coa;
    e.grantedLifetimeS = granted;
    e.expiresAt = now + granted * MS_PER_S;
    e.refreshAt = now + granted * MS_PER_S * REFRESH_FRACTION;
    if (!locatorEquals(previous, e.coa)) {
      out.push(this.changed(e, e.coa, granted));
      log(out, 'info', e.home ? 'home registration accepted' : 'correspondent verified the care-of address', {
        peer: e.peer,
        coa: formatLocator(e.coa),
        lifetimeS: granted,
        seq: ba.seq,
      });
    }
    if (e.home) this.homeAccepted(e, ba, now, out);
    else this.setLocal(e, e.coa, out);
  }

  /** The home agent accepted `e.coa`: handover accounting, NAT keepalives, then correspondents. */
  private homeAccepted(e: Entry, ba: BindingAck, now: number, out: IroAction[]): void {
    const coa = e.coa!;
    e.firstRegistration = false;
    if (this.lastAcceptedCoa && !locatorEquals(this.lastAcceptedCoa, coa) && this.movedAt !== null) {
      out.push({ kind: 'handover', peer: e.peer, from: this.lastAcceptedCoa, to: coa, signallingMs: now - this.movedAt });
    }
    this.lastAcceptedCoa = coa;
    this.setKeepalive(e, this.keepaliveInterval(ba.options.natDetection), out);
    const ack = ba.options.ipv4AddressAck;
    if (this.hoa4 && ack && ack.status !== MH_IPV4_ACK_STATUS_SUCCESS) {
      log(out, 'warn', 'home agent refused the IPv4 home address', { peer: e.peer, status: ack.status });
    }
    for (const c of this.cns.values()) {
      if (c.waitingForHome) this.startExchange(c, c.coa, now, out);
    }
  }

  private onError(e: Entry, be: BindingError, now: number, out: IroAction[]): void {
    if (!bytesEqual(be.homeAddress, this.hoa)) {
      log(out, 'debug', 'binding error about another home address ignored', { peer: e.peer });
      return;
    }
    if (be.status === BE_STATUS_UNRECOGNIZED_MH && !e.home) {
      // RFC 6275 §11.3.6: the correspondent does not speak this protocol; stop asking.
      log(out, 'warn', 'correspondent does not support route optimization; using the home tunnel', { peer: e.peer });
      this.settle(e);
      this.forget(e, out);
      e.disabled = true;
      return;
    }
    if (be.status !== BE_STATUS_UNKNOWN_BINDING) {
      log(out, e.home ? 'error' : 'debug', 'binding error', { peer: e.peer, status: be.status });
      return;
    }
    // Status 1: the peer holds no binding for us. Nothing is learnt from the error beyond that;
    // if we believed otherwise, register again (the CN's traffic meanwhile uses the home path).
    if (e.awaiting || e.registeredCoa === null || !this.canSend() || !locatorEquals(e.registeredCoa, this.coa)) return;
    log(out, 'info', 'peer lost our binding; registering again', { peer: e.peer });
    const coa = e.registeredCoa;
    this.forget(e, out);
    this.startExchange(e, coa, now, out);
  }

  /** A.10 correspondent step 4: echo the request from the CoA, inside the SA. */
  private onCoTest(e: Entry, t: CoTest, rx: MhArrival, out: IroAction[]): void {
    const coa = e.coa;
    if (!e.awaiting || coa === null || !seqInRange(t.sequence, e.firstSeq, e.seq) || !bytesEqual(rx.dst.addr, coa.addr)) {
      log(out, 'debug', 'CoA test request does not match a binding update in flight', { peer: e.peer, seq: t.sequence });
      return;
    }
    const reply = { subtype: COTEST_SUBTYPE_REPLY, sequence: t.sequence, cookie: t.cookie } as const;
    const message = coTestMessage(this.coTestMhType, reply);
    out.push({ kind: 'send-mh', peer: e.peer, sa: 'signal', from: coa, message });
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /** Starts an exchange registering `coa` (null: deregistering) and sends its first BU. */
  private startExchange(e: Entry, coa: Locator | null, now: number, out: IroAction[]): void {
    e.coa = coa;
    if (coa === null) e.state = 'deregistering';
    else if (!(e.state === 'registered' && locatorEquals(e.registeredCoa, coa))) e.state = 'registering';
    e.awaiting = true;
    e.waitingForHome = false;
    e.firstSeq = mhSeqNext(e.seq);
    const first = e.home && coa !== null && e.firstRegistration;
    e.tx.reset(first ? INITIAL_BINDACK_TIMEOUT_FIRST_REG_MS : INITIAL_BINDACK_TIMEOUT_MS);
    this.send(e, now, out);
  }

  /** Sends the next BU of the current exchange, unless the rate limit defers it. */
  private send(e: Entry, now: number, out: IroAction[]): void {
    if (!e.tx.trySend(now)) return;
    e.seq = mhSeqNext(e.seq);
    const coa = e.coa;
    const options: MobilityOptions = {};
    // RFC 6275 §11.7.1 / PROTOCOL.md F.29: the CoA travels inside the ESP-protected BU, since ESP
    // does not cover the outer source. An IPv4 CoA uses RFC 5555 §3.1.2's option instead.
    if (coa === null) options.altCoa = this.hoa;
    else if (coa.family === 6) options.altCoa = coa.addr;
    else options.ipv4CareOf = coa.addr;
    if (e.home && coa !== null && this.hoa4) {
      options.ipv4HomeAddress = { address: this.hoa4, prefixLength: IPV4_HOST_PREFIX_LEN, requestPrefix: false };
    }
    const lifetime = coa === null ? 0 : e.home ? this.homeLifetimeUnits : this.cnLifetimeUnits;
    const flags = e.home ? BU_FLAG_A | BU_FLAG_H : BU_FLAG_A;
    out.push({
      kind: 'send-mh',
      peer: e.peer,
      sa: 'signal',
      // A correspondent BU leaves from the CoA while the SA's local locator stays the HoA.
      ...(e.home || coa === null ? {} : { from: coa }),
      message: { kind: 'binding-update', seq: e.seq, flags, lifetime, options },
    });
    out.push({ kind: 'count', metric: 'bu-sent', peer: e.peer });
    log(out, 'debug', 'binding update sent', { peer: e.peer, seq: e.seq, coa: formatLocator(coa), lifetime });
  }

  /** Correspondent: an exchange for `coa` to start once the home agent accepts the current CoA. */
  private prepare(e: Entry, coa: Locator | null): void {
    e.coa = coa;
    e.state = coa === null ? 'deregistering' : 'registering';
    e.waitingForHome = true;
  }

  // -------------------------------------------------------------------------------------------
  // State helpers

  private detach(): IroAction[] {
    const out: IroAction[] = [];
    if (this.where === 'detached') return out;
    this.where = 'detached';
    this.coa = null;
    this.movedAt = null;
    log(out, 'info', 'no network; binding updates suspended', {});
    this.setKeepalive(this.home, 0, out);
    for (const e of this.entries()) {
      this.settle(e);
      if (!e.home) this.setLocal(e, null, out);
    }
    return out;
  }

  /** Drops any exchange in progress; the state reflects what the peer still holds. */
  private settle(e: Entry): void {
    e.tx.stop();
    e.awaiting = false;
    e.waitingForHome = false;
    e.coa = e.registeredCoa;
    e.state = e.registeredCoa ? 'registered' : 'unregistered';
  }

  private deregistered(e: Entry, out: IroAction[]): void {
    const had = e.registeredCoa !== null;
    this.forget(e, out);
    if (had) log(out, 'info', 'binding deregistered', { peer: e.peer });
  }

  /** The peer no longer holds our binding. */
  private forget(e: Entry, out: IroAction[]): void {
    const had = e.registeredCoa !== null;
    e.state = 'unregistered';
    e.registeredCoa = null;
    e.grantedLifetimeS = 0;
    e.expiresAt = null;
    e.refreshAt = null;
    if (e.home) e.firstRegistration = true;
    else this.setLocal(e, null, out);
    if (had) out.push(this.changed(e, null, 0));
  }

  /** The granted lifetime ran out without a refresh being acknowledged. */
  private lapse(e: Entry, out: IroAction[]): void {
    log(out, 'warn', 'binding lifetime ran out', { peer: e.peer, coa: formatLocator(e.registeredCoa) });
    const awaiting = e.awaiting;
    const deregistering = e.state === 'deregistering';
    this.forget(e, out);
    if (deregistering) {
      // Nothing left to deregister.
      e.tx.stop();
      e.awaiting = false;
    } else if (awaiting) e.state = 'registering';
  }

  private refreshDue(e: Entry): boolean {
    return (
      this.where === 'away' &&
      e.state === 'registered' &&
      !e.waitingForHome &&
      e.refreshAt !== null &&
      locatorEquals(e.registeredCoa, this.coa)
    );
  }

  private canSend(): boolean {
    return this.where === 'away' || this.where === 'home';
  }

  /** Tells the dataplane the local locator of the peer's SAs, when it changes. For the home agent
   * with configured endpoints, the remote locator follows the family of the local one (identity at
   * home; unchanged when no endpoint of that family is configured). */
  private setLocal(e: Entry, local: Locator | null, out: IroAction[]): void {
    if (locatorEquals(e.local, local)) return;
    e.local = local;
    let remote: Locator | null | undefined;
    if (e.home && this.haEndpoints.length > 0) {
      remote = local === null ? null : this.haEndpoints.find((l) => l.family === local.family);
    }
    for (const sa of SA_ROLES) {
      const action: SetLocatorsAction = { kind: 'set-locators', peer: e.peer, sa, local };
      if (remote !== undefined) action.remote = remote;
      out.push(action);
    }
  }

  /** RFC 5555 NAT Detection in the BA: keepalives at the advertised refresh time; none without it
   * or when it says all ones (no keepalives needed). */
  private keepaliveInterval(nd: NatDetectionOption | undefined): number {
    if (!nd || nd.refreshTime === MH_NATD_REFRESH_NONE) return 0;
    return (nd.refreshTime === 0 ? NATT_KEEPALIVE_INTERVAL_S : nd.refreshTime) * MS_PER_S;
  }

  private setKeepalive(e: Entry, intervalMs: number, out: IroAction[]): void {
    if (e.keepaliveMs === intervalMs) return;
    e.keepaliveMs = intervalMs;
    out.push({ kind: 'keepalive', peer: e.peer, intervalMs });
    if (intervalMs > 0) log(out, 'info', 'NAT detected by the home agent; sending keepalives', { peer: e.peer, intervalMs });
  }

  private changed(e: Entry, coa: Locator | null, lifetimeS: number): IroAction {
    return {
      kind: 'binding-changed',
      role: 'mobile-node',
      peer: e.peer,
      coa,
      verified: coa !== null,
      lifetimeS,
      bindings: this.bindingCount,
    };
  }

  private entries(): Entry[] {
    return [this.home, ...this.cns.values()];
  }

  private newEntry(peer: string, home: boolean, seq: number): Entry {
    return {
      peer,
      home,
      state: 'unregistered',
      seq,
      firstSeq: mhSeqNext(seq),
      awaiting: false,
      waitingForHome: false,
      coa: null,
      registeredCoa: null,
      grantedLifetimeS: 0,
      expiresAt: null,
      refreshAt: null,
      firstRegistration: home,
      local: null,
      keepaliveMs: 0,
      disabled: false,
      tx: new Retransmitter(),
    };
  }
}
