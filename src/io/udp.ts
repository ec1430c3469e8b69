/**
 * Transport over a UDP socket of the native addon: ESP-in-UDP (RFC 3948), many datagrams per
 * call with recvmmsg/sendmmsg. One socket, bound to the wildcard by default, serves every local
 * address: the destination of each received datagram is reported (IP_PKTINFO / IPV6_PKTINFO)
 * and each sent packet may pick its source address (PROTOCOL.md F.18, F.20).
 *
 * RFC 3948: received datagrams are demultiplexed by io/demux.ts (keepalives and IKE are tallied,
 * never returned); over IPv4 the UDP checksum is sent as zero (§3.1.2, SO_NO_CHECK), over IPv6
 * the kernel computes it (RFC 8200 §8.1).
 *
 * Offloads (default on; IRO_OFFLOAD=0 or `offload: false` turns them off): runs of equal-sized
 * packets to one peer leave as UDP GSO messages (one trip through the stack per run; over IPv4
 * these datagrams carry a checksum, as the kernel requires for GSO and RFC 3948 permits), and
 * UDP_GRO lets coalesced runs arrive as one buffer, split here into one packet per slot.
 */
import { PacketBatch } from '../packet/batch.js';
import { NATT_KEEPALIVE_BYTE, NATT_PORT } from '../packet/constants.js';
import { aBoolean, aInteger } from '../util/assert.js';
import type { Logger } from '../util/log.js';
import type { NativeAddon } from '../native/index.js';
import { demuxEncap } from './demux.js';
import { aFamily, DEFAULT_SOCKET_BUFFER, offloadByDefault, TX_ERROR_STATUS, udpBindError } from './common.js';
import { NativeSocket, requireNative } from './native-fd.js';
import type { Transport } from './ports.js';

const KEEPALIVE = Uint8Array.of(NATT_KEEPALIVE_BYTE);
const ANY = new Uint8Array(0);

export interface UdpOptions {
  family: 4 | 6;
  /** Local address to bind; '' (default) binds the wildcard. */
  address?: string;
  /** Local port; default 4500 (RFC 3948), 0 for an ephemeral one. */
  port?: number;
  /** SO_RCVBUF / SO_SNDBUF in bytes; default DEFAULT_SOCKET_BUFFER, 0 leaves the kernel's. */
  rcvbuf?: number;
  sndbuf?: number;
  /** UDP GSO on send and GRO on receive, where the kernel has them (default: offloadByDefault()). */
  offload?: boolean;
  /** Told once when offloads were asked for and the kernel lacks them. */
  log?: Logger;
}

export class UdpTransport extends NativeSocket implements Transport {
  readonly kind = 'udp' as const;
  readonly port: number;
  /** Sends group equal-sized packets into UDP_SEGMENT messages. */
  readonly gso: boolean;
  /** The socket has UDP_GRO: receives go through `rx`. */
  readonly gro: boolean;
  /** A one-packet batch for keepalives, so they never touch the caller's batches. */
  private readonly single = new PacketBatch({ capacity: 1, slotSize: 128, headroom: 0 });
  /** udpRecv's receive state with GRO: datagrams not yet split into the caller's batches. */
  private readonly rx: Uint8Array | null;
  private readonly rxPending: Uint32Array | null;

  constructor(native: NativeAddon, fd: number, family: 4 | 6, port: number, gso = false, gro = false) {
    super(native, fd, family);
    this.port = port;
    this.gso = gso;
    this.gro = gro;
    this.rx = gro ? new Uint8Array(native.udpRxStateBytes) : null;
    this.rxPending = this.rx === null ? null : new Uint32Array(this.rx.buffer, 0, 1);
  }

  /**
   * Receives up to `batch.capacity` datagrams and keeps the ESP ones (io/demux.ts): `offset[i]`
   * at the SPI, peer in `addr`/`family`/`port`, local destination in `localAddr`, status 0,
   * hopLimit 0 (not read for UDP). Returns `batch.count`. May return 0 while more is queued
   * (all non-ESP); the level-triggered onReadable calls back. With GRO, a coalesced buffer
   * becomes its datagrams, one per slot; those that do not fit come first on the next read (the
   * readable callback is called again for them).
   */
  read(batch: PacketBatch): number {
    const n = this.native.udpRecv(
      this.fd,
      batch.data,
      batch.offset,
      batch.length,
      batch.slotSize,
      batch.headroom,
      batch.capacity,
      batch.addr,
      batch.port,
      batch.family,
      batch.localAddr,
      this.rx,
    );
    batch.hopLimit.fill(0, 0, n);
    this.afterRead();
    return demuxEncap(batch, n, this.tally);
  }

  protected override pending(): boolean {
    return this.rxPending !== null && this.rxPending[0] !== 0;
  }

  /**
   * Sends packets start..count-1 whose status is 0 (see Transport.write). Packets the kernel
   * refused get status TX_ERROR_STATUS. Returns the index to resume from; when it is less than
   * `batch.count` the onWritable callback fires once the socket can take more.
   */
  write(batch: PacketBatch, start: number): number {
    const next = this.native.udpSend(
      this.fd,
      batch.data,
      batch.offset,
      batch.length,
      batch.status,
      start,
      batch.count,
      batch.addr,
      batch.port,
      batch.family,
      batch.localAddr,
      TX_ERROR_STATUS,
      this.gso,
    );
    return this.afterWrite(next, batch.count);
  }

  /** Sends one NAT-keepalive (RFC 3948 §2.3). Best effort: a full socket buffer drops it. */
  sendKeepalive(addr: Uint8Array, port: number, localAddr?: Uint8Array): void {
    const b = this.single;
    b.reset();
    b.push(KEEPALIVE);
    b.setAddress(0, addr, port);
    b.setLocalAddress(0, localAddr ?? ANY);
    this.native.udpSend(
      this.fd,
      b.data,
      b.offset,
      b.length,
      b.status,
      0,
      1,
      b.addr,
      b.port,
      b.family,
      b.localAddr,
      TX_ERROR_STATUS,
      false,
    );
  }
}

/**
 * Opens a UDP Transport. Throws IroError ERR_IO when the port is taken (an IKE daemon may hold
 * 4500 with UDP_ENCAP set: PROTOCOL.md F.19) or the address is not local, PrivilegeError for a
 * port below 1024 without CAP_NET_BIND_SERVICE, IroError ERR_NATIVE without the addon.
 */
export function openUdp(options: UdpOptions): UdpTransport {
  const family = aFamily('options.family', options?.family);
  const address = options.address ?? '';
  if (typeof address !== 'string') throw new TypeError('options.address must be a string');
  const port = aInteger('options.port', options.port ?? NATT_PORT, 0, 65535);
  const rcvbuf = aInteger('options.rcvbuf', options.rcvbuf ?? DEFAULT_SOCKET_BUFFER, 0, 0x7fffffff);
  const sndbuf = aInteger('options.sndbuf', options.sndbuf ?? DEFAULT_SOCKET_BUFFER, 0, 0x7fffffff);
  const offload = aBoolean('options.offload', options.offload ?? offloadByDefault());
  const native = requireNative();
  const where = `UDP ${address === '' ? (family === 4 ? '0.0.0.0' : '[::]') : address} port ${port}`;
  let opened: { fd: number; port: number; gso: boolean; gro: boolean };
  try {
    opened = native.udpOpen(family, address, port, rcvbuf, sndbuf, offload);
  } catch (err) {
    throw udpBindError(where, err);
  }
  if (offload && !(opened.gso && opened.gro)) {
    options.log?.warn('the kernel lacks UDP GSO or GRO; this socket goes without them', {
      socket: where,
      gso: opened.gso,
      gro: opened.gro,
    });
  }
  return new UdpTransport(native, opened.fd, family, opened.port, opened.gso, opened.gro);
}
