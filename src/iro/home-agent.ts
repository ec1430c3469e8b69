/**
 * The home agent's side of iro: the binding cache (RFC 6275 §9.1, §10.1) keyed by mobile node,
 * fed only by ESP-protected Binding Updates (PROTOCOL.md A.10 home registration steps 2-3, D.2:
 * "such changes MUST only be triggered by IPsec-protected BUs").
 *
 * Events: `receiveMh` (a Mobility Header that arrived inside a mobile node's signalling SA) and
 * `tick` (binding expiry); `nextDeadline` tells the caller when to tick next. There is no event for
 * an ESP data packet arriving from a new address, and there never should be: the dataplane accepts
 * such a packet by SPI and moves nothing (PROTOCOL.md A.5 inbound step 5, F.10, D.4 lesson 2). The
 * only way to change a locator here is an accepted BU; the only ways to remove one are a
 * deregistration and expiry.
 *
 * Each mobile node is a peer (by configured name) with two SA pairs: `payload` (the RFC 3776
 * tunnel, whose outer destination follows the binding) and `signal` (the transport SA carrying BU
 * and BA). An accepted BU moves both remote locators to the CoA before the BA is sent, so the BA
 * reaches the CoA with no Type 2 Routing Header (PROTOCOL.md A.9).
 */

import { aInteger } from '../util/assert.js';
import { bytesEqual } from '../util/bytes.js';
import {
  BA_STATUS_ACCEPTED,
  BU_FLAG_A,
  IPV4_ADDR_LEN,
  IPV6_ADDR_LEN,
  MH_LIFETIME_MAX_UNITS,
  MH_NATD_REFRESH_NONE,
  NATT_KEEPALIVE_INTERVAL_S,
  NATT_PORT,
} from '../packet/constants.js';
import {
  mhLifetimeFromSeconds,
  mhLifetimeToSeconds,
  type BindingUpdate,
  type MhMessage,
  type MobilityOptions,
} from '../packet/mh.js';
import { SA_ROLES, bindingAck, type IroAction, type MhArrival } from './actions.js';
import {
  DEFAULT_HOME_LIFETIME_S,
  IPV4_ACK_STATUS_INCORRECT_HOA,
  IPV4_ACK_STATUS_PROHIBITED,
  IPV4_HOST_PREFIX_LEN,
} from './constants.js';
import { aAddress, aPeerName, aPort, checkArrival, checkNow, log } from './guards.js';
import { formatLocator, locatorEquals, type Locator } from './locator.js';
import { NAT_POLICIES, checkBindingUpdate, earliest, refuseBu, refuseUnknownPeer, type NatPolicy } from './registration.js';

const MS_PER_S = 1000;

export interface HomeAgentPeer {
  /** The configured peer name (the `peer` of every action). */
  peer: string;
  /** The mobile node's IPv6 home address: the identity its SAs are bound to (16 bytes). */
  homeAddress: Uint8Array;
  /** Its IPv4 home address, registered with the RFC 5555 IPv4 Home Address option (4 bytes). */
  homeAddress4?: Uint8Array;
  /** 'allow': a BU whose CoA is not the outer source binds the observed outer locator (RFC 5555
   * NAT traversal). 'deny' (default): such a BU is refused with BA 129. */
  nat?: NatPolicy;
}

export interface HomeAgentOptions {
  peers: readonly HomeAgentPeer[];
  /** Longest lifetime granted, in seconds (default 3600). */
  maxLifetimeS?: number;
  /** Keepalive interval advertised in the NAT Detection option, in seconds (default 20). */
  natKeepaliveS?: number;
  /** The UDP port a mobile node sends from when no NAT rewrote it (default 4500, RFC 3948). */
  udpPort?: number;
}

/** A binding cache entry, as `bindings()` reports it (a copy). */
export interface HomeBinding {
  peer: string;
  homeAddress: Uint8Array;
  /** The IPv4 home address acknowledged with this binding, or null. */
  homeAddress4: Uint8Array | null;
  coa: Locator;
  sequence: number;
  lifetimeS: number;
  /** Time (same clock as `now`) the binding expires. */
  expiresAt: number;
  /** The CoA is the translated outer locator, not the one the BU claimed. */
  natDetected: boolean;
}

interface Peer {
  readonly name: string;
  readonly homeAddress: Uint8Array;
  readonly homeAddress4: Uint8Array | null;
  readonly nat: NatPolicy;
}

/** A copy of `b` (locators are immutable values and are shared). */
function snapshot(b: HomeBinding): HomeBinding {
  const homeAddress4 = b.homeAddress4 ? new Uint8Array(b.homeAddress4) : null;
  return { ...b, homeAddress: new Uint8Array(b.homeAddress), homeAddress4 };
}

export class HomeAgent {
  private readonly peers = new Map<string, Peer>();
  private readonly cache = new Map<string, HomeBinding>();
  private readonly maxLifetimeUnits: number;
  private readonly natKeepaliveS: number;
  private readonly udpPort: number;

  constructor(options: HomeAgentOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    if (!Array.isArray(options.peers)) throw new TypeError('options.peers must be an array');
    options.peers.forEach((p, i) => {
      const name = aPeerName(`options.peers[${i}].peer`, p.peer);
      if (this.peers.has(name)) throw new RangeError(`options.peers[${i}].peer ${JSON.stringify(name)} is listed twice`);
      const nat = p.nat ?? 'deny';
      if (!NAT_POLICIES.includes(nat)) {
        throw new RangeError(`options.peers[${i}].nat must be one of ${NAT_POLICIES.join(', ')}`);
      }
      const hoa4 = p.homeAddress4 === undefined ? null : aAddress(`options.peers[${i}].homeAddress4`, p.homeAddress4, IPV4_ADDR_LEN);
      const homeAddress = aAddress(`options.peers[${i}].homeAddress`, p.homeAddress, IPV6_ADDR_LEN);
      this.peers.set(name, { name, homeAddress, homeAddress4: hoa4, nat });
    });
    const maxS = options.maxLifetimeS ?? DEFAULT_HOME_LIFETIME_S;
    this.maxLifetimeUnits = mhLifetimeFromSeconds(aInteger('options.maxLifetimeS', maxS, 1, mhLifetimeToSeconds(MH_LIFETIME_MAX_UNITS)));
    // All ones in the NAT Detection option means "no keepalives" (RFC 5555), so it is not a value.
    const keepalive = options.natKeepaliveS ?? NATT_KEEPALIVE_INTERVAL_S;
    this.natKeepaliveS = aInteger('options.natKeepaliveS', keepalive, 1, MH_NATD_REFRESH_NONE - 1);
    this.udpPort = aPort('options.udpPort', options.udpPort ?? NATT_PORT);
  }

  /** How many bindings the cache holds (the `iro_bindings{role="home-agent"}` gauge). */
  get bindingCount(): number {
    return this.cache.size;
  }

  /** Copies of the binding cache entries. */
  bindings(): HomeBinding[] {
    return [...this.cache.values()].map(snapshot);
  }

  /** A copy of the binding of `peer`, or null. */
  binding(peer: string): HomeBinding | null {
    const b = this.cache.get(peer);
    return b ? snapshot(b) : null;
  }

  /**
   * A Mobility Header arrived inside `peer`'s signalling SA. Binding Updates are processed;
   * anything else is ignored (a home agent sends no CoA tests and answers no BAs). Never throws on
   * message content; throws IroError ERR_USAGE on a malformed `arrival` or `now`.
   */
  receiveMh(peer: string, message: MhMessage, arrival: MhArrival, now: number): IroAction[] {
    if (message.kind === 'binding-update') return this.receiveBu(peer, message, arrival, now);
    checkNow(now);
    checkArrival(arrival);
    const out: IroAction[] = [];
    log(out, 'debug', 'mobility message ignored by the home agent', { peer, kind: message.kind, mhType: message.mhType });
    return out;
  }

  /** PROTOCOL.md A.10 home registration step 2, then step 3's BA. */
  receiveBu(peer: string, bu: BindingUpdate, arrival: MhArrival, now: number): IroAction[] {
    checkNow(now);
    const rx = checkArrival(arrival);
    const out: IroAction[] = [];
    const p = this.peers.get(peer);
    if (!p) {
      refuseUnknownPeer(out, peer, 'binding update from a peer that is not a mobile node of this home agent');
      return out;
    }
    const existing = this.cache.get(peer) ?? null;
    const check = checkBindingUpdate({
      home: true,
      homeAddress: p.homeAddress,
      bu,
      arrival: rx,
      lastSeq: existing?.sequence ?? null,
      nat: p.nat,
      udpPort: this.udpPort,
      maxLifetimeUnits: this.maxLifetimeUnits,
    });
    if (!check.ok) {
      // The refusal goes where the BU came from, the only place the MN may be listening; the
      // binding is not touched.
      refuseBu(out, peer, bu, check, existing?.sequence ?? null, rx, rx.src);
      return out;
    }
    const ackRequested = (bu.flags & BU_FLAG_A) !== 0;
    if (check.deregister) {
      // RFC 6275 §10.3.2: deregistration deletes the binding; locators go back to identities.
      if (existing) {
        this.cache.delete(peer);
        for (const sa of SA_ROLES) out.push({ kind: 'set-locators', peer, sa, remote: null });
        out.push(this.changed(peer, null, 0));
      }
      out.push({ kind: 'count', metric: 'bu-accepted', peer });
      log(out, 'info', 'mobile node deregistered', { peer, seq: bu.seq, from: formatLocator(check.coa) });
      if (ackRequested) {
        out.push({ kind: 'send-mh', peer, sa: 'signal', to: check.coa, message: bindingAck(BA_STATUS_ACCEPTED, bu.seq, 0) });
      }
      return out;
    }
    const options: MobilityOptions = {};
    const homeAddress4 = this.ipv4HomeAddress(p, bu, options);
    const lifetimeS = mhLifetimeToSeconds(check.lifetimeUnits);
    const binding: HomeBinding = {
      peer,
      homeAddress: p.homeAddress,
      homeAddress4,
      coa: check.coa,
      sequence: bu.seq,
      lifetimeS,
      expiresAt: now + lifetimeS * MS_PER_S,
      natDetected: check.natDetected,
    };
    const moved = !existing || !locatorEquals(existing.coa, check.coa);
    this.cache.set(peer, binding);
    if (moved) {
      // A.10 step 2: the tunnel SA's outer destination and the transport SA's locator follow the binding.
      for (const sa of SA_ROLES) out.push({ kind: 'set-locators', peer, sa, remote: check.coa });
      out.push(this.changed(peer, check.coa, lifetimeS));
    }
    out.push({ kind: 'count', metric: 'bu-accepted', peer });
    log(out, moved ? 'info' : 'debug', moved ? 'binding moved' : 'binding refreshed', {
      peer,
      seq: bu.seq,
      coa: formatLocator(check.coa),
      lifetimeS,
      nat: check.natDetected,
    });
    if (check.natDetected) {
      // RFC 5555 NAT Detection: tell the MN a NAT was seen and how often to keep the mapping alive.
      options.natDetection = { udpEncapsulationRequired: true, refreshTime: this.natKeepaliveS };
    }
    if (ackRequested) {
      const message = bindingAck(BA_STATUS_ACCEPTED, bu.seq, check.lifetimeUnits, options);
      out.push({ kind: 'send-mh', peer, sa: 'signal', message });
    }
    return out;
  }

  /** Removes the bindings whose lifetime is over (RFC 6275 §10.3.1: an expired binding is deleted). */
  tick(now: number): IroAction[] {
    checkNow(now);
    const out: IroAction[] = [];
    for (const [peer, b] of this.cache) {
      if (now < b.expiresAt) continue;
      this.cache.delete(peer);
      for (const sa of SA_ROLES) out.push({ kind: 'set-locators', peer, sa, remote: null });
      out.push(this.changed(peer, null, 0));
      log(out, 'info', 'binding expired', { peer, coa: formatLocator(b.coa), seq: b.sequence });
    }
    return out;
  }

  /** When `tick` has work next, or null when the cache is empty. */
  nextDeadline(): number | null {
    return earliest(...[...this.cache.values()].map((b) => b.expiresAt));
  }

  /**
   * RFC 5555 §3.1.1/§3.2.1: an IPv4 Home Address option is answered with an IPv4 Address
   * Acknowledgement. The configured address is granted when asked for by value or with 0.0.0.0
   * (assignment request); any other address is refused. Returns the address granted, or null.
   */
  private ipv4HomeAddress(p: Peer, bu: BindingUpdate, options: MobilityOptions): Uint8Array | null {
    const req = bu.options.ipv4HomeAddress;
    if (!req) return null;
    const asked = req.address;
    const assign = asked.every((x) => x === 0);
    if (p.homeAddress4 && (assign || bytesEqual(asked, p.homeAddress4))) {
      options.ipv4AddressAck = { status: BA_STATUS_ACCEPTED, prefixLength: IPV4_HOST_PREFIX_LEN, address: p.homeAddress4 };
      return p.homeAddress4;
    }
    const status = p.homeAddress4 ? IPV4_ACK_STATUS_INCORRECT_HOA : IPV4_ACK_STATUS_PROHIBITED;
    options.ipv4AddressAck = { status, prefixLength: req.prefixLength, address: asked };
    return null;
  }

  private changed(peer: string, coa: Locator | null, lifetimeS: number): IroAction {
    const bindings = this.cache.size;
    return { kind: 'binding-changed', role: 'home-agent', peer, coa, verified: coa !== null, lifetimeS, bindings };
  }
}

