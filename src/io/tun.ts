/**
 * Link over a TUN queue of the native addon (IFF_TUN | IFF_NO_PI, optionally IFF_MULTI_QUEUE):
 * packets are read straight into PacketBatch slots at their headroom and written from them,
 * many per call (STYLE 1). Addresses, routes and MTU of the interface are set with iproute2 by
 * the caller; this module only moves packets.
 *
 * Offloads (default on; IRO_OFFLOAD=0 or `offload: false` turns them off): the queue is opened
 * with IFF_VNET_HDR and TSO (wireguard-go's approach), so the kernel hands over TCP super-packets
 * of up to 64 KiB, which the addon cuts into MTU-sized packets in consecutive slots, and the
 * TCP segments of a flow written in one batch go to the kernel as one coalesced packet. The
 * dataplane still sees ordinary packets, one per slot.
 *
 * Privileges: creating or attaching to a TUN interface needs /dev/net/tun and CAP_NET_ADMIN;
 * openTun turns their absence into a PrivilegeError whose `fix` says exactly what to do.
 */
import type { PacketBatch } from '../packet/batch.js';
import { aBoolean, aInteger } from '../util/assert.js';
import { PrivilegeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { NativeAddon } from '../native/index.js';
import { errnoCode, ioError, LINK_TAILROOM, offloadByDefault } from './common.js';
import { NativeFd, requireNative } from './native-fd.js';
import type { Link } from './ports.js';

/** The exact remedies PrivilegeError carries (also used by the CLI's exit code 77 path). */
export const TUN_FIX_NO_DEVICE =
  'create it: mkdir -p /dev/net && mknod /dev/net/tun c 10 200 (in a container: --device /dev/net/tun)';
export const TUN_FIX_NO_CAPABILITY =
  'run as root or grant CAP_NET_ADMIN (in a container: --cap-add NET_ADMIN --device /dev/net/tun)';
export const TUN_FIX_NO_DRIVER = 'load the TUN driver: modprobe tun';

export interface TunOptions {
  /** Interface name (at most 15 bytes); 'iro%d' lets the kernel pick the number. */
  name: string;
  /** Open one queue of a multi-queue interface (IFF_MULTI_QUEUE); call again for more queues. */
  multiQueue?: boolean;
  /** Bytes to leave free after each packet read (default LINK_TAILROOM). */
  tailroom?: number;
  /** Kernel offloads: super-packets on read, coalesced writes (default: offloadByDefault()).
   * Every queue of one interface must be opened with the same setting. */
  offload?: boolean;
  /** Told (once each) when the kernel refuses an offload and the link goes on without it. */
  log?: Logger;
}

/** What openTun got from the kernel. */
export interface TunOffload {
  /** Packets carry a virtio_net_hdr (IFF_VNET_HDR): reads cut super-packets, writes coalesce. */
  readonly vnetHdr: boolean;
  /** TUNSETOFFLOAD flags the kernel accepted (TUN_F_* of native/index.ts), 0 for none. */
  readonly offloads: number;
}

const NO_OFFLOAD: TunOffload = { vnetHdr: false, offloads: 0 };

/** One queue of a TUN interface; close() closes the queue, and the interface with its last queue. */
export class TunLink extends NativeFd implements Link {
  readonly kind = 'tun' as const;
  /** The kernel's name for the interface. */
  readonly name: string;
  readonly tailroom: number;
  readonly offload: TunOffload;
  /** tunReadVnet's receive state: segments of a super-packet that did not fit the last batch. */
  private readonly rx: Uint8Array | null;
  private readonly rxPending: Uint32Array | null;
  /** tunWriteVnet's state: [0] = coalesce, cleared by the addon when the kernel refuses. */
  private readonly tx = Uint32Array.of(1);
  private readonly log: Logger | undefined;

  constructor(native: NativeAddon, fd: number, name: string, tailroom: number, offload = NO_OFFLOAD, log?: Logger) {
    super(native, fd);
    this.name = name;
    this.tailroom = tailroom;
    this.offload = offload;
    this.log = log;
    this.rx = offload.vnetHdr ? new Uint8Array(native.tunRxStateBytes) : null;
    this.rxPending = this.rx === null ? null : new Uint32Array(this.rx.buffer, 0, 1);
  }

  /**
   * Reads up to `batch.capacity` packets that are ready now into slots 0..n-1 at the headroom,
   * each at most `slotSize - headroom - tailroom` bytes (longer ones are discarded by the addon
   * and counted in its tunOversize()). With offloads, a super-packet becomes its segments, and
   * those that do not fit come first on the next read (the readable callback is called again
   * for them). Sets status 0 and sa -1 on each. Returns `batch.count`.
   */
  read(batch: PacketBatch): number {
    const { data, offset, length, slotSize, headroom, capacity } = batch;
    const n =
      this.rx === null
        ? this.native.tunRead(this.fd, data, offset, length, slotSize, headroom, this.tailroom, capacity)
        : this.native.tunReadVnet(this.fd, data, offset, length, slotSize, headroom, this.tailroom, capacity, this.rx);
    batch.status.fill(0, 0, n);
    batch.sa.fill(-1, 0, n);
    batch.count = n;
    this.afterRead();
    return n;
  }

  /** Writes the packets of `batch` whose status is 0 (with offloads, coalescing TCP segments);
   * returns how many the kernel took. */
  write(batch: PacketBatch): number {
    const { data, offset, length, status, count } = batch;
    if (this.rx === null) return this.native.tunWrite(this.fd, data, offset, length, status, count);
    const coalescing = this.tx[0] !== 0;
    const written = this.native.tunWriteVnet(this.fd, data, offset, length, status, count, this.tx);
    if (coalescing && this.tx[0] === 0) {
      this.log?.warn('the kernel refused a coalesced TUN write; writing packets one by one', { interface: this.name });
    }
    return written;
  }

  protected override pending(): boolean {
    return this.rxPending !== null && this.rxPending[0] !== 0;
  }
}

/**
 * Opens (creating if needed) TUN interface `options.name`, one queue. Throws PrivilegeError
 * (code ERR_PRIVILEGE) when /dev/net/tun is missing or CAP_NET_ADMIN is lacking, IroError
 * ERR_NATIVE when the addon is not built, IroError ERR_IO otherwise (e.g. a single-queue
 * interface that is already open).
 */
export function openTun(options: TunOptions): TunLink {
  if (typeof options?.name !== 'string' || options.name.length === 0) {
    throw new TypeError('options.name must be a non-empty string');
  }
  const multiQueue = aBoolean('options.multiQueue', options.multiQueue ?? false);
  const tailroom = aInteger('options.tailroom', options.tailroom ?? LINK_TAILROOM, 0, 65535);
  const offload = aBoolean('options.offload', options.offload ?? offloadByDefault());
  const native = requireNative();
  let opened: { fd: number; name: string; vnetHdr: boolean; offloads: number };
  try {
    opened = native.tunOpen(options.name, multiQueue, offload);
  } catch (err) {
    throw tunOpenError(options.name, err);
  }
  if (offload && opened.offloads === 0) {
    options.log?.warn('the kernel refused TUN offloads (TUNSETOFFLOAD); reading packets one by one', {
      interface: opened.name,
    });
  }
  const granted = { vnetHdr: opened.vnetHdr, offloads: opened.offloads };
  return new TunLink(native, opened.fd, opened.name, tailroom, granted, options.log);
}

function tunOpenError(name: string, err: unknown): Error {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return new PrivilegeError('cannot open /dev/net/tun: the device node does not exist', TUN_FIX_NO_DEVICE, {
        cause: err,
      });
    case 'EPERM':
    case 'EACCES':
      return new PrivilegeError(`opening TUN interface ${name} needs CAP_NET_ADMIN`, TUN_FIX_NO_CAPABILITY, {
        cause: err,
      });
    case 'ENODEV':
    case 'ENXIO':
      return new PrivilegeError('/dev/net/tun has no driver behind it', TUN_FIX_NO_DRIVER, { cause: err });
    case 'EBUSY':
      return ioError(`TUN interface ${name} is already open (a single-queue interface takes one queue)`, err);
    case 'EINVAL':
      return ioError(`TUN interface ${name} exists with another queue mode or type`, err);
    default:
      return ioError(`cannot open TUN interface ${name}`, err);
  }
}
