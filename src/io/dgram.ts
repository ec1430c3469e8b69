/**
 * Transport over node:dgram for the native-free back-end (DESIGN.md "Two I/O back-ends"): the
 * same batch interface as io/udp.ts, at one system call per datagram.
 *
 * What dgram cannot do, and how this module copes (PROTOCOL.md F.20):
 * - it does not report a datagram's local destination (no IP_PKTINFO), so there is one socket
 *   per local address, and a datagram's destination is the address its socket is bound to
 *   (all zero for a wildcard socket); a packet is sent from the socket bound to its `localAddr`;
 * - it cannot set SO_NO_CHECK, so IPv4 datagrams carry a computed UDP checksum where RFC 3948
 *   §3.1.2 says SHOULD send zero; receivers MUST NOT depend on zero, so peers interoperate;
 * - it delivers one 'message' event per datagram and may queue sends past the call, so received
 *   datagrams wait in a bounded queue until read(), and each sent packet is copied first
 *   (the caller reuses its batch as soon as write returns).
 * Socket buffers are set large (recvBufferSize / sendBufferSize): the kernel default loses
 * datagrams in bursts. The kernel still caps them at net.core.rmem_max / wmem_max.
 * RFC 3948 demultiplexing is io/demux.ts, as for every UDP Transport.
 */
import dgram from 'node:dgram';
import type { PacketBatch } from '../packet/batch.js';
import { IPV6_ADDR_LEN, NATT_KEEPALIVE_BYTE, NATT_PORT } from '../packet/constants.js';
import { formatIp, parseIp } from '../util/addr.js';
import { aInteger } from '../util/assert.js';
import { rangeEqual } from '../util/bytes.js';
import { aFamily, DEFAULT_SOCKET_BUFFER, ReadySignal, TX_ERROR_STATUS, udpBindError } from './common.js';
import { demuxEncap, newTransportTally } from './demux.js';
import type { Transport, TransportTally } from './ports.js';

/** Received datagrams held for read() by default; more are dropped and counted. */
export const DEFAULT_QUEUE_LIMIT = 4096;
/** Sends handed to dgram and not yet completed, by default, before write() stops short. */
export const DEFAULT_SEND_LIMIT = 1024;

const KEEPALIVE = Buffer.of(NATT_KEEPALIVE_BYTE);

export interface DgramOptions {
  family: 4 | 6;
  /** Local addresses, one socket each; '0.0.0.0' / '::' binds the wildcard. */
  addresses: readonly string[];
  /** Local port for every socket; default 4500, 0 = ephemeral (the first socket's, for all). */
  port?: number;
  /** Socket buffer sizes in bytes; default DEFAULT_SOCKET_BUFFER. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  queueLimit?: number;
  sendLimit?: number;
}

interface BoundSocket {
  readonly sock: dgram.Socket;
  /** The bound address, 4 or 16 bytes (all zero for the wildcard). */
  readonly addr: Uint8Array;
  readonly wildcard: boolean;
}

interface Received {
  readonly data: Buffer;
  readonly from: Uint8Array;
  readonly port: number;
  readonly via: BoundSocket;
}

export class DgramTransport implements Transport {
  readonly kind = 'udp' as const;
  readonly family: 4 | 6;
  readonly port: number;
  readonly tally: TransportTally = newTransportTally();
  /** Datagrams dropped because the receive queue was full. */
  queueDropped = 0;
  /** Datagrams dropped because they did not fit a batch slot. */
  oversizeDropped = 0;
  /** Sends dgram reported as failed after write() returned (the packet's status is gone by then). */
  sendErrors = 0;
  /** The last socket or send error, for diagnostics. */
  lastError: Error | null = null;

  private readonly sockets: readonly BoundSocket[];
  private readonly queueLimit: number;
  private readonly sendLimit: number;
  private queue: Received[] = [];
  private head = 0;
  private inFlight = 0;
  private readonly readable = new ReadySignal(() => this.head < this.queue.length);
  private writeCb: (() => void) | null = null;
  private writePending = false;
  private closed = false;
  /** The last source string parsed and the last destination formatted (peers are few). */
  private lastFromText = '';
  private lastFrom: Uint8Array = new Uint8Array(0);
  private readonly lastTo = new Uint8Array(IPV6_ADDR_LEN);
  private lastToText = '';

  constructor(family: 4 | 6, port: number, sockets: readonly BoundSocket[], queueLimit: number, sendLimit: number) {
    this.family = family;
    this.port = port;
    this.sockets = sockets;
    this.queueLimit = queueLimit;
    this.sendLimit = sendLimit;
    for (const s of sockets) {
      s.sock.on('message', (msg, rinfo) => this.onMessage(s, msg, rinfo));
      s.sock.on('error', (err) => {
        this.lastError = err;
      });
    }
  }

  /**
   * Moves up to `batch.capacity` queued datagrams into the batch and keeps the ESP ones
   * (io/demux.ts); metadata as UdpTransport.read, `localAddr` being the receiving socket's
   * address. Returns `batch.count`.
   */
  read(batch: PacketBatch): number {
    const room = batch.slotSize - batch.headroom;
    let n = 0;
    while (n < batch.capacity && this.head < this.queue.length) {
      const e = this.queue[this.head++]!;
      if (e.data.length > room) {
        this.oversizeDropped++;
        continue;
      }
      const off = batch.slotStart(n) + batch.headroom;
      batch.data.set(e.data, off);
      batch.offset[n] = off;
      batch.length[n] = e.data.length;
      batch.setAddress(n, e.from, e.port);
      batch.setLocalAddress(n, e.via.addr);
      batch.hopLimit[n] = 0;
      n++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    this.readable.notify();
    return demuxEncap(batch, n, this.tally);
  }

  onReadable(cb: (() => void) | null): void {
    this.readable.set(cb);
  }

  /**
   * Sends packets start..count-1 whose status is 0, each from the socket bound to its
   * `localAddr` (a wildcard socket, or the first socket when `localAddr` is all zero); a packet
   * no socket can send gets TX_ERROR_STATUS. Returns the index to resume from: short when
   * `sendLimit` sends are in flight, and onWritable fires when half of them completed.
   */
  write(batch: PacketBatch, start: number): number {
    for (let i = start; i < batch.count; i++) {
      if (batch.status[i] !== 0) continue;
      if (this.inFlight >= this.sendLimit) {
        this.writePending = true;
        return i;
      }
      const via = batch.family[i] === this.family ? this.socketFor(batch.localAddr, IPV6_ADDR_LEN * i) : null;
      if (!via) {
        batch.status[i] = TX_ERROR_STATUS;
        continue;
      }
      const off = batch.offset[i]!;
      const copy = Buffer.from(batch.data.subarray(off, off + batch.length[i]!));
      this.send(via, copy, batch.port[i]!, this.toText(batch, i));
    }
    return batch.count;
  }

  onWritable(cb: () => void): void {
    this.writeCb = cb;
  }

  /** Sends one NAT-keepalive (RFC 3948 §2.3) from the socket of `localAddr`. Best effort. */
  sendKeepalive(addr: Uint8Array, port: number, localAddr?: Uint8Array): void {
    const local = new Uint8Array(IPV6_ADDR_LEN);
    if (localAddr) local.set(localAddr);
    const via = this.socketFor(local, 0);
    if (via) this.send(via, KEEPALIVE, port, formatIp(addr));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.readable.stop();
    this.queue = [];
    this.head = 0;
    return Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.sock.close(() => resolve())))).then(
      () => undefined,
    );
  }

  private onMessage(via: BoundSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.queue.length - this.head >= this.queueLimit) {
      this.queueDropped++;
      return;
    }
    const from = this.fromBytes(rinfo.address);
    if (!from) return;
    this.queue.push({ data: msg, from, port: rinfo.port, via });
    this.readable.notify();
  }

  private send(via: BoundSocket, bytes: Buffer, port: number, to: string): void {
    this.inFlight++;
    via.sock.send(bytes, port, to, (err) => {
      this.inFlight--;
      if (err) {
        this.sendErrors++;
        this.lastError = err;
      }
      if (this.writePending && this.inFlight <= this.sendLimit >> 1) {
        this.writePending = false;
        this.writeCb?.();
      }
    });
  }

  /** The socket bound to the address at `local[off..]`: exact match, else a wildcard socket. */
  private socketFor(local: Uint8Array, off: number): BoundSocket | null {
    const len = this.family === 4 ? 4 : IPV6_ADDR_LEN;
    let wildcard: BoundSocket | null = null;
    let any = true;
    for (let k = 0; k < len; k++) if (local[off + k] !== 0) any = false;
    if (any) return this.sockets[0]!;
    for (const s of this.sockets) {
      if (rangeEqual(s.addr, 0, local, off, len)) return s;
      if (s.wildcard) wildcard ??= s;
    }
    return wildcard;
  }

  private fromBytes(text: string): Uint8Array | null {
    if (text !== this.lastFromText) {
      const zone = text.indexOf('%');
      const parsed = parseIp(zone === -1 ? text : text.slice(0, zone));
      if (!parsed) return null;
      this.lastFromText = text;
      this.lastFrom = parsed;
    }
    return this.lastFrom;
  }

  private toText(batch: PacketBatch, i: number): string {
    const off = IPV6_ADDR_LEN * i;
    if (this.lastToText === '' || !rangeEqual(this.lastTo, 0, batch.addr, off, IPV6_ADDR_LEN)) {
      this.lastTo.set(batch.addr.subarray(off, off + IPV6_ADDR_LEN));
      this.lastToText = formatIp(this.lastTo.subarray(0, this.family === 4 ? 4 : IPV6_ADDR_LEN));
    }
    return this.lastToText;
  }
}

/**
 * Binds one dgram socket per address and returns the Transport once all are listening. Throws
 * (rejects) as openUdp does: IroError ERR_IO for a taken port or foreign address, PrivilegeError
 * for a port below 1024 without CAP_NET_BIND_SERVICE. Sockets already bound are closed.
 */
export async function openDgram(options: DgramOptions): Promise<DgramTransport> {
  const family = aFamily('options.family', options?.family);
  if (!Array.isArray(options.addresses) || options.addresses.length === 0) {
    throw new TypeError('options.addresses must be a non-empty array of address strings');
  }
  const addrs = options.addresses.map((a, k) => {
    const bytes = typeof a === 'string' ? parseIp(a) : null;
    if (!bytes || bytes.length !== (family === 4 ? 4 : IPV6_ADDR_LEN)) {
      throw new RangeError(`options.addresses[${k}] must be an IPv${family} address, got ${JSON.stringify(a)}`);
    }
    return { text: a, bytes };
  });
  let port = aInteger('options.port', options.port ?? NATT_PORT, 0, 65535);
  const recvBufferSize = aInteger('options.recvBufferSize', options.recvBufferSize ?? DEFAULT_SOCKET_BUFFER, 1);
  const sendBufferSize = aInteger('options.sendBufferSize', options.sendBufferSize ?? DEFAULT_SOCKET_BUFFER, 1);
  const queueLimit = aInteger('options.queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT, 1);
  const sendLimit = aInteger('options.sendLimit', options.sendLimit ?? DEFAULT_SEND_LIMIT, 2);
  const sockets: BoundSocket[] = [];
  try {
    for (const { text, bytes } of addrs) {
      const sock = dgram.createSocket({
        type: family === 4 ? 'udp4' : 'udp6',
        ipv6Only: family === 6,
        recvBufferSize,
        sendBufferSize,
      });
      const bound: BoundSocket = { sock, addr: bytes, wildcard: bytes.every((b) => b === 0) };
      sockets.push(bound);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ address: text, port, exclusive: true }, () => {
          sock.off('error', reject);
          resolve();
        });
      }).catch((err: unknown) => {
        throw udpBindError(`UDP ${text} port ${port}`, err);
      });
      port = sock.address().port;
    }
  } catch (err) {
    for (const s of sockets) s.sock.close();
    throw err;
  }
  return new DgramTransport(family, port, sockets, queueLimit, sendLimit);
}
