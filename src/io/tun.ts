/**
 * Link over a TUN queue of the native addon (IFF_TUN | IFF_NO_PI, optionally IFF_MULTI_QUEUE):
 * packets are read straight into PacketBatch slots at their headroom and written from them,
 * many per call (STYLE 1). Addresses, routes and MTU of the interface are set with iproute2 by
 * the caller; this module only moves packets.
 *
 * Privileges: creating or attaching to a TUN interface needs /dev/net/tun and CAP_NET_ADMIN;
 * openTun turns their absence into a PrivilegeError whose `fix` says exactly what to do.
 */
import type { PacketBatch } from '../packet/batch.js';
import { aBoolean, aInteger } from '../util/assert.js';
import { PrivilegeError } from '../util/errors.js';
import type { NativeAddon } from '../native/index.js';
import { errnoCode, ioError, LINK_TAILROOM } from './common.js';
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
}

/** One queue of a TUN interface; close() closes the queue, and the interface with its last queue. */
export class TunLink extends NativeFd implements Link {
  readonly kind = 'tun' as const;
  /** The kernel's name for the interface. */
  readonly name: string;
  readonly tailroom: number;

  constructor(native: NativeAddon, fd: number, name: string, tailroom: number) {
    super(native, fd);
    this.name = name;
    this.tailroom = tailroom;
  }

  /**
   * Reads up to `batch.capacity` packets that are ready now into slots 0..n-1 at the headroom,
   * each at most `slotSize - headroom - tailroom` bytes (longer ones are discarded by the addon
   * and counted in its tunOversize()). Sets status 0 and sa -1 on each. Returns `batch.count`.
   */
  read(batch: PacketBatch): number {
    const n = this.native.tunRead(
      this.fd,
      batch.data,
      batch.offset,
      batch.length,
      batch.slotSize,
      batch.headroom,
      this.tailroom,
      batch.capacity,
    );
    batch.status.fill(0, 0, n);
    batch.sa.fill(-1, 0, n);
    batch.count = n;
    return n;
  }

  /** Writes the packets of `batch` whose status is 0; returns how many the kernel took. */
  write(batch: PacketBatch): number {
    return this.native.tunWrite(this.fd, batch.data, batch.offset, batch.length, batch.status, batch.count);
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
  const native = requireNative();
  let opened: { fd: number; name: string };
  try {
    opened = native.tunOpen(options.name, multiQueue, false);
  } catch (err) {
    throw tunOpenError(options.name, err);
  }
  return new TunLink(native, opened.fd, opened.name, tailroom);
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
