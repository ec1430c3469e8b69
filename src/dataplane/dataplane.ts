/**
 * The dataplane: the two pipelines of DESIGN.md "Data flow", batch-shaped from end to end.
 *
 * outbound (Link -> wire)
 *   1 read a batch from the Link, or from the internal queue (signalling) [seq] pumpOutbound
 *   2 parse; SPD lookup on identities: PROTECT / BYPASS / DISCARD      [seq] prepareOutbound
 *   3 pick the SA; assign ESP sequence numbers; frame (header, IV, pad) [seq] prepareOutbound
 *   4 locator mapping: outer src/dst = the SA's locators                 [seq] prepareOutbound
 *   5 seal in the crypto pool, one task per batch                        [par] crypto.run
 *   6 in submit order: home-tunnel re-injection, counters                [seq] emitOutbound
 *   7 send the batch on its transport(s), resuming after EAGAIN          [seq] flushOutbound
 * inbound (wire -> Link)
 *   1 read a batch from a Transport, or from the internal queue          [seq] pumpInbound
 *   2 SAD lookup by SPI only; replay check (no side effect)              [seq] prepareInbound
 *   3 open (decrypt + verify) in the crypto pool                         [par] crypto.run
 *   4 in submit order: replay re-check and commit, only after the tag    [seq] finishInbound
 *   5 trailer; restore identities (transport/IRO); SA selector check     [seq] finishInbound
 *   6 Mobility Header -> signalling; nested ESP -> internal queue        [seq] finishInbound
 *   7 write the batch to the Link                                        [seq] finishInbound
 *
 * Sequence numbers are assigned here, on the main thread, in packet order; workers never own a
 * counter (STYLE 4). Every drop is counted by reason (per direction and, when the SA is known,
 * per SA); nothing on these paths throws per packet. Backpressure: when `maxInflight` batches are
 * in flight in a direction, reading stops until one completes; nothing is dropped for it.
 */
import type { Link, Transport } from '../io/ports.js';
import type { CryptoRunner } from '../pool/index.js';
import { espCheck, espFinish, espSealPrepare, newEspInbound } from '../esp/sa-crypto.js';
import type { PacketBatch } from '../packet/batch.js';
import {
  ESP_HDR_LEN,
  ESP_ICV_LEN,
  ESP_IV_LEN,
  ESP_SPI_MIN,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_MH,
  IPV4_MIN_HDR_LEN,
  IPV6_HDR_LEN,
  IPV6_OFF_NEXT_HDR,
  NATT_PORT,
} from '../packet/constants.js';
import { extractFlow, newFlowTuple } from '../packet/flow.js';
import { LifetimeState } from '../sad/lifetime.js';
import type { Encapsulation, SecurityAssociation } from '../sad/sa.js';
import type { Sad } from '../sad/sad.js';
import type { Spd } from '../spd/spd.js';
import { readU16, readU32, rangeEqual } from '../util/bytes.js';
import { Drop, newDropTally, type DropReason } from '../util/drop.js';
import type { Logger } from '../util/log.js';
import { BatchPool } from './batches.js';
import { isIpv4Fragment, nestedEspOffset, restoreIdentities, tunnelInnerLength, wrapEsp } from './framing.js';
import { OrderedStage } from './ordered.js';
import { ReservationGuard } from './reserve.js';
import type {
  DataplaneOptions,
  DataplanePeer,
  HandoverSink,
  MhSink,
  PolicyTarget,
  TransportTable,
  WireAddress,
} from './types.js';

/** Bytes of an ESP packet around the plaintext: header, IV, ICV. */
const ESP_OVERHEAD = ESP_HDR_LEN + ESP_IV_LEN + ESP_ICV_LEN;
/** Offset of the payload from the start of the ESP header. */
const ESP_PAYLOAD_OFF = ESP_HDR_LEN + ESP_IV_LEN;
/** Status of a packet the dataplane took over (signalling, nested ESP): not a drop. */
const STATUS_CONSUMED = 255;
/** Status of a packet hidden from one transport's write while another transport sends. */
const STATUS_OTHER_TRANSPORT = 254;
/** Sequence numbers reserved ahead of a batch when a reservation has to be extended. */
const RESERVE_AHEAD = 4096;
/** Address bytes per packet in PacketBatch.addr / localAddr. */
const ADDR_STRIDE = 16;
/** How many packets the internal queues hold before further injections are dropped. */
const INTERNAL_QUEUE_LIMIT = 4096;

function status(reason: DropReason): number {
  return reason + 1;
}

/** Writes `src` (4 or 16 bytes; null = none) zero-padded into the 16-byte address slot at
 * `dst[at]`. A plain loop: per packet, the builtin fill/set calls cost more than the copy. */
function putAddress(dst: Uint8Array, at: number, src: Uint8Array | null): void {
  const n = src === null ? 0 : src.length;
  for (let k = 0; k < n; k++) dst[at + k] = src![k]!;
  for (let k = n; k < ADDR_STRIDE; k++) dst[at + k] = 0;
}

/** A packet generated inside iro (signalling) waiting for the outbound pipeline. */
interface InternalOut {
  readonly packet: Uint8Array;
  readonly from: WireAddress | undefined;
  readonly to: WireAddress | undefined;
}

/** Nested ESP found after decapsulation, waiting for the inbound pipeline. */
interface InternalIn {
  readonly esp: Uint8Array;
  readonly src: WireAddress;
  readonly dst: WireAddress;
}

/** A sealed batch on its way to the wire: which transport each packet takes, and progress. */
interface EmitJob {
  batch: PacketBatch;
  transports: Transport[];
  which: Uint8Array;
  /** Index into `transports` being written, and the next packet for it. */
  t: number;
  start: number;
}

/** The last outer address pair an inbound payload SA saw, for handover timing. */
interface PathState {
  readonly pair: Uint8Array;
  at: number;
}

export interface DataplaneCounters {
  tunReadPackets: number;
  tunReadBytes: number;
  tunWrittenPackets: number;
  tunWrittenBytes: number;
  readonly dropsOut: Float64Array;
  readonly dropsIn: Float64Array;
}

export class Dataplane {
  readonly counters: DataplaneCounters = {
    tunReadPackets: 0,
    tunReadBytes: 0,
    tunWrittenPackets: 0,
    tunWrittenBytes: 0,
    dropsOut: newDropTally(),
    dropsIn: newDropTally(),
  };
  private readonly link: Link;
  private readonly transports: TransportTable;
  private readonly crypto: CryptoRunner;
  private readonly sad: Sad;
  private readonly spd: Spd<PolicyTarget>;
  private readonly identities: readonly Uint8Array[];
  private readonly listenPort: number;
  private readonly maxInflight: number;
  private readonly reservationOf: DataplaneOptions['reservation'];
  private readonly onMh: MhSink;
  private readonly onHandover: HandoverSink | undefined;
  private readonly log: Logger;
  private readonly now: () => number;

  private readonly flow = newFlowTuple();
  private readonly inbound = newEspInbound();
  private readonly outBatches: BatchPool;
  private readonly inBatches: BatchPool;
  private readonly outStage: OrderedStage;
  private readonly inStage: OrderedStage;
  private readonly emitQueue: EmitJob[] = [];
  private readonly internalOut: InternalOut[] = [];
  private readonly internalIn: InternalIn[] = [];
  /** Overrides of the packets of the internal batch being prepared (index = packet). */
  private readonly overrides: (InternalOut | undefined)[] = [];
  private readonly guards: (ReservationGuard | null | undefined)[] = [];
  private readonly peerBySlot: (DataplanePeer | undefined)[] = [];
  private readonly paths: (PathState | undefined)[] = [];
  private readonly zero16 = new Uint8Array(ADDR_STRIDE);
  private running = false;
  private linkPaused = false;
  private transportsPaused = false;
  private outScheduled = false;
  private inScheduled = false;

  constructor(options: DataplaneOptions) {
    this.link = options.link;
    this.transports = options.transports;
    this.crypto = options.crypto;
    this.sad = options.sad;
    this.spd = options.spd;
    this.identities = options.identities;
    this.listenPort = options.listenPort;
    if (!Number.isInteger(options.maxInflight) || options.maxInflight < 1) {
      throw new RangeError('options.maxInflight must be a positive integer');
    }
    this.maxInflight = options.maxInflight;
    this.reservationOf = options.reservation;
    this.onMh = options.onMh;
    this.onHandover = options.onHandover;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    // Batches: those in flight, plus one being filled, plus those waiting for the wire.
    this.outBatches = new BatchPool(options.layout, options.maxInflight + 2);
    this.inBatches = new BatchPool(options.layout, options.maxInflight + 2);
    this.outStage = new OrderedStage(
      (b) => this.crypto.run('seal', b),
      (b) => this.emitOutbound(b),
      (n, err) => this.lostBatch('out', n, err),
    );
    this.inStage = new OrderedStage(
      (b) => this.crypto.run('open', b),
      (b) => this.finishInbound(b),
      (n, err) => this.lostBatch('in', n, err),
    );
    for (const peer of options.peers) this.indexPeer(peer);
  }

  /** Records which peer each of `peer`'s SA slots belongs to (call again after a rekey). */
  indexPeer(peer: DataplanePeer): void {
    for (const sa of [peer.payloadOut, peer.payloadIn, peer.signalOut, peer.signalIn]) this.peerBySlot[sa.slot] = peer;
  }

  /** The peer an SA slot belongs to. */
  peerOf(slot: number): DataplanePeer | undefined {
    return this.peerBySlot[slot];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.link.onReadable(this.pumpOutbound);
    for (const t of this.transports.all) {
      t.onReadable(() => this.pumpInbound(t));
      t.onWritable(this.flushOutbound);
    }
  }

  /** Stops reading; batches in flight still complete. Resolves when both pipelines are idle or
   * after `timeoutMs`. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.running = false;
    this.link.onReadable(null);
    for (const t of this.transports.all) t.onReadable(null);
    const deadline = this.now() + timeoutMs;
    while ((this.outStage.inflight > 0 || this.inStage.inflight > 0 || this.emitQueue.length > 0) && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Queues an IP packet generated inside iro (a Mobility Header message) for the outbound
   * pipeline: it is classified and protected like any packet from the Link. `from`/`to` override
   * the SA's locators for this packet only (a CoA test to a claimed CoA, a BU from a new CoA).
   * The packet is copied. Returns false when the queue is full (the caller's retransmission
   * covers it).
   */
  sendInternal(packet: Uint8Array, from?: WireAddress, to?: WireAddress): boolean {
    if (this.internalOut.length >= INTERNAL_QUEUE_LIMIT) {
      this.counters.dropsOut[Drop.QUEUE_FULL]! += 1;
      return false;
    }
    this.internalOut.push({ packet: packet.slice(), from, to });
    this.scheduleOutbound();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  private scheduleOutbound(): void {
    if (this.outScheduled) return;
    this.outScheduled = true;
    setImmediate(() => {
      this.outScheduled = false;
      this.pumpOutbound();
    });
  }

  /** Step 1: reads batches while there is room in flight. */
  private readonly pumpOutbound = (): void => {
    if (!this.running) return;
    for (;;) {
      if (this.outStage.inflight + this.emitQueue.length >= this.maxInflight) return this.pauseLink();
      const batch = this.outBatches.take();
      if (batch === null) return this.pauseLink();
      const internal = this.internalOut.length > 0;
      const n = internal ? this.fillInternalOut(batch) : this.link.read(batch);
      if (n === 0) {
        this.outBatches.put(batch);
        this.resumeLink();
        return;
      }
      if (!internal) {
        const { length } = batch;
        let bytes = 0;
        for (let i = 0; i < n; i++) bytes += length[i]!;
        this.counters.tunReadPackets += n;
        this.counters.tunReadBytes += bytes;
      }
      this.prepareOutbound(batch, internal);
      this.outStage.submit(batch);
      // A batch that did not fill means the source was drained (ports read until EAGAIN):
      // stop here rather than pay one more empty read before this batch goes out. Readiness
      // is level-triggered, so whatever arrives meanwhile calls back.
      if (n < batch.capacity) return;
    }
  };

  private pauseLink(): void {
    if (this.linkPaused) return;
    this.linkPaused = true;
    this.link.onReadable(null);
  }

  private resumeLink(): void {
    if (!this.linkPaused || !this.running) return;
    this.linkPaused = false;
    this.link.onReadable(this.pumpOutbound);
  }

  private fillInternalOut(batch: PacketBatch): number {
    const n = Math.min(this.internalOut.length, batch.capacity);
    batch.count = 0;
    for (let i = 0; i < n; i++) {
      const item = this.internalOut.shift()!;
      batch.push(item.packet);
      this.overrides[i] = item;
    }
    return n;
  }

  /** Steps 2-4 for every packet of `batch`. */
  private prepareOutbound(batch: PacketBatch, internal: boolean): void {
    const now = this.now();
    const flow = this.flow;
    const { data, offset, length, status: st, sa: slots, seqHi, seqLo, addr, localAddr, family, port } = batch;
    const n = batch.count;
    for (let i = 0; i < n; i++) {
      const off = offset[i]!;
      const len = length[i]!;
      const override = internal ? this.overrides[i] : undefined;
      if (!extractFlow(data, off, len, flow)) {
        st[i] = status(Drop.MALFORMED);
        continue;
      }
      const policy = this.spd.lookupOutbound(flow);
      if (policy === null) {
        st[i] = status(Drop.NO_POLICY);
        continue;
      }
      if (policy.action !== 'protect') {
        // The Link only carries what is routed into it; a packet that is not to be protected
        // has no other way out from here (RFC 4301 §5.1: BYPASS traffic is not ours to send).
        st[i] = status(policy.action === 'discard' ? Drop.POLICY_DISCARD : Drop.NO_ROUTE);
        continue;
      }
      const target = policy.ref!;
      const peer = target.peer;
      const sa = target.sa === 'signal' ? peer.signalOut : peer.payloadOut;
      let pOff: number;
      let pLen: number;
      let nh: number;
      if (sa.mode === 'tunnel') {
        pOff = off;
        pLen = len;
        nh = flow.family === 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
      } else {
        // Transport mode: the receiver rebuilds the fixed IP header from the SA's identities
        // (PROTOCOL.md C.3). Over IPv6 everything after the fixed header travels inside ESP,
        // extension headers included, so a Fragment header reaches the receiver's kernel with
        // its fragment and is reassembled there (iro's choice: RFC 4303 §3.1.1 would leave it
        // in clear, which the kernel-built outer header of our sockets cannot carry). An IPv4
        // header's fragment fields and options cannot be rebuilt: such packets are refused.
        if (flow.family === 4) {
          if (isIpv4Fragment(data, off)) {
            st[i] = status(Drop.FRAGMENT);
            continue;
          }
          if (flow.l4Offset !== IPV4_MIN_HDR_LEN) {
            st[i] = status(Drop.UNSUPPORTED);
            continue;
          }
          pOff = off + IPV4_MIN_HDR_LEN;
          nh = flow.proto;
        } else {
          pOff = off + IPV6_HDR_LEN;
          nh = data[off + IPV6_OFF_NEXT_HDR]!;
        }
        pLen = len - (pOff - off);
      }
      const to = override?.to?.addr ?? sa.peerLocator ?? (sa.mode === 'transport' ? sa.identities.peer : null);
      if (to === null) {
        st[i] = status(Drop.NO_ROUTE);
        sa.countDrop(Drop.NO_ROUTE);
        continue;
      }
      if (sa.lifetimeState(now) === LifetimeState.HARD) {
        st[i] = status(Drop.SA_EXPIRED);
        sa.countDrop(Drop.SA_EXPIRED);
        continue;
      }
      const seq = sa.seq!;
      if (!seq.next()) {
        st[i] = status(Drop.SEQ_EXHAUSTED);
        sa.countDrop(Drop.SEQ_EXHAUSTED);
        continue;
      }
      this.ensureReserved(sa, seq.hi, seq.lo);
      const ptLen = espSealPrepare(data, pOff, pLen, nh, sa.spi, seq.hi, seq.lo);
      offset[i] = pOff - ESP_PAYLOAD_OFF;
      length[i] = ptLen + ESP_OVERHEAD;
      slots[i] = sa.slot;
      seqHi[i] = seq.hi;
      seqLo[i] = seq.lo;
      const a = i * ADDR_STRIDE;
      putAddress(addr, a, to);
      family[i] = to.length === 4 ? 4 : 6;
      port[i] = override?.to !== undefined && override.to.port !== 0 ? override.to.port : sa.peerPort;
      // "Safe by default": while a correspondent has not verified our CoA, our payload to it
      // leaves from the HoA, i.e. through the home tunnel (emitOutbound re-injects it).
      const from =
        override?.from?.addr ?? (peer.viaHome && sa === peer.payloadOut ? sa.identities.local : sa.localLocator);
      putAddress(localAddr, a, from);
    }
    if (internal) this.overrides.length = 0;
  }

  /** Restart safety: never send a number the state file does not cover (state/index.ts). */
  private ensureReserved(sa: SecurityAssociation, hi: number, lo: number): void {
    let guard = this.guards[sa.slot];
    if (guard === undefined) {
      const r = this.reservationOf(sa);
      guard = r === undefined ? null : new ReservationGuard(r);
      this.guards[sa.slot] = guard;
    }
    if (guard !== null && !guard.covers(hi, lo)) guard.extend(hi, lo, RESERVE_AHEAD);
  }

  /** Forgets cached per-SA state of a slot (call when an SA is removed or replaced). */
  forgetSlot(slot: number): void {
    this.guards[slot] = undefined;
    this.paths[slot] = undefined;
    this.peerBySlot[slot] = undefined;
  }

  /** Step 6: in submit order. */
  private emitOutbound(batch: PacketBatch): void {
    const { status: st, sa: slots, length, addr, localAddr, family } = batch;
    const n = batch.count;
    const transports: Transport[] = [];
    const which = new Uint8Array(n);
    // The transport of the previous packet: a batch mostly goes one way.
    let pickedEncap: Encapsulation | null = null;
    let pickedFamily = 0;
    let picked: Transport | null = null;
    let pickedIndex = 0;
    for (let i = 0; i < n; i++) {
      if (st[i] !== 0) continue;
      const sa = this.sad.bySlot(slots[i]!);
      if (sa === undefined) {
        st[i] = status(Drop.NO_SA);
        continue;
      }
      const peer = this.peerBySlot[sa.slot];
      const a = i * ADDR_STRIDE;
      if (peer !== undefined && peer.viaHome && rangeEqual(localAddr, a, sa.identities.local, 0, sa.identities.local.length)) {
        this.reinjectViaHome(batch, i, sa);
        continue;
      }
      const fam = family[i] === 4 ? 4 : 6;
      if (sa.encapsulation !== pickedEncap || fam !== pickedFamily) {
        pickedEncap = sa.encapsulation;
        pickedFamily = fam;
        picked = this.transports.pick(pickedEncap, fam);
        if (picked !== null) {
          pickedIndex = transports.indexOf(picked);
          if (pickedIndex === -1) pickedIndex = transports.push(picked) - 1;
        }
      }
      if (picked === null) {
        st[i] = status(Drop.NO_ROUTE);
        sa.countDrop(Drop.NO_ROUTE);
        continue;
      }
      which[i] = pickedIndex;
      sa.packets++;
      sa.bytes += length[i]!;
      if (fam === 4) for (let j = a + 4; j < a + ADDR_STRIDE; j++) addr[j] = 0;
    }
    this.emitQueue.push({ batch, transports, which, t: 0, start: 0 });
    this.flushOutbound();
  }

  /** Wraps packet i (sealed ESP) in IP/UDP from our identity and feeds it back to the outbound
   * pipeline, where the SPD sends it through the home tunnel. */
  private reinjectViaHome(batch: PacketBatch, i: number, sa: SecurityAssociation): void {
    const a = i * ADDR_STRIDE;
    const n = sa.identities.local.length;
    const dst = batch.addr.slice(a, a + (batch.family[i] === 4 ? 4 : 16));
    if (dst.length !== n) {
      batch.status[i] = status(Drop.NO_ROUTE);
      sa.countDrop(Drop.NO_ROUTE);
      return;
    }
    const udp = sa.encapsulation === 'udp';
    const at = wrapEsp(batch.data, batch.offset[i]!, batch.length[i]!, sa.identities.local, dst, udp, this.listenPort, batch.port[i] || NATT_PORT);
    const end = batch.offset[i]! + batch.length[i]!;
    sa.packets++;
    sa.bytes += batch.length[i]!;
    batch.status[i] = STATUS_CONSUMED;
    if (this.internalOut.length >= INTERNAL_QUEUE_LIMIT) {
      this.counters.dropsOut[Drop.QUEUE_FULL]! += 1;
      return;
    }
    this.internalOut.push({ packet: batch.data.slice(at, end), from: undefined, to: undefined });
    this.scheduleOutbound();
  }

  /** Step 7: writes queued batches in order; an EAGAIN leaves the rest for `onWritable`. */
  private readonly flushOutbound = (): void => {
    while (this.emitQueue.length > 0) {
      const job = this.emitQueue[0]!;
      const { batch, transports, which } = job;
      const n = batch.count;
      const st = batch.status;
      for (; job.t < transports.length; job.t++) {
        const t = transports[job.t]!;
        const only = transports.length === 1;
        if (!only) for (let i = 0; i < n; i++) if (st[i] === 0 && which[i] !== job.t) st[i] = STATUS_OTHER_TRANSPORT;
        const next = t.write(batch, job.start);
        if (!only) for (let i = 0; i < n; i++) if (st[i] === STATUS_OTHER_TRANSPORT) st[i] = 0;
        if (next < n) {
          job.start = next;
          return;
        }
        job.start = 0;
      }
      this.emitQueue.shift();
      this.countDrops(batch, this.counters.dropsOut);
      this.outBatches.put(batch);
    }
    if (this.linkPaused) {
      this.resumeLink();
      this.pumpOutbound();
    }
  };

  // -------------------------------------------------------------------------------------------
  // Inbound

  private scheduleInbound(): void {
    if (this.inScheduled) return;
    this.inScheduled = true;
    setImmediate(() => {
      this.inScheduled = false;
      this.pumpInbound(null);
    });
  }

  /** Step 1: reads batches from `t` (null: the internal queue) while there is room in flight. */
  private pumpInbound(t: Transport | null): void {
    if (!this.running) return;
    for (;;) {
      if (this.inStage.inflight >= this.maxInflight) return this.pauseTransports();
      const batch = this.inBatches.take();
      if (batch === null) return this.pauseTransports();
      const n = t === null ? this.fillInternalIn(batch) : t.read(batch);
      if (n === 0) {
        this.inBatches.put(batch);
        return;
      }
      this.prepareInbound(batch);
      this.inStage.submit(batch);
      if (n < batch.capacity) return; // drained, as in pumpOutbound
    }
  }

  private pauseTransports(): void {
    if (this.transportsPaused) return;
    this.transportsPaused = true;
    for (const t of this.transports.all) t.onReadable(null);
  }

  private resumeTransports(): void {
    if (!this.transportsPaused || !this.running) return;
    this.transportsPaused = false;
    for (const t of this.transports.all) t.onReadable(() => this.pumpInbound(t));
  }

  private fillInternalIn(batch: PacketBatch): number {
    const n = Math.min(this.internalIn.length, batch.capacity);
    batch.count = 0;
    for (let i = 0; i < n; i++) {
      const item = this.internalIn.shift()!;
      batch.push(item.esp);
      batch.setAddress(i, item.src.addr, item.src.port);
      batch.setLocalAddress(i, item.dst.addr);
      batch.hopLimit[i] = 0;
    }
    return n;
  }

  /** Step 2 for every packet of `batch`. */
  private prepareInbound(batch: PacketBatch): void {
    const inb = this.inbound;
    const { data, offset, length, status: st, sa: slots, seqHi, seqLo } = batch;
    const n = batch.count;
    for (let i = 0; i < n; i++) {
      slots[i] = -1;
      const off = offset[i]!;
      const len = length[i]!;
      if (len < ESP_HDR_LEN) {
        st[i] = status(Drop.MALFORMED);
        continue;
      }
      const spi = readU32(data, off);
      if (spi < ESP_SPI_MIN) {
        st[i] = status(Drop.SPI_RESERVED);
        continue;
      }
      const sa = this.sad.lookupInbound(spi);
      if (sa === undefined) {
        st[i] = status(Drop.NO_SA);
        continue;
      }
      slots[i] = sa.slot;
      if (!espCheck(data, off, len, sa.esn, sa.replay, 0, inb)) {
        st[i] = status(inb.drop as DropReason);
        continue;
      }
      seqHi[i] = inb.seqHi;
      seqLo[i] = inb.seqLo;
    }
  }

  /** Steps 4-7, in submit order. */
  private finishInbound(batch: PacketBatch): void {
    const now = this.now();
    const inb = this.inbound;
    const flow = this.flow;
    const { data, offset, length, status: st, sa: slots, seqHi, seqLo, hopLimit } = batch;
    const n = batch.count;
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      const sa = slot >= 0 ? this.sad.bySlot(slot) : undefined;
      if (st[i] !== 0) {
        if (sa !== undefined) sa.countDrop((st[i]! - 1) as DropReason);
        continue;
      }
      if (sa === undefined) {
        st[i] = status(Drop.NO_SA);
        continue;
      }
      const replay = sa.replay!;
      // Another batch in flight may have carried the same number: check again, then commit
      // (RFC 4303 §3.4.3: the window moves only after the ICV verified).
      if (replay.check(seqLo[i]!) !== seqHi[i]) {
        st[i] = status(Drop.REPLAY);
        sa.countDrop(Drop.REPLAY);
        continue;
      }
      replay.commit(seqHi[i]!, seqLo[i]!);
      sa.lastAuthRx = now;
      sa.packets++;
      sa.bytes += length[i]!;
      const peer = this.peerBySlot[slot];
      if (peer !== undefined && peer.payloadIn === sa) this.trackPath(batch, i, sa, peer, now);
      const esp = offset[i]!;
      if (!espFinish(data, esp, length[i]!, inb)) {
        st[i] = status(inb.drop as DropReason);
        sa.countDrop(inb.drop as DropReason);
        continue;
      }
      const pOff = inb.payloadOffset;
      const pLen = inb.payloadLength;
      const nh = inb.nextHeader;
      if (sa.mode === 'tunnel') {
        const inner = tunnelInnerLength(data, pOff, pLen, nh);
        if (inner < 0) {
          st[i] = status(Drop.MALFORMED);
          sa.countDrop(Drop.MALFORMED);
          continue;
        }
        offset[i] = pOff;
        length[i] = inner;
      } else {
        const a = i * ADDR_STRIDE;
        const alen = batch.family[i] === 4 ? 4 : 16;
        if (!sa.acceptsOuter(batch.addr, a, batch.localAddr, a, alen)) {
          st[i] = status(Drop.ADDRESS_MISMATCH);
          sa.countDrop(Drop.ADDRESS_MISMATCH);
          continue;
        }
        const at = restoreIdentities(data, pOff, pLen, nh, sa.identities.peer, sa.identities.local, hopLimit[i]!);
        offset[i] = at;
        length[i] = pOff - at + pLen;
      }
      // RFC 4301 §5.2: the restored packet must match the SA's selectors (PROTOCOL.md F.11).
      if (!extractFlow(data, offset[i]!, length[i]!, flow) || !sa.selectors.matchInbound(flow)) {
        st[i] = status(Drop.SELECTOR);
        sa.countDrop(Drop.SELECTOR);
        continue;
      }
      if (sa.mode === 'transport' && nh === IPPROTO_MH && peer !== undefined) {
        st[i] = STATUS_CONSUMED;
        this.deliverMh(batch, i, pOff, pLen, sa, peer);
        continue;
      }
      if (sa.mode === 'tunnel') {
        const nested = nestedEspOffset(data, offset[i]!, length[i]!, flow, this.identities, this.listenPort);
        if (nested >= 0) {
          st[i] = STATUS_CONSUMED;
          this.queueNested(batch, i, nested);
        }
      }
    }
    const written = this.link.write(batch);
    let bytes = 0;
    for (let i = 0; i < n; i++) if (st[i] === 0) bytes += length[i]!;
    this.counters.tunWrittenPackets += written;
    this.counters.tunWrittenBytes += bytes;
    this.countDrops(batch, this.counters.dropsIn);
    this.inBatches.put(batch);
    this.resumeTransports();
    if (this.internalIn.length > 0) this.scheduleInbound();
  }

  /** Handover timing: the gap between the last authenticated packet on the previous outer
   * address pair and the first one on a new pair (the `iro_handover_duration_seconds` source). */
  private trackPath(batch: PacketBatch, i: number, sa: SecurityAssociation, peer: DataplanePeer, now: number): void {
    const a = i * ADDR_STRIDE;
    let p = this.paths[sa.slot];
    if (p === undefined) {
      p = { pair: new Uint8Array(2 * ADDR_STRIDE), at: now };
      p.pair.set(batch.addr.subarray(a, a + ADDR_STRIDE), 0);
      p.pair.set(batch.localAddr.subarray(a, a + ADDR_STRIDE), ADDR_STRIDE);
      this.paths[sa.slot] = p;
      return;
    }
    if (
      !rangeEqual(p.pair, 0, batch.addr, a, ADDR_STRIDE) ||
      !rangeEqual(p.pair, ADDR_STRIDE, batch.localAddr, a, ADDR_STRIDE)
    ) {
      const gap = (now - p.at) / 1000;
      p.pair.set(batch.addr.subarray(a, a + ADDR_STRIDE), 0);
      p.pair.set(batch.localAddr.subarray(a, a + ADDR_STRIDE), ADDR_STRIDE);
      this.onHandover?.(peer, gap);
    }
    p.at = now;
  }

  private deliverMh(batch: PacketBatch, i: number, pOff: number, pLen: number, sa: SecurityAssociation, peer: DataplanePeer): void {
    const a = i * ADDR_STRIDE;
    const fam = batch.family[i] === 4 ? 4 : 6;
    const alen = fam === 4 ? 4 : 16;
    try {
      this.onMh(peer, batch.data.slice(pOff, pOff + pLen), {
        src: { family: fam, addr: batch.addr.slice(a, a + alen), port: batch.port[i]! },
        dst: { family: fam, addr: batch.localAddr.slice(a, a + alen), port: batch.port[i] === 0 ? 0 : this.listenPort },
        identitySrc: sa.identities.peer,
        identityDst: sa.identities.local,
      });
    } catch (err) {
      this.log.error('signalling handler failed', { peer: peer.name, err });
    }
  }

  /** Queues nested ESP (found in a decapsulated packet addressed to us) for inbound processing. */
  private queueNested(batch: PacketBatch, i: number, esp: number): void {
    if (this.internalIn.length >= INTERNAL_QUEUE_LIMIT) {
      this.counters.dropsIn[Drop.QUEUE_FULL]! += 1;
      return;
    }
    const flow = this.flow;
    const alen = flow.family === 4 ? 4 : 16;
    const fam = flow.family === 4 ? 4 : 6;
    const off = batch.offset[i]!;
    const end = off + batch.length[i]!;
    const udp = esp !== off + flow.l4Offset;
    this.internalIn.push({
      esp: batch.data.slice(esp, end),
      src: { family: fam, addr: flow.src.slice(0, alen), port: udp ? readU16(batch.data, off + flow.l4Offset) : 0 },
      dst: { family: fam, addr: flow.dst.slice(0, alen), port: udp ? this.listenPort : 0 },
    });
  }

  // -------------------------------------------------------------------------------------------

  private countDrops(batch: PacketBatch, tally: Float64Array): void {
    const st = batch.status;
    for (let i = 0, n = batch.count; i < n; i++) {
      const s = st[i]!;
      if (s !== 0 && s !== STATUS_CONSUMED) tally[s - 1]! += 1;
    }
  }

  private lostBatch(direction: 'in' | 'out', packets: number, err: unknown): void {
    (direction === 'in' ? this.counters.dropsIn : this.counters.dropsOut)[Drop.INTERNAL]! += packets;
    (direction === 'in' ? this.inBatches : this.outBatches).lost();
    this.log.error('a crypto task failed; its packets are lost', { direction, packets, err });
    if (direction === 'in') this.resumeTransports();
    else this.flushOutbound();
  }

  /** Zero address used where a packet has no local address to force. */
  get anyAddress(): Uint8Array {
    return this.zero16;
  }
}
