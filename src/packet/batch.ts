/**
 * PacketBatch: a fixed-capacity batch of packets held in ONE ArrayBuffer, so a whole batch,
 * metadata included, crosses to a worker thread with a single transfer (moved, never cloned).
 *
 * Layout of the buffer: [metadata arrays][slot 0][slot 1]...[slot capacity-1].
 * Slot i spans `data[i*slotSize, (i+1)*slotSize)`. A packet read from a Link or Transport is
 * placed at `slotStart(i) + headroom`, so ESP and outer headers can be written in front of it in
 * place (STYLE 1). `offset[i]`/`length[i]` always give the packet's current bytes in `data`.
 *
 * Ownership: whoever holds the PacketBatch owns every view of it. After `buffer` is transferred
 * to another thread all views here are detached; rebuild them with `PacketBatch.wrap`.
 */

export interface BatchLayout {
  /** Maximum number of packets. */
  readonly capacity: number;
  /** Bytes per slot (room for headroom + packet + ESP trailer and ICV). */
  readonly slotSize: number;
  /** Bytes kept free at the start of each slot for headers written in front of the packet. */
  readonly headroom: number;
}

/** Bytes of headroom the data path needs: outer IPv6 (40) + UDP (8) + ESP header (8) + IV (8). */
export const DEFAULT_HEADROOM = 64;
/** Slot size for packets up to a 1500-byte MTU plus headroom and ESP tailroom. */
export const DEFAULT_SLOT_SIZE = 2048;
export const DEFAULT_BATCH_CAPACITY = 64;

/** Bytes of per-packet metadata. Keep in step with the views built in the constructor. */
const META_BYTES_PER_PACKET = 4 + 4 + 4 + 4 + 4 + 2 + 1 + 1 + 1 + 1 + 16 + 16;
const HEADER_BYTES = 16;

function align8(n: number): number {
  return (n + 7) & ~7;
}

export function batchByteLength(layout: BatchLayout): number {
  return align8(HEADER_BYTES + layout.capacity * META_BYTES_PER_PACKET) + layout.capacity * layout.slotSize;
}

export class PacketBatch {
  readonly buffer: ArrayBuffer;
  readonly capacity: number;
  readonly slotSize: number;
  readonly headroom: number;
  /** All slots; packet i is `data.subarray(offset[i], offset[i] + length[i])`. */
  readonly data: Uint8Array;
  /** Start of packet i within `data`. */
  readonly offset: Uint32Array;
  /** Length of packet i in bytes. */
  readonly length: Uint32Array;
  /** Security association slot chosen for packet i, or -1. */
  readonly sa: Int32Array;
  /** ESP sequence number of packet i: low and high 32 bits. */
  readonly seqLo: Uint32Array;
  readonly seqHi: Uint32Array;
  /** Peer UDP port (outer source on receive, destination on send), 0 for raw ESP. */
  readonly port: Uint16Array;
  /** 0 = keep, otherwise DropReason + 1. */
  readonly status: Uint8Array;
  /** Next Header of the ESP payload (after open) or to put in the trailer (before seal). */
  readonly nextHeader: Uint8Array;
  /** Address family of `addr`/`localAddr`: 4, 6, or 0 when unset. */
  readonly family: Uint8Array;
  /** Outer hop limit / TTL seen on receive (0 when unknown). */
  readonly hopLimit: Uint8Array;
  /** Peer address, 16 bytes per packet (IPv4 uses the first 4): outer source on receive, destination on send. */
  readonly addr: Uint8Array;
  /** Local address, 16 bytes per packet: outer destination on receive, source to use on send (all zero = any). */
  readonly localAddr: Uint8Array;
  private readonly header: Uint32Array;

  constructor(layout: BatchLayout, buffer?: ArrayBuffer) {
    const { capacity, slotSize, headroom } = layout;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new RangeError('batch capacity must be an integer between 1 and 4096');
    }
    if (!Number.isInteger(slotSize) || slotSize < 128 || slotSize % 8 !== 0) {
      throw new RangeError('batch slotSize must be a multiple of 8 and at least 128');
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom >= slotSize) {
      throw new RangeError('batch headroom must be an integer below slotSize');
    }
    const total = batchByteLength(layout);
    if (buffer && buffer.byteLength !== total) {
      throw new RangeError(`batch buffer must be ${total} bytes for this layout, got ${buffer.byteLength}`);
    }
    this.buffer = buffer ?? new ArrayBuffer(total);
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.headroom = headroom;
    const n = capacity;
    let o = 0;
    this.header = new Uint32Array(this.buffer, o, HEADER_BYTES / 4);
    o += HEADER_BYTES;
    this.offset = new Uint32Array(this.buffer, o, n);
    o += 4 * n;
    this.length = new Uint32Array(this.buffer, o, n);
    o += 4 * n;
    this.sa = new Int32Array(this.buffer, o, n);
    o += 4 * n;
    this.seqLo = new Uint32Array(this.buffer, o, n);
    o += 4 * n;
    this.seqHi = new Uint32Array(this.buffer, o, n);
    o += 4 * n;
    this.port = new Uint16Array(this.buffer, o, n);
    o += 2 * n;
    this.status = new Uint8Array(this.buffer, o, n);
    o += n;
    this.nextHeader = new Uint8Array(this.buffer, o, n);
    o += n;
    this.family = new Uint8Array(this.buffer, o, n);
    o += n;
    this.hopLimit = new Uint8Array(this.buffer, o, n);
    o += n;
    this.addr = new Uint8Array(this.buffer, o, 16 * n);
    o += 16 * n;
    this.localAddr = new Uint8Array(this.buffer, o, 16 * n);
    o += 16 * n;
    o = align8(o);
    this.data = new Uint8Array(this.buffer, o, n * slotSize);
  }

  /** Rebuilds the views over a buffer that came back from another thread. */
  static wrap(layout: BatchLayout, buffer: ArrayBuffer): PacketBatch {
    return new PacketBatch(layout, buffer);
  }

  get layout(): BatchLayout {
    return { capacity: this.capacity, slotSize: this.slotSize, headroom: this.headroom };
  }

  /** Number of packets in the batch (stored in the buffer, so it travels with it). */
  get count(): number {
    return this.header[0]!;
  }

  set count(n: number) {
    this.header[0] = n;
  }

  slotStart(i: number): number {
    return i * this.slotSize;
  }

  /** Last byte (exclusive) packet i may grow to. */
  slotEnd(i: number): number {
    return (i + 1) * this.slotSize;
  }

  /** Packet i as a view (valid until the batch is reused or transferred). */
  packet(i: number): Uint8Array {
    return this.data.subarray(this.offset[i]!, this.offset[i]! + this.length[i]!);
  }

  /** Empties the batch and resets every packet to its default placement and metadata. */
  reset(): void {
    this.count = 0;
    for (let i = 0; i < this.capacity; i++) {
      this.offset[i] = i * this.slotSize + this.headroom;
      this.length[i] = 0;
      this.status[i] = 0;
      this.sa[i] = -1;
    }
  }

  /** Appends a copy of `bytes` at the default placement of the next slot; returns its index. */
  push(bytes: Uint8Array): number {
    const i = this.count;
    if (i >= this.capacity) throw new RangeError('batch is full');
    if (this.headroom + bytes.length > this.slotSize) throw new RangeError('packet does not fit in a batch slot');
    const off = i * this.slotSize + this.headroom;
    this.data.set(bytes, off);
    this.offset[i] = off;
    this.length[i] = bytes.length;
    this.status[i] = 0;
    this.sa[i] = -1;
    this.count = i + 1;
    return i;
  }

  /** The peer address of packet i as a fresh array of 4 or 16 bytes (not for the hot path). */
  addressOf(i: number): Uint8Array {
    return this.addr.slice(16 * i, 16 * i + (this.family[i] === 4 ? 4 : 16));
  }

  /** Sets the peer address and port of packet i. */
  setAddress(i: number, address: Uint8Array, port = 0): void {
    this.addr.fill(0, 16 * i, 16 * i + 16);
    this.addr.set(address, 16 * i);
    this.family[i] = address.length === 4 ? 4 : 6;
    this.port[i] = port;
  }

  /** Sets the local (source) address of packet i; an empty array means "any". */
  setLocalAddress(i: number, address: Uint8Array): void {
    this.localAddr.fill(0, 16 * i, 16 * i + 16);
    this.localAddr.set(address, 16 * i);
  }
}
