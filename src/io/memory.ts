/**
 * In-process fakes of Link and Transport (STYLE 15, after wireguard-go's tuntest and bindtest):
 * two dataplanes joined by a memoryTransportPair, each with a MemoryLink, can ping each other in
 * a unit test with no privileges, no addon and no network.
 *
 * The fakes keep the real ports' contracts: batches are filled from slot 0 at the headroom with
 * status 0; readiness is level-triggered and coalesced per event-loop turn; UDP transports run
 * the same RFC 3948 demux (io/demux.ts) and tally keepalives and IKE; a transport's write stops
 * short when the peer's queue is full and fires onWritable once the peer has read. Everything
 * handed over is copied, so the caller may reuse its batch as soon as a call returns.
 */
import type { PacketBatch } from '../packet/batch.js';
import { IPV6_ADDR_LEN, NATT_KEEPALIVE_BYTE, NATT_PORT } from '../packet/constants.js';
import { aInteger } from '../util/assert.js';
import { rangeEqual } from '../util/bytes.js';
import { aFamily, LINK_TAILROOM, ReadySignal, TX_ERROR_STATUS } from './common.js';
import { demuxEncap, keepEsp, newTransportTally } from './demux.js';
import type { Link, Transport, TransportKind, TransportTally } from './ports.js';

/** Packets a fake holds for its reader by default. */
export const DEFAULT_MEMORY_QUEUE = 1024;

// -------------------------------------------------------------------------------------------
// Link

export interface MemoryLinkOptions {
  name?: string;
  /** Bytes left free after each packet read, as TunLink (default LINK_TAILROOM). */
  tailroom?: number;
}

/** A fake TUN: the test side injects packets and collects what the code under test wrote. */
export class MemoryLink implements Link {
  readonly kind = 'memory' as const;
  readonly name: string;
  readonly tailroom: number;
  /** Packets written while no peer is connected, in order (copies). */
  readonly written: Uint8Array[] = [];
  /** Packets read() discarded because they did not fit a slot (as the addon's tunOversize). */
  oversizeDropped = 0;
  /** The other end of a memoryLinkPair: what this link writes, it reads. */
  peer: MemoryLink | null = null;
  private inbox: Uint8Array[] = [];
  private head = 0;
  private readonly readable = new ReadySignal(() => this.head < this.inbox.length);

  constructor(options: MemoryLinkOptions = {}) {
    this.name = options.name ?? 'mem0';
    this.tailroom = aInteger('options.tailroom', options.tailroom ?? LINK_TAILROOM, 0, 65535);
  }

  /** Queues a copy of `packet` for read(), as if the kernel had routed it into the TUN. */
  inject(packet: Uint8Array): void {
    this.inbox.push(packet.slice());
    this.readable.notify();
  }

  read(batch: PacketBatch): number {
    const room = batch.slotSize - batch.headroom - this.tailroom;
    let n = 0;
    while (n < batch.capacity && this.head < this.inbox.length) {
      const p = this.inbox[this.head++]!;
      if (p.length > room) {
        this.oversizeDropped++;
        continue;
      }
      const off = batch.slotStart(n) + batch.headroom;
      batch.data.set(p, off);
      batch.offset[n] = off;
      batch.length[n] = p.length;
      batch.status[n] = 0;
      batch.sa[n] = -1;
      n++;
    }
    if (this.head === this.inbox.length) {
      this.inbox = [];
      this.head = 0;
    }
    this.readable.notify();
    batch.count = n;
    return n;
  }

  onReadable(cb: (() => void) | null): void {
    this.readable.set(cb);
  }

  write(batch: PacketBatch): number {
    let written = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.status[i] !== 0) continue;
      const p = batch.packet(i).slice();
      if (this.peer) this.peer.inject(p);
      else this.written.push(p);
      written++;
    }
    return written;
  }

  close(): Promise<void> {
    this.readable.stop();
    return Promise.resolve();
  }
}

/** Two links joined back to back: packets written on one are read on the other. */
export function memoryLinkPair(nameA = 'mem0', nameB = 'mem1'): [MemoryLink, MemoryLink] {
  const a = new MemoryLink({ name: nameA });
  const b = new MemoryLink({ name: nameB });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

// -------------------------------------------------------------------------------------------
// Transport

export interface MemoryTransportOptions {
  kind?: TransportKind;
  family: 4 | 6;
  /** This end's local addresses (4 or 16 bytes each); the first is the default source. */
  addresses: readonly Uint8Array[];
  /** UDP port (ignored for kind 'esp', whose port is 0). Default 4500. */
  port?: number;
  /** Datagrams held for read(); a write to a full peer stops short. */
  queueLimit?: number;
}

/** One datagram on the fake wire. */
export interface MemoryDatagram {
  readonly data: Uint8Array;
  readonly from: Uint8Array;
  readonly fromPort: number;
  readonly to: Uint8Array;
}

/** A fake wire socket; join two with memoryTransportPair. */
export class MemoryTransport implements Transport {
  readonly kind: TransportKind;
  readonly family: 4 | 6;
  readonly port: number;
  readonly addresses: readonly Uint8Array[];
  readonly tally: TransportTally = newTransportTally();
  /** Datagrams sent while no peer is connected, in order (copies). */
  readonly sent: MemoryDatagram[] = [];
  /** Datagrams sent to an address or port the peer does not have: lost on the fake wire. */
  undeliverable = 0;
  /** Datagrams read() discarded because they did not fit a slot. */
  oversizeDropped = 0;
  peer: MemoryTransport | null = null;
  private readonly queueLimit: number;
  private inbox: MemoryDatagram[] = [];
  private head = 0;
  private readonly readable = new ReadySignal(() => this.head < this.inbox.length);
  private writeCb: (() => void) | null = null;
  /** The peer is waiting for room in this inbox. */
  private peerBlocked = false;

  constructor(options: MemoryTransportOptions) {
    this.kind = options.kind ?? 'udp';
    this.family = aFamily('options.family', options.family);
    const len = this.family === 4 ? 4 : IPV6_ADDR_LEN;
    if (!Array.isArray(options.addresses) || options.addresses.length === 0) {
      throw new TypeError('options.addresses must be a non-empty array');
    }
    options.addresses.forEach((a, k) => {
      if (!(a instanceof Uint8Array) || a.length !== len) {
        throw new RangeError(`options.addresses[${k}] must be a ${len}-byte address`);
      }
    });
    this.addresses = options.addresses.map((a) => a.slice());
    this.port = this.kind === 'esp' ? 0 : aInteger('options.port', options.port ?? NATT_PORT, 1, 65535);
    this.queueLimit = aInteger('options.queueLimit', options.queueLimit ?? DEFAULT_MEMORY_QUEUE, 1);
  }

  /** Test side: queues a datagram as if it had arrived from `from`:`fromPort` for `to`. */
  deliver(data: Uint8Array, from: Uint8Array, fromPort: number, to: Uint8Array = this.addresses[0]!): void {
    this.inbox.push({ data: data.slice(), from: from.slice(), fromPort, to: to.slice() });
    this.readable.notify();
  }

  read(batch: PacketBatch): number {
    const room = batch.slotSize - batch.headroom;
    let n = 0;
    while (n < batch.capacity && this.head < this.inbox.length) {
      const d = this.inbox[this.head++]!;
      if (d.data.length > room) {
        this.oversizeDropped++;
        continue;
      }
      const off = batch.slotStart(n) + batch.headroom;
      batch.data.set(d.data, off);
      batch.offset[n] = off;
      batch.length[n] = d.data.length;
      batch.setAddress(n, d.from, this.kind === 'esp' ? 0 : d.fromPort);
      batch.setLocalAddress(n, d.to);
      batch.hopLimit[n] = 0;
      n++;
    }
    if (this.head === this.inbox.length) {
      this.inbox = [];
      this.head = 0;
    }
    this.readable.notify();
    if (this.peerBlocked && this.inbox.length - this.head < this.queueLimit) {
      this.peerBlocked = false;
      this.peer?.writeCb?.();
    }
    return this.kind === 'esp' ? keepEsp(batch, n, this.tally) : demuxEncap(batch, n, this.tally);
  }

  onReadable(cb: (() => void) | null): void {
    this.readable.set(cb);
  }

  /**
   * Sends packets start..count-1 whose status is 0. A packet whose `localAddr` is not one of
   * this end's addresses, or whose family differs, gets TX_ERROR_STATUS (the kernel would
   * refuse it). Stops short when the peer's queue is full.
   */
  write(batch: PacketBatch, start: number): number {
    const len = this.family === 4 ? 4 : IPV6_ADDR_LEN;
    for (let i = start; i < batch.count; i++) {
      if (batch.status[i] !== 0) continue;
      const src = batch.family[i] === this.family ? this.source(batch.localAddr, IPV6_ADDR_LEN * i) : null;
      if (!src) {
        batch.status[i] = TX_ERROR_STATUS;
        continue;
      }
      const to = batch.addr.slice(IPV6_ADDR_LEN * i, IPV6_ADDR_LEN * i + len);
      if (!this.transmit(batch.packet(i), src, to, this.kind === 'esp' ? 0 : batch.port[i]!)) return i;
    }
    return batch.count;
  }

  onWritable(cb: () => void): void {
    this.writeCb = cb;
  }

  sendKeepalive(addr: Uint8Array, port: number, localAddr?: Uint8Array): void {
    if (this.kind !== 'udp') return;
    const local = new Uint8Array(IPV6_ADDR_LEN);
    if (localAddr) local.set(localAddr);
    const src = this.source(local, 0);
    if (src) this.transmit(Uint8Array.of(NATT_KEEPALIVE_BYTE), src, addr, port);
  }

  close(): Promise<void> {
    this.readable.stop();
    return Promise.resolve();
  }

  /** Hands one datagram to the peer (copied); false when the peer's queue is full. */
  private transmit(data: Uint8Array, from: Uint8Array, to: Uint8Array, port: number): boolean {
    const peer = this.peer;
    if (!peer) {
      this.sent.push({ data: data.slice(), from, fromPort: this.port, to });
      return true;
    }
    const toPeer = peer.addresses.some((a) => a.length === to.length && rangeEqual(a, 0, to, 0, to.length));
    if (!toPeer || port !== peer.port) {
      this.undeliverable++;
      return true;
    }
    if (peer.inbox.length - peer.head >= peer.queueLimit) {
      peer.peerBlocked = true;
      return false;
    }
    peer.deliver(data, from, this.port, to);
    return true;
  }

  /** This end's address matching `local[off..]`, or the first one when that is all zero. */
  private source(local: Uint8Array, off: number): Uint8Array | null {
    const len = this.family === 4 ? 4 : IPV6_ADDR_LEN;
    let zero = true;
    for (let k = 0; k < len; k++) if (local[off + k] !== 0) zero = false;
    if (zero) return this.addresses[0]!;
    return this.addresses.find((a) => rangeEqual(a, 0, local, off, len)) ?? null;
  }
}

/** Two transports joined by a lossless fake wire; `a` sends to `b`'s addresses and back. */
export function memoryTransportPair(
  a: MemoryTransportOptions,
  b: MemoryTransportOptions,
): [MemoryTransport, MemoryTransport] {
  const ta = new MemoryTransport(a);
  const tb = new MemoryTransport(b);
  if (ta.kind !== tb.kind || ta.family !== tb.family) {
    throw new RangeError('both ends of a memory transport pair must have the same kind and family');
  }
  ta.peer = tb;
  tb.peer = ta;
  return [ta, tb];
}
