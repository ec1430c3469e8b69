/**
 * The Security Association Database (RFC 4301 §4.4.2).
 *
 * - Inbound SAs are found by SPI alone (RFC 4303 §2.1 allows it for unicast; IRO needs it
 *   because the outer destination may be the HoA or any CoA: PROTOCOL.md B.8, F.9), in O(1).
 *   Inbound SPIs are therefore unique per node, across every local address, family, transport
 *   and peer: a second inbound SA with the same SPI is refused (ERR_SPI_IN_USE).
 * - Outbound SAs are found by reference or slot (the SPD's PROTECT entry names them); their SPI
 *   was chosen by the peer and is not indexed.
 * - Every SA gets a slot: a small integer, stable while installed, naming the SA in typed
 *   arrays (PacketBatch.sa) and worker messages. Freed slots are reused oldest-first, so a slot
 *   number is reused as late as possible; a pipeline that still holds a removed SA's slot must
 *   check `sa.installed` on the object it captured.
 * - Make-before-break (DESIGN.md "Keying"): installing a new SA never removes another, so a new
 *   inbound SPI for a peer can be live before the old one is removed with `remove`.
 * - `remove` destroys the SA's AEAD context (zeroes the key, STYLE "zero key material on delete").
 *
 * RFCs: 4301 §4.4.2 (SAD), 4303 §2.1 (SPI), 3776 / PROTOCOL.md A.5, D.2 (locator updates only
 * from IPsec-protected Binding Updates).
 */
import { aInteger } from '../util/assert.js';
import { bytesEqual } from '../util/bytes.js';
import { IroError } from '../util/errors.js';
import { SecurityAssociation, saInternals, toAddress, type AddressSpec, type Locators, type SaInit } from './sa.js';

/** Default number of slots: 65,536 SAs (32,768 peers with one SA each way). */
export const DEFAULT_MAX_SLOTS = 0x10000;
const PORT_MAX = 0xffff;

export interface SadOptions {
  /** Most SAs installed at once (slots are 0 .. maxSlots-1). Default DEFAULT_MAX_SLOTS. */
  readonly maxSlots?: number;
}

/** A change of locators; a field left out is unchanged, null means "back to the identity". */
export interface LocatorUpdate {
  readonly local?: AddressSpec | null;
  readonly peer?: AddressSpec | null;
  /** New peer UDP port (NAT rebinding, RFC 3948); 'udp' SAs only. */
  readonly peerPort?: number;
}

export class Sad {
  readonly maxSlots: number;
  /** Inbound SAs keyed by `spi | 0` (an int32, so the key stays a small integer). */
  private readonly inbound = new Map<number, SecurityAssociation>();
  private readonly slots: (SecurityAssociation | undefined)[] = [];
  /** Freed slots, oldest first. */
  private readonly freeSlots: number[] = [];
  private readonly peers = new Map<string, SecurityAssociation[]>();
  private outbound = 0;

  /** Throws TypeError/RangeError naming the option. */
  constructor(options: SadOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.maxSlots = options.maxSlots === undefined ? DEFAULT_MAX_SLOTS : aInteger('options.maxSlots', options.maxSlots, 1, 2 ** 31 - 1);
  }

  /**
   * Validates and installs an SA; returns it with its slot assigned. Ownership of `init.aead`
   * passes to the SAD on success (removal destroys it); on failure the caller still owns it.
   * Throws: IroError ERR_SPI_RESERVED (SPI 0-255, RFC 4303 §2.1), ERR_SPI_IN_USE (an installed
   * inbound SA has this SPI, PROTOCOL.md F.9), ERR_STATE (no free slot); TypeError/RangeError
   * naming the field for anything else.
   */
  install(init: SaInit): SecurityAssociation {
    const slot = this.freeSlots.length > 0 ? this.freeSlots[0]! : this.slots.length;
    if (slot >= this.maxSlots) throw new IroError('ERR_STATE', `the SAD is full (${this.maxSlots} SAs)`);
    const sa = new SecurityAssociation(init, slot);
    if (sa.direction === 'in') {
      const other = this.inbound.get(sa.spi | 0);
      if (other) {
        const hex = `0x${sa.spi.toString(16).padStart(8, '0')}`;
        throw new IroError('ERR_SPI_IN_USE', `inbound SPI ${hex} is already used by an SA of peer ${JSON.stringify(other.peer)}`);
      }
      this.inbound.set(sa.spi | 0, sa);
    } else {
      this.outbound++;
    }
    if (slot === this.slots.length) this.slots.push(sa);
    else {
      this.freeSlots.shift();
      this.slots[slot] = sa;
    }
    const list = this.peers.get(sa.peer);
    if (list) list.push(sa);
    else this.peers.set(sa.peer, [sa]);
    return sa;
  }

  /**
   * RFC 4303 §2.1 / PROTOCOL.md B.8: the inbound SA for `spi` (as read from the wire, uint32),
   * whatever the packet's outer addresses; undefined when there is none (Drop.NO_SA) — also for
   * the reserved SPIs 0-255, which are never installed. O(1), allocation-free.
   */
  lookupInbound(spi: number): SecurityAssociation | undefined {
    return this.inbound.get(spi | 0);
  }

  /** The SA in `slot`, or undefined. */
  bySlot(slot: number): SecurityAssociation | undefined {
    return slot >= 0 && slot < this.slots.length ? this.slots[slot] : undefined;
  }

  /** The SAs of a peer (both directions, old and new keys), in install order. A new array. */
  byPeer(peer: string): SecurityAssociation[] {
    return (this.peers.get(peer) ?? []).slice();
  }

  /** Every installed SA in slot order, for `iro show`. A new array. */
  list(): SecurityAssociation[] {
    return this.slots.filter((sa): sa is SecurityAssociation => sa !== undefined);
  }

  /** Installed SAs. */
  get size(): number {
    return this.inbound.size + this.outbound;
  }

  get inboundCount(): number {
    return this.inbound.size;
  }

  get outboundCount(): number {
    return this.outbound;
  }

  /**
   * Changes an installed SA's locators and/or peer UDP port; returns the previous values.
   * Only the IRO signalling layer calls this, after an IPsec-protected Binding Update (and, for a
   * CN, a completed CoA test) named the new locator (PROTOCOL.md A.5 inbound step 5, D.2, F.10):
   * never from a received packet's source address. A locator equal to the identity is stored as
   * null (at home the rewrite is a no-op, F.15). Sequence numbers and the replay window are
   * untouched: old and new paths share one SA (F.16).
   * Throws IroError ERR_STATE when `sa` is not installed here; TypeError/RangeError naming the
   * field for a bad address, a family mismatch between outer source and destination, or a
   * locator on a transport-mode SA without iro.
   */
  updateLocators(sa: SecurityAssociation, update: LocatorUpdate): Locators {
    if (!(sa instanceof SecurityAssociation) || this.slots[sa.slot] !== sa) {
      throw new IroError('ERR_STATE', 'updateLocators: the SA is not installed in this SAD');
    }
    if (typeof update !== 'object' || update === null) throw new TypeError('update must be an object');
    const previous: Locators = { local: sa.localLocator, peer: sa.peerLocator, peerPort: sa.peerPort };
    const local = update.local === undefined ? previous.local : update.local === null ? null : toAddress('update.local', update.local);
    const peer = update.peer === undefined ? previous.peer : update.peer === null ? null : toAddress('update.peer', update.peer);
    let peerPort = previous.peerPort;
    if (update.peerPort !== undefined) {
      if (sa.encapsulation !== 'udp') throw new RangeError('update.peerPort is only meaningful with encapsulation udp');
      peerPort = aInteger('update.peerPort', update.peerPort, 1, PORT_MAX);
    }
    sa.checkLocators('update', local, peer);
    saInternals.setLocators(
      sa,
      local !== null && !bytesEqual(local, sa.identities.local) ? local : null,
      peer !== null && !bytesEqual(peer, sa.identities.peer) ? peer : null,
      peerPort,
    );
    return previous;
  }

  /**
   * Removes `sa` and destroys its AEAD context (key material wiped). The SA object stays
   * readable (counters for a final report) with `installed` false. False when it was not
   * installed here.
   */
  remove(sa: SecurityAssociation): boolean {
    if (!(sa instanceof SecurityAssociation) || this.slots[sa.slot] !== sa) return false;
    if (sa.direction === 'in') this.inbound.delete(sa.spi | 0);
    else this.outbound--;
    this.slots[sa.slot] = undefined;
    this.freeSlots.push(sa.slot);
    const list = this.peers.get(sa.peer)!;
    list.splice(list.indexOf(sa), 1);
    if (list.length === 0) this.peers.delete(sa.peer);
    saInternals.retire(sa);
    return true;
  }

  /** Removes every SA (shutdown), wiping every key. Returns how many were removed. */
  removeAll(): number {
    let n = 0;
    for (const sa of this.list()) if (this.remove(sa)) n++;
    return n;
  }
}
