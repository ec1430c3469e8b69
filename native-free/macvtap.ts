/**
 * A Link with no compiled code (DESIGN.md "Two I/O back-ends, one dataplane"): the tunnel
 * interface is one end of a veth pair, and iro reads and writes the other end through a macvtap
 * character device with plain node:fs.
 *
 *   kernel stack ── NAME (host end: identity addresses, routes; NOARP) ══ veth ══ NAME-v
 *                                                                                 └─ NAME-t (macvtap, bridge mode)
 *                                                                                      └─ /dev/tapN ── iro
 *
 * Setup (all iproute2; `openMacvtapLink` lists the exact commands):
 * - The host end is NOARP, has no IPv6 link-local address (addrgenmode none) and takes its
 *   addresses with `noprefixroute`, so the kernel sends nothing of its own into the tunnel (no
 *   ARP, ND, DAD or MLD), as with a TUN interface.
 * - Every route into the tunnel goes `via` a fixed next hop that has a permanent neighbour entry
 *   holding the macvtap's MAC (NEXTHOP_V4, NEXTHOP_V6): frames leave the host end already
 *   addressed to the macvtap, with no neighbour resolution, for any prefix. `addRoute` does it.
 * - gso_max_segs 1 on the host end: the kernel never hands the macvtap a segmentation-offload
 *   super-frame, so every frame read is one IP packet.
 * - Bridge mode lets iro end its own blocked read: a frame written to the device addressed to
 *   the macvtap's own MAC comes straight back to it (drivers/net/macvlan.c, bridge mode).
 *
 * Reading (packet flow):
 *   1 a reader worker thread blocks in read(2), one frame per call, and decodes it in place
 *     (reader-worker.ts, frame.ts); it counts and drops what is not IP                   [worker]
 *   2 IP packets go into a shared ring in kernel order (ring.ts; full ring: drop + count) [worker]
 *   3 the worker posts a message when the ring turns non-empty; onReadable fires         [main]
 *   4 read(batch) copies ring packets into the batch at each slot's headroom             [main]
 * Why a worker: Node has no public way to wait for readiness of a character device (fs.read on
 * a non-blocking descriptor returns EAGAIN with nothing to wait on), and blocking fs.read calls
 * in libuv's pool hold pool threads and, several at once, complete out of order (measured: up
 * to 46 places under CPU load). One dedicated blocking reader keeps the kernel's order and
 * leaves the pool alone.
 *
 * Writing (main thread): each packet gets a zeroed virtio-net header and an Ethernet header (to
 * the host end's MAC, from the macvtap's) and goes out with one fs.writeSync: one write(2) per
 * frame. The device does not block a write for long (the veth hands each frame on at once).
 *
 * Closing: a read blocked in the kernel does not return when the device is deleted, and Node
 * joins worker threads at exit, so close() (and the process 'exit' hook) sets CLOSING and
 * writes a wake-up frame, then closes the descriptor and deletes the veth pair (which deletes the
 * macvtap). A process killed by a signal leaves the interfaces behind: `ip link del NAME`
 * removes them all.
 */
import { closeSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Link } from '../src/io/ports.js';
import { LINK_TAILROOM, ReadySignal } from '../src/io/common.js';
import type { PacketBatch } from '../src/packet/batch.js';
import { IPV6_MIN_MTU } from '../src/packet/constants.js';
import { formatPrefix, normalizePrefix, parsePrefix, type Prefix } from '../src/util/addr.js';
import { aInteger } from '../src/util/assert.js';
import { IroError } from '../src/util/errors.js';
import { silentLogger, type Logger } from '../src/util/log.js';
import {
  etherTypeOf,
  ETH_HLEN,
  ETH_P_IP,
  ETH_P_IPV6,
  ETH_P_LOCAL_EXP1,
  FRAME_HDR_LEN,
  parseMac,
  VLAN_TAG_LEN,
  writeFrameHeader,
} from './frame.js';
import { ip, ipLinkAdd, ipSync, linkInfo, openTapDevice, type TapDevice } from './iproute.js';
import {
  CounterWidener,
  CTL_CLOSING,
  CTL_HEAD,
  CTL_LENGTH,
  CTL_TAIL,
  META_PER_SLOT,
  type ReaderFailure,
  type ReaderInit,
} from './ring.js';

/**
 * Next hops of every route into the tunnel. Link-local (RFC 3927, RFC 4291 §2.5.6): they never
 * appear in a packet, only in the host end's neighbour table, pointing at the macvtap's MAC.
 */
export const NEXTHOP_V4 = '169.254.0.1';
export const NEXTHOP_V6 = 'fe80::1';

export const DEFAULT_QUEUE_CAPACITY = 256;
export const MAX_QUEUE_CAPACITY = 65536;
/** RFC 791: every IPv4 host must take 68-byte datagrams; veth allows at most 65535. */
const MIN_MTU = 68;
const MAX_MTU = 65535;
/** Interface names: at most IFNAMSIZ - 1 bytes, none of '/', ':' or white space. */
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const IFNAME_MAX = 15;
/** Suffixes of the two helper interfaces: NAME-v (veth peer) and NAME-t (macvtap). */
const PEER_SUFFIX = '-v';
const TAP_SUFFIX = '-t';
/** A wake-up frame is resent this often, this many times, while the reader has not stopped. */
const WAKE_RETRY_MS = 200;
const WAKE_ATTEMPTS = 10;
/** Ethernet's minimum frame without FCS (IEEE 802.3 §3.2.9): the size of a wake-up frame. */
const ETH_MIN_FRAME = 60;
const READER_URL = new URL('./reader-worker.js', import.meta.url);

export interface MacvtapLinkOptions {
  /** Name of the tunnel interface users see (the veth's host end), e.g. `iro0`. */
  name: string;
  /** MTU of the tunnel interface (also set on the veth peer and the macvtap). */
  mtu: number;
  /**
   * Identity addresses for the tunnel interface, `ADDR/LEN` or a bare address (host prefix).
   * A shorter prefix also routes the prefix into the tunnel (as a TUN's connected route would).
   */
  addresses: readonly string[];
  log?: Logger;
  /** Packets held between the device and `read(batch)`: a power of two (default 256); beyond it they are dropped and counted. */
  queueCapacity?: number;
  /** Bytes left free after each packet in a batch slot (default LINK_TAILROOM, like TunLink). */
  tailroom?: number;
}

/** What the link saw, for metrics and debugging (monotonic counts since open). */
export interface MacvtapCounters {
  /** Frames read from the device. */
  framesIn: number;
  /** IP packets whose checksum arrived partial (virtio-net NEEDS_CSUM) and was finished. */
  checksumsFinished: number;
  /** IP packets handed to read(batch). */
  packetsIn: number;
  /** Frames neither IPv4 nor IPv6 (and wake-up frames), dropped. */
  nonIp: number;
  /** ARP and IPv6 Neighbor Discovery, dropped: the setup makes them unnecessary. */
  neighbour: number;
  /** Segmentation-offload super-frames, dropped (gso_max_segs 1 prevents them). */
  gso: number;
  /** Frames whose lengths disagree or whose checksum location lies outside the packet. */
  malformed: number;
  /** Frames longer than MTU + headers (the read was cut short), dropped. */
  truncated: number;
  /** IP packets dropped because `queueCapacity` packets were already waiting. */
  queueFull: number;
  /** IP packets dropped by read(batch) because they do not fit a batch slot. */
  oversize: number;
  /** Failed reads. */
  readErrors: number;
  /** Packets written to the device. */
  packetsOut: number;
  /** Packets not written: not IPv4/IPv6, or longer than the MTU (the veth would drop them). */
  invalidOut: number;
  /** Failed writes. */
  writeErrors: number;
}

/** The interfaces and device of one link, as openMacvtapLink made them. */
interface MacvtapParts {
  readonly name: string;
  readonly peerName: string;
  readonly tapName: string;
  readonly mtu: number;
  readonly hostMac: Uint8Array;
  readonly tapMac: Uint8Array;
  readonly device: TapDevice;
}

interface LinkTuning {
  readonly queueCapacity: number;
  readonly tailroom: number;
}

/** A macvtap-backed Link. Made by openMacvtapLink; owns its interfaces until close(). */
export class MacvtapLink implements Link {
  readonly kind = 'macvtap' as const;
  /** The tunnel interface (the veth's host end): addresses and routes live here. */
  readonly name: string;
  /** The veth peer the macvtap sits on. */
  readonly peerName: string;
  /** The macvtap interface. */
  readonly tapName: string;
  /** Path the character device was opened through: /dev/tapN, or a private node (already removed). */
  readonly devicePath: string;
  /** Whether a private node had to be made (the shared /dev/tapN was missing or another device). */
  readonly privateNode: boolean;
  readonly mtu: number;
  /** MAC addresses of the host end and of the macvtap (6 bytes each; do not modify). */
  readonly hostMac: Uint8Array;
  readonly tapMac: Uint8Array;

  private readonly fd: number;
  private readonly log: Logger;
  private readonly tailroom: number;
  private readonly capacity: number;
  private readonly control: Int32Array;
  private readonly meta: Int32Array;
  private readonly store: Buffer;
  private readonly widener: CounterWidener;
  /** Main-thread copy of HEAD (only this thread writes it). */
  private head = 0;
  private readonly reader: Worker;
  private readerRunning = true;
  private readonly readerExited: Promise<void>;
  private readonly signal: ReadySignal;
  /** Frame header templates for IPv4 and IPv6 packets, packet bytes copied in after them. */
  private readonly out4: Buffer;
  private readonly out6: Buffer;
  private packetsIn = 0;
  private oversize = 0;
  private packetsOut = 0;
  private invalidOut = 0;
  private writeErrors = 0;
  private closing = false;
  private tornDown = false;
  private closePromise: Promise<void> | null = null;
  private readonly exitHook = (): void => this.teardownSync();

  /** Takes ownership of `parts.device.fd` and starts reading at once; `log` already names the link. */
  constructor(parts: MacvtapParts, tuning: LinkTuning, log: Logger) {
    this.name = parts.name;
    this.peerName = parts.peerName;
    this.tapName = parts.tapName;
    this.mtu = parts.mtu;
    this.hostMac = parts.hostMac;
    this.tapMac = parts.tapMac;
    this.fd = parts.device.fd;
    this.devicePath = parts.device.path;
    this.privateNode = parts.device.privateNode;
    this.log = log;
    this.tailroom = tuning.tailroom;
    this.capacity = tuning.queueCapacity;

    const readLen = FRAME_HDR_LEN + VLAN_TAG_LEN + this.mtu + 1;
    const slotBytes = (readLen + 7) & ~7;
    const init: ReaderInit = {
      fd: this.fd,
      control: new SharedArrayBuffer(CTL_LENGTH * Int32Array.BYTES_PER_ELEMENT),
      meta: new SharedArrayBuffer(this.capacity * META_PER_SLOT * Int32Array.BYTES_PER_ELEMENT),
      store: new SharedArrayBuffer((this.capacity + 1) * slotBytes),
      capacity: this.capacity,
      slotBytes,
      readLen,
    };
    this.control = new Int32Array(init.control);
    this.meta = new Int32Array(init.meta);
    this.store = Buffer.from(init.store);
    this.widener = new CounterWidener(this.control);
    this.signal = new ReadySignal(() => Atomics.load(this.control, CTL_TAIL) !== this.head);

    this.out4 = Buffer.alloc(FRAME_HDR_LEN + this.mtu);
    this.out6 = Buffer.alloc(FRAME_HDR_LEN + this.mtu);
    writeFrameHeader(this.out4, 0, this.hostMac, this.tapMac, ETH_P_IP);
    writeFrameHeader(this.out6, 0, this.hostMac, this.tapMac, ETH_P_IPV6);

    this.reader = new Worker(READER_URL, { workerData: init, name: `iro macvtap reader ${this.name}` });
    this.reader.on('message', (msg: unknown) => {
      if (typeof msg === 'object' && msg !== null) {
        this.log.error('macvtap reads keep failing; the link stopped reading', { err: (msg as ReaderFailure).failed });
      } else {
        this.signal.notify();
      }
    });
    this.reader.on('error', (err) => this.log.error('macvtap reader failed', { err }));
    this.readerExited = new Promise((resolve) =>
      this.reader.once('exit', () => {
        this.readerRunning = false;
        resolve();
      }),
    );
    process.on('exit', this.exitHook);
  }

  /** What the link saw so far (a fresh snapshot). */
  get counters(): MacvtapCounters {
    this.widener.sync();
    const w = this.widener;
    return {
      framesIn: w.get('framesIn'),
      checksumsFinished: w.get('checksumsFinished'),
      packetsIn: this.packetsIn,
      nonIp: w.get('nonIp'),
      neighbour: w.get('neighbour'),
      gso: w.get('gso'),
      malformed: w.get('malformed'),
      truncated: w.get('truncated'),
      queueFull: w.get('queueFull'),
      oversize: this.oversize,
      readErrors: w.get('readErrors'),
      packetsOut: this.packetsOut,
      invalidOut: this.invalidOut,
      writeErrors: this.writeErrors,
    };
  }

  /**
   * Moves up to `batch.capacity` waiting packets into slots 0..n-1 at the headroom, in the order
   * the kernel delivered them (copies; the link keeps no reference to the batch). A packet longer
   * than `slotSize - headroom - tailroom` is dropped and counted in `oversize`. Sets status 0 and
   * sa -1 on each. Returns `batch.count`.
   */
  read(batch: PacketBatch): number {
    if (this.closing) {
      batch.count = 0;
      return 0;
    }
    const maxLen = batch.slotSize - batch.headroom - this.tailroom;
    const data = Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength);
    const tail = Atomics.load(this.control, CTL_TAIL);
    const mask = this.capacity - 1;
    let h = this.head;
    let n = 0;
    while (n < batch.capacity && h !== tail) {
      const m = (h & mask) * META_PER_SLOT;
      const from = this.meta[m]!;
      const len = this.meta[m + 1]!;
      h = (h + 1) | 0;
      if (len > maxLen) {
        this.oversize++;
        continue;
      }
      const off = batch.slotStart(n) + batch.headroom;
      this.store.copy(data, off, from, from + len);
      batch.offset[n] = off;
      batch.length[n] = len;
      batch.status[n] = 0;
      batch.sa[n] = -1;
      n++;
    }
    this.head = h;
    Atomics.store(this.control, CTL_HEAD, h);
    this.packetsIn += n;
    batch.count = n;
    this.widener.sync();
    this.signal.notify();
    return n;
  }

  /**
   * `cb` runs once per event-loop turn while packets are waiting, as long as the previous call
   * read (a reader that leaves packets behind is called again; one that reads nothing is called
   * again when the next packet arrives into an empty ring). Replaces any earlier callback.
   */
  onReadable(cb: (() => void) | null): void {
    this.signal.set(cb);
  }

  /**
   * Writes every packet of `batch` whose status is 0, one frame per write(2). Packets that are
   * not IPv4/IPv6 or are longer than the MTU are skipped and counted (`invalidOut`), failed
   * writes counted (`writeErrors`); nothing throws per packet. Returns the number written.
   */
  write(batch: PacketBatch): number {
    if (this.closing) return 0;
    const data = Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength);
    let written = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.status[i] !== 0) continue;
      const off = batch.offset[i]!;
      const len = batch.length[i]!;
      const type = len > 0 && len <= this.mtu ? etherTypeOf(data[off]!) : 0;
      if (type === 0) {
        this.invalidOut++;
        continue;
      }
      const frame = type === ETH_P_IP ? this.out4 : this.out6;
      data.copy(frame, FRAME_HDR_LEN, off, off + len);
      try {
        writeSync(this.fd, frame, 0, FRAME_HDR_LEN + len);
        written++;
      } catch {
        this.writeErrors++;
      }
    }
    this.packetsOut += written;
    return written;
  }

  /**
   * Routes `prefix` (e.g. `198.51.100.0/24`, `2001:db8:5::/48`) into the tunnel:
   * `ip route replace PREFIX via 169.254.0.1 dev NAME onlink` (IPv4) or
   * `ip route replace PREFIX via fe80::1 dev NAME` (IPv6). Host bits are cleared first.
   * `table` puts the route in that routing table instead of main. Throws RangeError for a bad
   * prefix, IroError 'ERR_IO'/PrivilegeError when ip refuses.
   */
  async addRoute(prefix: string, table?: number): Promise<void> {
    await ip(`routing ${prefix} into ${this.name}`, ['route', 'replace', ...routeSpec(prefix, this.name, table)]);
  }

  /** Removes a route added with addRoute. */
  async removeRoute(prefix: string, table?: number): Promise<void> {
    await ip(`removing route ${prefix} from ${this.name}`, ['route', 'del', ...routeSpec(prefix, this.name, table)]);
  }

  /**
   * Stops the reader, closes the device and deletes the veth pair and the macvtap. Idempotent;
   * read() returns 0 and write() writes nothing once it has been called.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.signal.stop();
    Atomics.store(this.control, CTL_CLOSING, 1);
    await this.stopReader();
    if (this.tornDown) return;
    this.tornDown = true;
    process.off('exit', this.exitHook);
    closeSync(this.fd);
    try {
      await ip(`deleting interface ${this.name}`, ['link', 'del', 'dev', this.name]);
    } catch (err) {
      if (!/Cannot find device/i.test((err as Error).message)) throw err;
    }
    this.log.info('macvtap link closed', { ...this.counters });
  }

  /** Ends the reader's blocked read with wake-up frames (resent a few times) and waits for it to exit. */
  private async stopReader(): Promise<void> {
    for (let attempt = 0; attempt < WAKE_ATTEMPTS && this.readerRunning; attempt++) {
      this.writeWakeFrame();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.readerExited, new Promise((resolve) => (timer = setTimeout(resolve, WAKE_RETRY_MS)))]);
      clearTimeout(timer);
    }
    if (this.readerRunning) {
      this.log.error('the macvtap reader did not stop after wake-up frames; closing anyway');
      this.reader.unref();
    }
  }

  /** A frame from and to the macvtap's own MAC: bridge mode loops it back to the blocked reader. */
  private writeWakeFrame(): void {
    const frame = Buffer.alloc(FRAME_HDR_LEN - ETH_HLEN + ETH_MIN_FRAME);
    writeFrameHeader(frame, 0, this.tapMac, this.tapMac, ETH_P_LOCAL_EXP1);
    try {
      writeSync(this.fd, frame);
    } catch (err) {
      this.log.warn('cannot write a macvtap wake-up frame', { err });
    }
  }

  /** The process is exiting without close(): end the blocked read and delete the interfaces, synchronously. */
  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closing = true;
    Atomics.store(this.control, CTL_CLOSING, 1);
    if (this.readerRunning) this.writeWakeFrame();
    closeSync(this.fd);
    ipSync(['link', 'del', 'dev', this.name]);
  }
}

/** `PREFIX via NEXTHOP dev NAME [onlink]` for `ip route` (the prefix gives the family). */
function routeSpec(prefix: string, dev: string, table: number | undefined): string[] {
  const p = parsePrefix(prefix);
  if (!p) throw new RangeError(`route prefix must be ADDR/LEN, got ${JSON.stringify(prefix)}`);
  const text = formatPrefix(normalizePrefix(p));
  const spec = p.addr.length === 4 ? [text, 'via', NEXTHOP_V4, 'dev', dev, 'onlink'] : [text, 'via', NEXTHOP_V6, 'dev', dev];
  return table === undefined ? spec : [...spec, 'table', String(table)];
}

function aIfName(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string`);
  if (!IFNAME_RE.test(v) || v === '.' || v === '..') {
    throw new RangeError(`${name} must be an interface name of 1-15 letters, digits, '_', '.' or '-', got ${JSON.stringify(v)}`);
  }
  return v;
}

function aAddresses(name: string, v: unknown): Prefix[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of strings`);
  return v.map((a, i) => {
    if (typeof a !== 'string') throw new TypeError(`${name}[${i}] must be a string`);
    const p = parsePrefix(a);
    if (!p) throw new RangeError(`${name}[${i}] must be ADDR or ADDR/LEN, got ${JSON.stringify(a)}`);
    return p;
  });
}

/** Helper interface names: NAME-v and NAME-t, NAME cut so that they fit IFNAMSIZ. */
function helperName(name: string, suffix: string): string {
  return name.slice(0, IFNAME_MAX - suffix.length) + suffix;
}

/**
 * Creates the tunnel interface `options.name` in the current network namespace and returns a
 * Link over it, ready to read and write. What it runs (NAME-v and NAME-t are the helpers):
 *
 *   ip link add NAME mtu MTU type veth peer name NAME-v mtu MTU
 *   ip link set dev NAME arp off addrgenmode none gso_max_segs 1
 *   ip link set dev NAME-v addrgenmode none
 *   ip link add link NAME-v name NAME-t mtu MTU type macvtap mode bridge
 *   ip link set dev NAME-t addrgenmode none
 *   (open /dev/tapN, N = ifindex of NAME-t; mknod a private node if that is not the device)
 *   ip link set dev NAME-t up; ip link set dev NAME-v up; ip link set dev NAME up
 *   ip neigh replace 169.254.0.1 lladdr MAC-OF-NAME-t dev NAME nud permanent
 *   ip -6 neigh replace fe80::1 lladdr MAC-OF-NAME-t dev NAME nud permanent
 *   ip addr add ADDR/LEN dev NAME noprefixroute [nodad]        (each address)
 *   ip route replace PREFIX via 169.254.0.1 dev NAME onlink     (each IPv4 address shorter than /32)
 *   ip -6 route replace PREFIX via fe80::1 dev NAME             (each IPv6 address shorter than /128)
 *
 * On failure everything made so far is deleted. Throws TypeError/RangeError for bad options,
 * PrivilegeError (code ERR_PRIVILEGE, with `fix`) without CAP_NET_ADMIN & co., IroError
 * 'ERR_IO' when the kernel has no veth/macvtap support, the name is taken, or a command fails.
 */
export async function openMacvtapLink(options: MacvtapLinkOptions): Promise<MacvtapLink> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const name = aIfName('options.name', options.name);
  const addresses = aAddresses('options.addresses', options.addresses);
  const hasV6 = addresses.some((p) => p.addr.length === 16);
  const mtu = aInteger('options.mtu', options.mtu, hasV6 ? IPV6_MIN_MTU : MIN_MTU, MAX_MTU);
  const queueCapacity = aInteger('options.queueCapacity', options.queueCapacity ?? DEFAULT_QUEUE_CAPACITY, 1, MAX_QUEUE_CAPACITY);
  if ((queueCapacity & (queueCapacity - 1)) !== 0) {
    throw new RangeError(`options.queueCapacity must be a power of two, got ${queueCapacity}`);
  }
  const tuning: LinkTuning = {
    queueCapacity,
    tailroom: aInteger('options.tailroom', options.tailroom ?? LINK_TAILROOM, 0, MAX_MTU),
  };
  const log = (options.log ?? silentLogger).child({ link: name });
  const peerName = helperName(name, PEER_SUFFIX);
  const tapName = helperName(name, TAP_SUFFIX);
  const m = String(mtu);

  await ipLinkAdd(name, 'veth', ['name', name, 'mtu', m, 'type', 'veth', 'peer', 'name', peerName, 'mtu', m]);
  let link: MacvtapLink | null = null;
  try {
    await ip(`configuring ${name}`, ['link', 'set', 'dev', name, 'arp', 'off', 'addrgenmode', 'none', 'gso_max_segs', '1']);
    await ip(`configuring ${peerName}`, ['link', 'set', 'dev', peerName, 'addrgenmode', 'none']);
    await ipLinkAdd(tapName, 'macvtap', ['link', peerName, 'name', tapName, 'mtu', m, 'type', 'macvtap', 'mode', 'bridge']);
    await ip(`configuring ${tapName}`, ['link', 'set', 'dev', tapName, 'addrgenmode', 'none']);
    const host = await linkInfo(name);
    const tap = await linkInfo(tapName);
    const hostMac = parseMac(host.mac);
    const tapMac = parseMac(tap.mac);
    if (!hostMac || !tapMac) throw new IroError('ERR_IO', `unexpected MAC addresses ${host.mac}, ${tap.mac}`);
    const device = await openTapDevice(tapName, tap.ifindex);
    try {
      link = new MacvtapLink({ name, peerName, tapName, mtu, hostMac, tapMac, device }, tuning, log);
    } catch (err) {
      closeSync(device.fd);
      throw err;
    }
    for (const dev of [tapName, peerName, name]) await ip(`bringing ${dev} up`, ['link', 'set', 'dev', dev, 'up']);
    await ip(`adding the IPv4 next hop of ${name}`, [
      'neigh', 'replace', NEXTHOP_V4, 'lladdr', tap.mac, 'dev', name, 'nud', 'permanent',
    ]);
    try {
      await ip(`adding the IPv6 next hop of ${name}`, [
        '-6', 'neigh', 'replace', NEXTHOP_V6, 'lladdr', tap.mac, 'dev', name, 'nud', 'permanent',
      ]);
    } catch (err) {
      if (hasV6) throw err;
      log.warn('no IPv6 next hop: IPv6 routes into the tunnel will not work', { err });
    }
    for (const p of addresses) {
      const text = formatPrefix(p);
      const v6 = p.addr.length === 16;
      await ip(`adding address ${text} to ${name}`, [
        'addr', 'add', text, 'dev', name, 'noprefixroute', ...(v6 ? ['nodad'] : []),
      ]);
      if (p.len < p.addr.length * 8) await link.addRoute(text);
    }
    log.info('macvtap link up', { tap: tapName, device: device.path, privateNode: device.privateNode, mtu });
    return link;
  } catch (err) {
    if (link) await link.close().catch(() => undefined);
    else ipSync(['link', 'del', 'dev', name]);
    throw err;
  }
}
