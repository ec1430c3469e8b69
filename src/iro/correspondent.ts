/**
 * The correspondent node's side of iro route optimization (PROTOCOL.md A.10 correspondent
 * registration, A.7 "safe by default", A.8 proof of address ownership).
 *
 * A Binding Update (A, no H) inside the MN-CN SA passes the same checks as at a home agent
 * (registration.ts) and creates or updates an UNVERIFIED binding: no locator moves. The
 * correspondent then sends a CoA test request (cotest.ts) inside the SA to the claimed CoA - the
 * only packet it ever sends to an unverified address - with a fresh 64-bit random cookie and the
 * BU's sequence number, retransmitted on the BU schedule (RFC 6275 §11.8: 1 s doubling to 32 s,
 * at most 3 per second). A reply inside the SA echoing cookie and sequence verifies the binding:
 * the MN-CN SA's remote locator becomes the CoA and BA 0 goes there. No reply within the schedule:
 * BA 128 (through the home address) and the binding stays unverified. A wrong cookie or sequence
 * changes nothing; a reply with no test pending is answered with Binding Error status 1.
 *
 * A BU naming a different CoA first moves a verified binding back to the identity (the HoA, reached
 * through the home agent) until the new CoA is verified. Nothing creates or moves a binding because
 * of an error message or a data packet. Lifetimes are capped at MAX_RR_BINDING_LIFETIME (420 s).
 * NAT traversal is never allowed here: the claimed CoA must be the outer source (RFC 5555 keeps
 * route optimization to IPv6 care-of addresses).
 */

import { aInteger } from '../util/assert.js';
import { bytesEqual } from '../util/bytes.js';
import { IroError } from '../util/errors.js';
import {
  BA_STATUS_ACCEPTED,
  BA_STATUS_UNSPECIFIED,
  BE_STATUS_UNKNOWN_BINDING,
  BU_FLAG_A,
  IPV6_ADDR_LEN,
  MH_TYPE_EXPERIMENTAL,
  NATT_PORT,
} from '../packet/constants.js';
import { mhLifetimeFromSeconds, mhLifetimeToSeconds, type BindingUpdate, type MhMessage } from '../packet/mh.js';
import { SA_ROLES, bindingAck, type IroAction, type MhArrival, type MhToSend } from './actions.js';
import {
  COTEST_COOKIE_LEN,
  INITIAL_BINDACK_TIMEOUT_MS,
  MAX_BINDACK_TIMEOUT_MS,
  MAX_RR_BINDING_LIFETIME_S,
} from './constants.js';
import { COTEST_SUBTYPE_REPLY, COTEST_SUBTYPE_REQUEST, coTestMessage, decodeCoTestBody, type CoTest } from './cotest.js';
import { aAddress, aMhType, aPeerName, aPort, checkArrival, checkNow, log } from './guards.js';
import { formatLocator, locatorEquals, type Locator } from './locator.js';
import { checkBindingUpdate, earliest, refuseBu, refuseUnknownPeer } from './registration.js';
import { Retransmitter } from './schedule.js';

const MS_PER_S = 1000;

export interface CorrespondentPeer {
  /** The configured peer name of a mobile node with route optimization on. */
  peer: string;
  /** Its IPv6 home address: the identity of the MN-CN SA (16 bytes). */
  homeAddress: Uint8Array;
}

export interface CorrespondentOptions {
  peers: readonly CorrespondentPeer[];
  /** Returns `n` cryptographically random bytes (the caller injects node:crypto's randomBytes). */
  random: (n: number) => Uint8Array;
  /** MH type of the CoA test messages (default 11, RFC 5096 experimental; PROTOCOL.md F.31). */
  coTestMhType?: number;
  /** Longest lifetime granted, in seconds; at most and by default 420 (RFC 6275 §12). */
  maxLifetimeS?: number;
  /** The UDP port a mobile node sends from under RFC 3948 encapsulation (default 4500). */
  udpPort?: number;
}

/** A binding cache entry, as `bindings()` reports it (a copy). */
export interface CorrespondentBinding {
  peer: string;
  homeAddress: Uint8Array;
  /** The care-of address of the last accepted BU; traffic goes there only once `verified`. */
  coa: Locator;
  verified: boolean;
  /** A CoA test is outstanding. */
  testing: boolean;
  sequence: number;
  lifetimeS: number;
  expiresAt: number;
}

interface PendingTest {
  readonly cookie: Uint8Array;
  readonly sequence: number;
}

interface Binding {
  readonly peer: string;
  readonly homeAddress: Uint8Array;
  coa: Locator;
  verified: boolean;
  sequence: number;
  lifetimeUnits: number;
  expiresAt: number;
  ackRequested: boolean;
  test: PendingTest | null;
  readonly tx: Retransmitter;
}

export class Correspondent {
  private readonly peers = new Map<string, Uint8Array>();
  private readonly cache = new Map<string, Binding>();
  private readonly random: (n: number) => Uint8Array;
  private readonly coTestMhType: number;
  private readonly maxLifetimeUnits: number;
  private readonly udpPort: number;

  constructor(options: CorrespondentOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    if (!Array.isArray(options.peers)) throw new TypeError('options.peers must be an array');
    options.peers.forEach((p, i) => {
      const name = aPeerName(`options.peers[${i}].peer`, p.peer);
      if (this.peers.has(name)) throw new RangeError(`options.peers[${i}].peer ${JSON.stringify(name)} is listed twice`);
      this.peers.set(name, aAddress(`options.peers[${i}].homeAddress`, p.homeAddress, IPV6_ADDR_LEN));
    });
    if (typeof options.random !== 'function') throw new TypeError('options.random must be a function');
    this.random = options.random;
    this.coTestMhType = aMhType('options.coTestMhType', options.coTestMhType ?? MH_TYPE_EXPERIMENTAL);
    const maxS = options.maxLifetimeS ?? MAX_RR_BINDING_LIFETIME_S;
    aInteger('options.maxLifetimeS', maxS, 1, MAX_RR_BINDING_LIFETIME_S);
    this.maxLifetimeUnits = mhLifetimeFromSeconds(maxS);
    this.udpPort = aPort('options.udpPort', options.udpPort ?? NATT_PORT);
  }

  /** How many bindings the cache holds, verified or not (`iro_bindings{role="correspondent"}`). */
  get bindingCount(): number {
    return this.cache.size;
  }

  bindings(): CorrespondentBinding[] {
    return [...this.cache.values()].map((b) => this.snapshot(b));
  }

  binding(peer: string): CorrespondentBinding | null {
    const b = this.cache.get(peer);
    return b ? this.snapshot(b) : null;
  }

  /**
   * A Mobility Header arrived inside `peer`'s signalling SA: Binding Updates and CoA test replies
   * are processed, anything else is ignored. Never throws on message content; throws IroError
   * ERR_USAGE on a malformed `arrival` or `now`, or when `options.random` misbehaves.
   */
  receiveMh(peer: string, message: MhMessage, arrival: MhArrival, now: number): IroAction[] {
    checkNow(now);
    const rx = checkArrival(arrival);
    if (message.kind === 'binding-update') return this.receiveBu(peer, message, rx, now);
    const out: IroAction[] = [];
    if (message.kind === 'experimental' && message.mhType === this.coTestMhType) {
      const t = decodeCoTestBody(message.body);
      if (t?.subtype === COTEST_SUBTYPE_REPLY) return this.receiveReply(peer, t, rx, now);
      log(out, 'debug', 'CoA test message ignored', { peer, subtype: t?.subtype ?? null });
      return out;
    }
    log(out, 'debug', 'mobility message ignored by the correspondent', { peer, kind: message.kind, mhType: message.mhType });
    return out;
  }

  /** PROTOCOL.md A.10 correspondent step 2, then step 3's CoA test. */
  receiveBu(peer: string, bu: BindingUpdate, arrival: MhArrival, now: number): IroAction[] {
    checkNow(now);
    const rx = checkArrival(arrival);
    const out: IroAction[] = [];
    const homeAddress = this.peers.get(peer);
    if (!homeAddress) {
      refuseUnknownPeer(out, peer, 'binding update from a peer without route optimization');
      return out;
    }
    let b = this.cache.get(peer);
    const check = checkBindingUpdate({
      home: false,
      homeAddress,
      bu,
      arrival: rx,
      lastSeq: b?.sequence ?? null,
      nat: 'deny',
      udpPort: this.udpPort,
      maxLifetimeUnits: this.maxLifetimeUnits,
    });
    if (!check.ok) {
      // No `to`: a refusal goes the way traffic to this MN already goes, never to the claimed CoA.
      refuseBu(out, peer, bu, check, b?.sequence ?? null, rx);
      return out;
    }
    const ackRequested = (bu.flags & BU_FLAG_A) !== 0;
    if (check.deregister) {
      if (b) this.remove(b, out);
      out.push({ kind: 'count', metric: 'bu-accepted', peer });
      log(out, 'info', 'mobile node deregistered its correspondent binding', { peer, seq: bu.seq });
      if (ackRequested) {
        out.push({ kind: 'send-mh', peer, sa: 'signal', message: bindingAck(BA_STATUS_ACCEPTED, bu.seq, 0) });
      }
      return out;
    }
    const created = !b;
    if (!b) {
      b = {
        peer,
        homeAddress,
        coa: check.coa,
        verified: false,
        sequence: bu.seq,
        lifetimeUnits: check.lifetimeUnits,
        expiresAt: 0,
        ackRequested,
        test: null,
        tx: new Retransmitter(),
      };
      this.cache.set(peer, b);
    }
    const moved = !locatorEquals(b.coa, check.coa);
    if (moved && b.verified) {
      // Safe by default (A.7): until the new CoA answers, traffic goes back through the home agent.
      b.verified = false;
      this.setRemote(peer, null, out);
    }
    b.coa = check.coa;
    b.sequence = bu.seq;
    b.lifetimeUnits = check.lifetimeUnits;
    b.expiresAt = now + mhLifetimeToSeconds(check.lifetimeUnits) * MS_PER_S;
    b.ackRequested = ackRequested;
    if (created || moved) out.push(this.changed(b));
    log(out, 'info', 'correspondent binding accepted unverified; testing the care-of address', {
      peer,
      seq: bu.seq,
      coa: formatLocator(check.coa),
    });
    b.test = { cookie: this.cookie(), sequence: bu.seq };
    b.tx.reset(INITIAL_BINDACK_TIMEOUT_MS);
    this.sendTest(b, now, out);
    return out;
  }

  /** CoA test retransmissions and give-ups, binding expiry. */
  tick(now: number): IroAction[] {
    checkNow(now);
    const out: IroAction[] = [];
    for (const b of [...this.cache.values()]) {
      if (now >= b.expiresAt) {
        log(out, 'info', 'correspondent binding expired', { peer: b.peer, coa: formatLocator(b.coa), verified: b.verified });
        this.remove(b, out);
        continue;
      }
      if (!b.test) continue;
      const due = b.tx.due(now);
      if (due === 'send') this.sendTest(b, now, out);
      else if (due === 'timeout') {
        if (b.tx.timeoutMs >= MAX_BINDACK_TIMEOUT_MS) this.giveUp(b, out);
        else {
          b.tx.backoff();
          this.sendTest(b, now, out);
        }
      }
    }
    return out;
  }

  nextDeadline(): number | null {
    return earliest(...[...this.cache.values()].flatMap((b) => [b.expiresAt, b.test ? b.tx.deadline() : null]));
  }

  /** A.10 correspondent step 5. */
  private receiveReply(peer: string, t: CoTest, rx: MhArrival, now: number): IroAction[] {
    const out: IroAction[] = [];
    const homeAddress = this.peers.get(peer);
    if (!homeAddress || !bytesEqual(rx.identitySrc, homeAddress)) {
      log(out, 'debug', 'CoA test reply from an unexpected identity dropped', { peer });
      return out;
    }
    const b = this.cache.get(peer);
    if (!b?.test) {
      // PROTOCOL.md A.10: a message claiming a binding the receiver does not hold gets BE status 1.
      log(out, 'debug', 'CoA test reply with no test pending', { peer, seq: t.sequence });
      const message: MhToSend = { kind: 'binding-error', status: BE_STATUS_UNKNOWN_BINDING, homeAddress };
      out.push({ kind: 'send-mh', peer, sa: 'signal', message });
      return out;
    }
    if (t.sequence !== b.test.sequence || !bytesEqual(t.cookie, b.test.cookie)) {
      const fields = { peer, seq: t.sequence, expected: b.test.sequence };
      log(out, 'debug', 'CoA test reply does not match the pending test', fields);
      return out;
    }
    b.test = null;
    b.tx.stop();
    // The binding counts from the moment it takes effect.
    const lifetimeS = mhLifetimeToSeconds(b.lifetimeUnits);
    b.expiresAt = now + lifetimeS * MS_PER_S;
    if (!b.verified) {
      b.verified = true;
      this.setRemote(peer, b.coa, out);
      out.push(this.changed(b));
    }
    out.push({ kind: 'count', metric: 'bu-accepted', peer });
    const fields = { peer, coa: formatLocator(b.coa), seq: b.sequence };
    log(out, 'info', 'care-of address verified; route optimization on', fields);
    if (b.ackRequested) {
      out.push({ kind: 'send-mh', peer, sa: 'signal', message: bindingAck(BA_STATUS_ACCEPTED, b.sequence, b.lifetimeUnits) });
    }
    return out;
  }

  private sendTest(b: Binding, now: number, out: IroAction[]): void {
    if (!b.test || !b.tx.trySend(now)) return;
    const { sequence, cookie } = b.test;
    const message = coTestMessage(this.coTestMhType, { subtype: COTEST_SUBTYPE_REQUEST, sequence, cookie });
    out.push({ kind: 'send-mh', peer: b.peer, sa: 'signal', to: b.coa, message });
  }

  /** A.10 step 5: no reply within the schedule -> BA 128 (never to the CoA) and no verification. */
  private giveUp(b: Binding, out: IroAction[]): void {
    b.test = null;
    b.tx.stop();
    if (b.verified) {
      b.verified = false;
      this.setRemote(b.peer, null, out);
      out.push(this.changed(b));
    }
    out.push({ kind: 'count', metric: 'bu-refused', peer: b.peer, reason: 'unverified' });
    const fields = { peer: b.peer, coa: formatLocator(b.coa) };
    log(out, 'info', 'care-of address test unanswered; binding stays unverified', fields);
    if (b.ackRequested) {
      out.push({ kind: 'send-mh', peer: b.peer, sa: 'signal', message: bindingAck(BA_STATUS_UNSPECIFIED, b.sequence, 0) });
    }
  }

  private remove(b: Binding, out: IroAction[]): void {
    this.cache.delete(b.peer);
    b.tx.stop();
    if (b.verified) this.setRemote(b.peer, null, out);
    const bindings = this.cache.size;
    out.push({ kind: 'binding-changed', role: 'correspondent', peer: b.peer, coa: null, verified: false, lifetimeS: 0, bindings });
  }

  private setRemote(peer: string, remote: Locator | null, out: IroAction[]): void {
    for (const sa of SA_ROLES) out.push({ kind: 'set-locators', peer, sa, remote });
  }

  private cookie(): Uint8Array {
    const r = this.random(COTEST_COOKIE_LEN);
    if (!(r instanceof Uint8Array) || r.length !== COTEST_COOKIE_LEN) {
      throw new IroError('ERR_USAGE', `options.random(${COTEST_COOKIE_LEN}) must return ${COTEST_COOKIE_LEN} bytes`);
    }
    return new Uint8Array(r);
  }

  private changed(b: Binding): IroAction {
    return {
      kind: 'binding-changed',
      role: 'correspondent',
      peer: b.peer,
      coa: b.coa,
      verified: b.verified,
      lifetimeS: mhLifetimeToSeconds(b.lifetimeUnits),
      bindings: this.cache.size,
    };
  }

  private snapshot(b: Binding): CorrespondentBinding {
    return {
      peer: b.peer,
      homeAddress: new Uint8Array(b.homeAddress),
      coa: b.coa,
      verified: b.verified,
      testing: b.test !== null,
      sequence: b.sequence,
      lifetimeS: mhLifetimeToSeconds(b.lifetimeUnits),
      expiresAt: b.expiresAt,
    };
  }
}
