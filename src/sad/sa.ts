/**
 * The Security Association record (RFC 4301 §4.4.2.1), with the IRO split between identity and
 * locator addresses (PROTOCOL.md A.5, C.3):
 * - identities {local, peer}: what selectors and upper layers see (HoA, HA address, CN address).
 *   The restored inbound packet carries them; outbound packets are classified on them.
 * - locators {local, peer}: what the wire carries (CoAs). null = same as the identity. Updated
 *   only through Sad.updateLocators, i.e. by authenticated IRO signalling, never from a received
 *   packet's outer addresses (PROTOCOL.md F.10).
 * The crypto state is held by reference through the esp/types.ts interfaces (and SeqCounter
 * below), so the record can be tested with fakes.
 *
 * RFCs: 4301 §4.4.2.1 (SAD fields), 4303 §2.1 (SPI), §2.2 / §3.3.3 (sequence numbers, ESN),
 * 3948 (UDP encapsulation), 6275 + draft-ebalard-mext-ipsec-ro (identities vs locators).
 */
import type { AeadContext, ReplayWindow, SuiteName } from '../esp/types.js';
import { SUITE_NAMES } from '../esp/types.js';
import type { FlowTuple } from '../packet/flow.js';
import { ESP_SPI_MIN, NATT_PORT } from '../packet/constants.js';
import { formatIp, parseIp } from '../util/addr.js';
import { aBoolean, aInteger, aOneOf } from '../util/assert.js';
import { bytesEqual, rangeEqual, toHex } from '../util/bytes.js';
import { DROP_LABELS, newDropTally, type DropReason } from '../util/drop.js';
import { IroError } from '../util/errors.js';
import { Lifetime, LifetimeState, type LifetimeInit, type LifetimeJson } from './lifetime.js';

export type SaDirection = 'in' | 'out';
export const SA_DIRECTIONS: readonly SaDirection[] = ['in', 'out'];
/** RFC 4301 §4.4.2.1 "IPsec protocol mode". */
export type SaMode = 'tunnel' | 'transport';
export const SA_MODES: readonly SaMode[] = ['tunnel', 'transport'];
/** 'udp': ESP in UDP (RFC 3948); 'esp': raw IP protocol 50. */
export type Encapsulation = 'udp' | 'esp';
export const ENCAPSULATIONS: readonly Encapsulation[] = ['udp', 'esp'];

/** An address as text (`2001:db8::1`, `192.0.2.1`) or 4/16 bytes. */
export type AddressSpec = string | Uint8Array;

/**
 * The outbound 64-bit ESP send counter (RFC 4303 §3.3.3), advanced on the main thread in packet
 * order (STYLE 4). Implemented by esp/; sad/ only holds it.
 */
export interface SeqCounter {
  /** High and low 32 bits of the last assigned sequence number; (0, 0) before the first packet. */
  readonly hi: number;
  readonly lo: number;
  /**
   * Assigns the next sequence number (read it from hi/lo). Returns false, changing nothing, when
   * the space is exhausted (2^32 - 1 without ESN, 2^64 - 1 with ESN): the SA must be rekeyed.
   */
  next(): boolean;
}

/**
 * The SA's traffic selectors as the RFC 4301 §5.2 inbound check needs them. spd/'s
 * TrafficSelector implements this; sad/ stores it and never looks inside.
 */
export interface SaSelectors {
  /** True when a decrypted (and, for IRO, identity-restored) packet's flow is within the SA's
   * selectors. flow.src = the peer side (remote), flow.dst = this node (local). */
  matchInbound(flow: FlowTuple): boolean;
  /** Text form for `iro show`. */
  toJSON(): unknown;
}

export interface SaInit {
  /** RFC 4303 §2.1: 256 .. 2^32-1. Inbound SPIs are unique per node (PROTOCOL.md F.9). */
  readonly spi: number;
  readonly direction: SaDirection;
  readonly mode: SaMode;
  readonly suite: SuiteName;
  /** Extended (64-bit) sequence numbers, RFC 4303 §2.2.1. */
  readonly esn: boolean;
  readonly encapsulation: Encapsulation;
  /** Peer UDP port for 'udp' (default 4500, RFC 3948); not allowed for 'esp'. */
  readonly peerPort?: number;
  /** Identity addresses, both of one family. Copied. For a tunnel SA: the tunnel end points. */
  readonly identities: { readonly local: AddressSpec; readonly peer: AddressSpec };
  /** Inner traffic selectors (for a tunnel SA, the inner prefixes, protocol and ports). */
  readonly selectors: SaSelectors;
  /** Initial locators; left out or null = the identity. Copied. */
  readonly locators?: { readonly local?: AddressSpec | null; readonly peer?: AddressSpec | null };
  /** Route optimization allowed: inbound accepts outer addresses that differ from the identities. */
  readonly iro?: boolean;
  /** The configured peer name: the `peer` label in metrics. Never an address or a key. */
  readonly peer: string;
  readonly lifetime?: LifetimeInit;
  /** This thread's AEAD state. The SA owns it from a successful install on: removal destroys it. */
  readonly aead: AeadContext;
  /** Inbound SAs only: the anti-replay window. */
  readonly replay?: ReplayWindow;
  /** Outbound SAs only: the send counter. */
  readonly seq?: SeqCounter;
  /** Creation time in ms since the epoch (default now); lifetimes in seconds count from it. */
  readonly createdAt?: number;
}

/** An SA's locators as returned by Sad.updateLocators (the values before the update). */
export interface Locators {
  /** Own locator; null = the local identity. */
  readonly local: Uint8Array | null;
  /** Peer locator; null = the peer identity. */
  readonly peer: Uint8Array | null;
  /** Peer UDP port; 0 for raw ESP. */
  readonly peerPort: number;
}

/** `iro show --json` view of an SA. Never contains key material. */
export interface SaInfo {
  slot: number;
  spi: string;
  direction: SaDirection;
  mode: SaMode;
  suite: SuiteName;
  esn: boolean;
  encapsulation: Encapsulation;
  peerPort: number | null;
  peer: string;
  iro: boolean;
  identities: { local: string; peer: string };
  locators: { local: string | null; peer: string | null };
  selectors: unknown;
  lifetime: LifetimeJson;
  lifetimeState: 'ok' | 'soft' | 'hard';
  packets: number;
  bytes: number;
  drops: Record<string, number>;
  lastAuthenticatedRx: string | null;
  sequence: { hi: number; lo: number; ratio: number };
  replayWindow: number | null;
  createdAt: string;
}

const SPI_MAX = 0xffffffff;
const PORT_MAX = 0xffff;
const IPV4_LEN = 4;
const IPV6_LEN = 16;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_64 = 2 ** 64;
const LIFETIME_NAMES = ['ok', 'soft', 'hard'] as const;

/**
 * RFC 4303 §2.1: SPI 0 is reserved for local use and 1-255 by IANA; neither may identify an SA.
 * Throws TypeError/RangeError for a non-uint32, IroError ERR_SPI_RESERVED for 0-255.
 */
export function validateSpi(field: string, spi: unknown): number {
  const v = aInteger(field, spi, 0, SPI_MAX);
  if (v < ESP_SPI_MIN) throw new IroError('ERR_SPI_RESERVED', `${field} ${v} is reserved (RFC 4303 §2.1: SPIs 0-255)`);
  return v;
}

/** Parses or copies an address (4 or 16 bytes). Throws TypeError/RangeError naming `field`. */
export function toAddress(field: string, v: unknown): Uint8Array {
  if (typeof v === 'string') {
    const a = parseIp(v.trim());
    if (!a) throw new RangeError(`${field} is not an IP address: ${JSON.stringify(v)}`);
    return a;
  }
  if (!(v instanceof Uint8Array)) throw new TypeError(`${field} must be an address string or a Uint8Array`);
  if (v.length !== IPV4_LEN && v.length !== IPV6_LEN) throw new RangeError(`${field} must be 4 or 16 bytes long, got ${v.length}`);
  return v.slice();
}

/**
 * One shared, never-modified copy per identity address: the SAs of a peer, in and out, payload
 * and signalling, share its address, and every SA of a gateway shares the gateway's own. A
 * gateway with 10,000 peers keeps 10,001 address buffers instead of 80,000. Identities come from
 * configuration, so the table is bounded by it.
 */
const identityTable = new Map<string, Uint8Array>();

function internIdentity(a: Uint8Array): Uint8Array {
  const key = toHex(a);
  let shared = identityTable.get(key);
  if (shared === undefined) {
    shared = a;
    identityTable.set(key, shared);
  }
  return shared;
}

function aObjectWith(field: string, v: unknown, methods: readonly string[]): void {
  if (typeof v !== 'object' || v === null) throw new TypeError(`${field} must be an object`);
  for (const m of methods) {
    if (typeof (v as Record<string, unknown>)[m] !== 'function') throw new TypeError(`${field}.${m} must be a function`);
  }
}

/** Friend access for sad.ts (set in the class's static block; not exported from index.ts). */
export let saInternals: {
  setLocators(sa: SecurityAssociation, local: Uint8Array | null, peer: Uint8Array | null, peerPort: number): void;
  retire(sa: SecurityAssociation): void;
};

/**
 * One SA. Created by Sad.install (which assigns the slot); fields are read on the data path
 * directly. Counters are plain fields the data path updates on the main thread.
 */
export class SecurityAssociation {
  readonly spi: number;
  readonly direction: SaDirection;
  readonly mode: SaMode;
  readonly suite: SuiteName;
  readonly esn: boolean;
  readonly encapsulation: Encapsulation;
  readonly iro: boolean;
  readonly peer: string;
  /** Small integer naming this SA in typed arrays and worker messages; stable while installed. */
  readonly slot: number;
  /** Identity addresses (copies owned by the SA; do not modify). */
  readonly identities: { readonly local: Uint8Array; readonly peer: Uint8Array };
  /** The inner traffic selectors (RFC 4301 §5.2 check); shared with whoever built them. */
  readonly selectors: SaSelectors;
  readonly lifetime: Lifetime;
  readonly createdAt: number;
  readonly aead: AeadContext;
  /** Inbound: the replay window; null on outbound SAs. */
  readonly replay: ReplayWindow | null;
  /** Outbound: the send counter; null on inbound SAs. */
  readonly seq: SeqCounter | null;

  /** Packets and (wire) bytes processed successfully. */
  packets = 0;
  bytes = 0;
  /** Drops by DropReason, allocated at the first drop: most SAs of a large gateway never drop,
   * and a tally per SA would be a tenth of the memory a configured peer costs. */
  #drops: Float64Array | null = null;
  /** ms since the epoch of the last packet whose ICV verified; 0 = never. */
  lastAuthRx = 0;

  #locLocal: Uint8Array | null = null;
  #locPeer: Uint8Array | null = null;
  #peerPort: number;
  #installed = true;

  static {
    saInternals = {
      setLocators(sa, local, peer, peerPort) {
        sa.#locLocal = local;
        sa.#locPeer = peer;
        sa.#peerPort = peerPort;
      },
      retire(sa) {
        sa.#installed = false;
        sa.aead.destroy();
      },
    };
  }

  /**
   * Validates `init` (TypeError/RangeError naming the field; IroError ERR_SPI_RESERVED for SPIs
   * 0-255). Copies addresses; keeps references to `aead`, `replay`, `seq` and `selectors`.
   */
  constructor(init: SaInit, slot: number) {
    if (typeof init !== 'object' || init === null) throw new TypeError('sa must be an object');
    this.spi = validateSpi('sa.spi', init.spi);
    this.slot = aInteger('slot', slot, 0);
    this.direction = aOneOf('sa.direction', init.direction, SA_DIRECTIONS);
    this.mode = aOneOf('sa.mode', init.mode, SA_MODES);
    this.suite = aOneOf('sa.suite', init.suite, SUITE_NAMES);
    this.esn = aBoolean('sa.esn', init.esn);
    this.encapsulation = aOneOf('sa.encapsulation', init.encapsulation, ENCAPSULATIONS);
    if (this.encapsulation === 'udp') {
      this.#peerPort = init.peerPort === undefined ? NATT_PORT : aInteger('sa.peerPort', init.peerPort, 1, PORT_MAX);
    } else {
      if (init.peerPort !== undefined) throw new RangeError('sa.peerPort is only meaningful with encapsulation udp');
      this.#peerPort = 0;
    }
    this.iro = init.iro === undefined ? false : aBoolean('sa.iro', init.iro);
    if (typeof init.peer !== 'string') throw new TypeError('sa.peer must be a string');
    if (init.peer.length === 0) throw new RangeError('sa.peer must not be empty');
    this.peer = init.peer;

    if (typeof init.identities !== 'object' || init.identities === null) throw new TypeError('sa.identities must be an object');
    const local = internIdentity(toAddress('sa.identities.local', init.identities.local));
    const peer = internIdentity(toAddress('sa.identities.peer', init.identities.peer));
    if (local.length !== peer.length) throw new RangeError('sa.identities.local and sa.identities.peer must be of one address family');
    this.identities = Object.freeze({ local, peer });
    aObjectWith('sa.selectors', init.selectors, ['matchInbound', 'toJSON']);
    this.selectors = init.selectors;

    const loc = init.locators ?? {};
    if (typeof loc !== 'object' || loc === null) throw new TypeError('sa.locators must be an object');
    const locLocal = loc.local == null ? null : toAddress('sa.locators.local', loc.local);
    const locPeer = loc.peer == null ? null : toAddress('sa.locators.peer', loc.peer);
    this.checkLocators('sa.locators', locLocal, locPeer);
    this.#locLocal = locLocal === null || bytesEqual(locLocal, local) ? null : locLocal;
    this.#locPeer = locPeer === null || bytesEqual(locPeer, peer) ? null : locPeer;

    this.lifetime = init.lifetime === undefined ? Lifetime.UNLIMITED : new Lifetime(init.lifetime, 'sa.lifetime');
    this.createdAt = init.createdAt === undefined ? Date.now() : aInteger('sa.createdAt', init.createdAt, 0);

    aObjectWith('sa.aead', init.aead, ['seal', 'open', 'destroy']);
    if (init.aead.suite !== this.suite) throw new RangeError(`sa.aead.suite is ${init.aead.suite}, expected ${this.suite}`);
    if (init.aead.esn !== this.esn) throw new RangeError(`sa.aead.esn must equal sa.esn (${this.esn})`);
    this.aead = init.aead;
    if (this.direction === 'in') {
      if (init.seq !== undefined) throw new RangeError('sa.seq belongs to outbound SAs only');
      aObjectWith('sa.replay', init.replay, ['check', 'commit']);
      if (init.replay!.esn !== this.esn) throw new RangeError(`sa.replay.esn must equal sa.esn (${this.esn})`);
      this.replay = init.replay!;
      this.seq = null;
    } else {
      if (init.replay !== undefined) throw new RangeError('sa.replay belongs to inbound SAs only');
      aObjectWith('sa.seq', init.seq, ['next']);
      this.seq = init.seq!;
      this.replay = null;
    }
  }

  /** Own locator, or null when it is the local identity. */
  get localLocator(): Uint8Array | null {
    return this.#locLocal;
  }

  /** Peer locator, or null when it is the peer identity. */
  get peerLocator(): Uint8Array | null {
    return this.#locPeer;
  }

  /** Peer UDP port ('udp'), 0 for raw ESP. */
  get peerPort(): number {
    return this.#peerPort;
  }

  /** Outer source of outbound packets (expected outer destination of inbound ones). Do not modify. */
  get outerLocal(): Uint8Array {
    return this.#locLocal ?? this.identities.local;
  }

  /** Outer destination of outbound packets. Do not modify. */
  get outerPeer(): Uint8Array {
    return this.#locPeer ?? this.identities.peer;
  }

  /** False once removed from its Sad (its key material is then destroyed). */
  get installed(): boolean {
    return this.#installed;
  }

  /**
   * PROTOCOL.md A.5 inbound step 3 (C.3 `onEsp`): whether a received packet's outer addresses
   * (src at srcOff, dst at dstOff, `len` bytes each) are acceptable. The SA was found by SPI
   * alone (RFC 4303 §2.1, PROTOCOL.md B.8), so this is the only address check: a transport-mode
   * SA without `iro` requires outer src = peer identity and dst = local identity; IRO SAs accept
   * any locator, and tunnel-mode SAs discard the outer header (their inner packet is checked by
   * the selectors). Never learn a locator from these addresses (F.10). Allocation-free.
   */
  acceptsOuter(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): boolean {
    if (this.mode === 'tunnel' || this.iro) return true;
    const id = this.identities;
    return len === id.peer.length && rangeEqual(src, srcOff, id.peer, 0, len) && rangeEqual(dst, dstOff, id.local, 0, len);
  }

  /** Lifetime state at `now` (ms since the epoch) from the packets/bytes counted so far. */
  lifetimeState(now: number): LifetimeState {
    return this.lifetime.check(this.packets, this.bytes, now - this.createdAt);
  }

  /** Counts one drop. */
  countDrop(reason: DropReason): void {
    (this.#drops ??= newDropTally())[reason]! += 1;
  }

  /** Drops of `reason` counted on this SA. */
  dropCount(reason: DropReason): number {
    return this.#drops?.[reason] ?? 0;
  }

  /**
   * Share of the sequence-number space used (the `iro_sa_sequence_ratio` gauge): the send
   * counter (outbound) or the highest authenticated number (inbound), over 2^32 or 2^64 (ESN).
   */
  sequenceRatio(): number {
    const hi = this.seq ? this.seq.hi : this.replay!.topHi;
    const lo = this.seq ? this.seq.lo : this.replay!.topLo;
    return this.esn ? (hi * TWO_POW_32 + lo) / TWO_POW_64 : lo / TWO_POW_32;
  }

  /** Read-only view for `iro show`; `now` (ms since the epoch) evaluates the lifetime. */
  info(now: number = Date.now()): SaInfo {
    const drops: Record<string, number> = {};
    this.#drops?.forEach((n, reason) => {
      if (n > 0) drops[DROP_LABELS[reason]!] = n;
    });
    const hi = this.seq ? this.seq.hi : this.replay!.topHi;
    const lo = this.seq ? this.seq.lo : this.replay!.topLo;
    return {
      slot: this.slot,
      spi: `0x${this.spi.toString(16).padStart(8, '0')}`,
      direction: this.direction,
      mode: this.mode,
      suite: this.suite,
      esn: this.esn,
      encapsulation: this.encapsulation,
      peerPort: this.encapsulation === 'udp' ? this.#peerPort : null,
      peer: this.peer,
      iro: this.iro,
      identities: { local: formatIp(this.identities.local), peer: formatIp(this.identities.peer) },
      locators: {
        local: this.#locLocal ? formatIp(this.#locLocal) : null,
        peer: this.#locPeer ? formatIp(this.#locPeer) : null,
      },
      selectors: this.selectors.toJSON(),
      lifetime: this.lifetime.toJSON(),
      lifetimeState: LIFETIME_NAMES[this.lifetimeState(now)],
      packets: this.packets,
      bytes: this.bytes,
      drops,
      lastAuthenticatedRx: this.lastAuthRx > 0 ? new Date(this.lastAuthRx).toISOString() : null,
      sequence: { hi, lo, ratio: this.sequenceRatio() },
      replayWindow: this.replay ? this.replay.size : null,
      createdAt: new Date(this.createdAt).toISOString(),
    };
  }

  toJSON(): SaInfo {
    return this.info();
  }

  /**
   * Throws RangeError (naming `field`) when the locators cannot be used: outer source and
   * destination must be of one family, and a transport-mode SA without `iro` keeps its
   * identities on the wire (PROTOCOL.md A.5; F.14: tunnel SAs move their outer addresses,
   * RFC 3776, without IRO).
   */
  checkLocators(field: string, local: Uint8Array | null, peer: Uint8Array | null): void {
    // An unset local locator leaves the source to the kernel (which picks one of the peer
    // locator's family), so only two explicit locators must agree: an IPv4 care-of address
    // under IPv6 identities is the normal case on IPv4 access networks (RFC 5555).
    if (local !== null && peer !== null && local.length !== peer.length) {
      throw new RangeError(`${field}: the outer local and peer addresses must be of one address family`);
    }
    if (this.mode === 'transport' && !this.iro) {
      if (local !== null && !bytesEqual(local, this.identities.local)) {
        throw new RangeError(`${field}.local: a transport-mode SA without iro must use its identity on the wire`);
      }
      if (peer !== null && !bytesEqual(peer, this.identities.peer)) {
        throw new RangeError(`${field}.peer: a transport-mode SA without iro must use its identity on the wire`);
      }
    }
  }
}
