/**
 * Transport over a raw IP socket for protocol 50 of the native addon: bare ESP (RFC 4303)
 * without UDP encapsulation, many packets per call. The kernel builds the outer IP header on
 * send (source chosen per packet with IP_PKTINFO / IPV6_PKTINFO); on receive the addon strips
 * the IPv4 header (IPv6 raw sockets deliver none) and reports source, destination and outer hop
 * limit (PROTOCOL.md C.3, F.21).
 *
 * Needs CAP_NET_RAW; openRaw turns its absence into a PrivilegeError with the exact fix.
 * Every raw ESP socket of a network namespace sees every ESP packet addressed to it: run one.
 */
import type { PacketBatch } from '../packet/batch.js';
import { aInteger } from '../util/assert.js';
import { PrivilegeError } from '../util/errors.js';
import type { NativeAddon } from '../native/index.js';
import { keepEsp } from './demux.js';
import { aFamily, DEFAULT_SOCKET_BUFFER, errnoCode, ioError, TX_ERROR_STATUS } from './common.js';
import { NativeSocket, requireNative } from './native-fd.js';
import type { Transport } from './ports.js';

export const RAW_FIX_NO_CAPABILITY = 'run as root or grant CAP_NET_RAW (in a container: --cap-add NET_RAW)';

export interface RawOptions {
  family: 4 | 6;
  /** SO_RCVBUF / SO_SNDBUF in bytes; default DEFAULT_SOCKET_BUFFER, 0 leaves the kernel's. */
  rcvbuf?: number;
  sndbuf?: number;
}

export class RawTransport extends NativeSocket implements Transport {
  readonly kind = 'esp' as const;
  readonly port = 0;

  constructor(native: NativeAddon, fd: number, family: 4 | 6) {
    super(native, fd, family);
  }

  /**
   * Receives up to `batch.capacity` ESP packets: `offset[i]` at the SPI, outer source in
   * `addr`/`family`, outer destination in `localAddr`, outer TTL / hop limit in `hopLimit`,
   * port 0, status 0. Packets too short for an ESP header are tallied as malformed. Returns
   * `batch.count`.
   */
  read(batch: PacketBatch): number {
    const n = this.native.rawRecv(
      this.fd,
      batch.data,
      batch.offset,
      batch.length,
      batch.slotSize,
      batch.headroom,
      batch.capacity,
      batch.addr,
      batch.family,
      batch.localAddr,
      batch.hopLimit,
    );
    batch.port.fill(0, 0, n);
    return keepEsp(batch, n, this.tally);
  }

  /** As UdpTransport.write, without ports. */
  write(batch: PacketBatch, start: number): number {
    const next = this.native.rawSend(
      this.fd,
      batch.data,
      batch.offset,
      batch.length,
      batch.status,
      start,
      batch.count,
      batch.addr,
      batch.family,
      batch.localAddr,
      TX_ERROR_STATUS,
    );
    return this.afterWrite(next, batch.count);
  }

  /** NAT-keepalives exist only for UDP encapsulation (RFC 3948 §2.3): nothing to send. */
  sendKeepalive(): void {}
}

/** Opens a raw ESP socket. Throws PrivilegeError without CAP_NET_RAW, IroError otherwise. */
export function openRaw(options: RawOptions): RawTransport {
  const family = aFamily('options.family', options?.family);
  const rcvbuf = aInteger('options.rcvbuf', options.rcvbuf ?? DEFAULT_SOCKET_BUFFER, 0, 0x7fffffff);
  const sndbuf = aInteger('options.sndbuf', options.sndbuf ?? DEFAULT_SOCKET_BUFFER, 0, 0x7fffffff);
  const native = requireNative();
  try {
    return new RawTransport(native, native.rawOpen(family, rcvbuf, sndbuf).fd, family);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EPERM' || code === 'EACCES') {
      throw new PrivilegeError(`a raw ESP socket (IPv${family}) needs CAP_NET_RAW`, RAW_FIX_NO_CAPABILITY, {
        cause: err,
      });
    }
    throw ioError(`cannot open a raw ESP socket (IPv${family})`, err);
  }
}
