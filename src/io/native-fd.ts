/**
 * What the addon-backed ports (io/tun.ts, io/udp.ts, io/raw.ts) share: getting the addon with a
 * clear error when it is missing, FdPoller, which
 * turns the addon's one-watch-per-fd into separate readable and writable callbacks, NativeFd
 * (a descriptor with its poller) and NativeSocket, the common part of the two socket Transports.
 */
import { loadNative, loadNativeError, WATCH_READABLE, WATCH_WRITABLE } from '../native/index.js';
import type { NativeAddon, NativeWatch } from '../native/index.js';
import { IroError } from '../util/errors.js';
import { newTransportTally } from './demux.js';
import type { TransportTally } from './ports.js';

/** The addon, or IroError ERR_NATIVE naming the build command when it was not built. */
export function requireNative(): NativeAddon {
  const native = loadNative();
  if (!native) {
    throw new IroError(
      'ERR_NATIVE',
      'the iro native addon is not built (build it with `npm rebuild` or `node-gyp rebuild` in the repository; ' +
        'the native-free back-end needs no addon)',
      { cause: loadNativeError() },
    );
  }
  return native;
}

/**
 * One level-triggered watch over a descriptor. Readable callbacks fire while the fd is readable
 * (the callback must read, or it is called again); the writable callback is armed only while
 * a write is pending (`armWritable`) and fires once per arming.
 * Ownership: the poller owns its watch, not the fd; `close()` stops watching and must come
 * before the fd is closed.
 */
export class FdPoller {
  private readonly native: NativeAddon;
  private readonly fd: number;
  private watch: NativeWatch | null = null;
  private events = 0;
  private readCb: (() => void) | null = null;
  private writeCb: (() => void) | null = null;
  private writeArmed = false;
  private kickScheduled = false;
  private closed = false;

  constructor(native: NativeAddon, fd: number) {
    this.native = native;
    this.fd = fd;
  }

  /** Sets (replaces) the readable callback. */
  onReadable(cb: (() => void) | null): void {
    this.readCb = cb;
    this.update();
  }

  /** Sets (replaces) the writable callback; it fires only after `armWritable`. */
  onWritable(cb: () => void): void {
    this.writeCb = cb;
  }

  /** Waits for the fd to become writable once (after a short write). */
  armWritable(): void {
    this.writeArmed = true;
    this.update();
  }

  /**
   * Calls the readable callback once more from the event loop (setImmediate), readable or not:
   * for data the addon holds back between reads, which no readiness event announces. Several
   * kicks before it runs make one call; none is made while no readable callback is set.
   */
  kick(): void {
    if (this.kickScheduled || this.closed || !this.readCb) return;
    this.kickScheduled = true;
    setImmediate(this.runKick);
  }

  private readonly runKick = (): void => {
    this.kickScheduled = false;
    if (!this.closed) this.readCb?.();
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watch) this.native.unwatch(this.watch);
    this.watch = null;
  }

  private update(): void {
    if (this.closed) return;
    const events = (this.readCb ? WATCH_READABLE : 0) | (this.writeArmed ? WATCH_WRITABLE : 0);
    if (events === this.events) return;
    this.events = events;
    if (this.watch) this.native.rewatch(this.watch, events);
    else this.watch = this.native.watch(this.fd, events, (ready) => this.dispatch(ready));
  }

  private dispatch(ready: number): void {
    if (ready & WATCH_WRITABLE && this.writeArmed) {
      this.writeArmed = false;
      this.update();
      this.writeCb?.();
    }
    if (ready & WATCH_READABLE && !this.closed) this.readCb?.();
  }
}

/**
 * A descriptor of the addon with its poller: owned by this object until close(), which stops
 * watching before the descriptor is closed. Base of TunLink and NativeSocket.
 */
export abstract class NativeFd {
  readonly fd: number;
  protected readonly native: NativeAddon;
  protected readonly poller: FdPoller;
  private closed = false;

  constructor(native: NativeAddon, fd: number) {
    this.native = native;
    this.fd = fd;
    this.poller = new FdPoller(native, fd);
  }

  /** `cb` is called from the event loop while the descriptor is readable (level-triggered), and
   * while the addon holds packets back for the next read (`pending()`). */
  onReadable(cb: (() => void) | null): void {
    this.poller.onReadable(cb);
    if (cb !== null && this.pending()) this.poller.kick();
  }

  /** True while packets already taken from the descriptor wait in this object's receive state
   * for the next read (segments of a super-packet, a coalesced datagram's rest). */
  protected pending(): boolean {
    return false;
  }

  /** To call after each read: keeps the readable callback coming while packets are pending. */
  protected afterRead(): void {
    if (this.pending()) this.poller.kick();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.poller.close();
      this.native.close(this.fd);
    }
    return Promise.resolve();
  }
}

/**
 * The parts of an addon-backed socket Transport that do not depend on UDP vs raw ESP: family,
 * tally, writable notification. Subclasses implement read / write / sendKeepalive.
 */
export abstract class NativeSocket extends NativeFd {
  readonly family: 4 | 6;
  readonly tally: TransportTally = newTransportTally();

  constructor(native: NativeAddon, fd: number, family: 4 | 6) {
    super(native, fd);
    this.family = family;
  }

  onWritable(cb: () => void): void {
    this.poller.onWritable(cb);
  }

  /** Arms the writable callback when a write stopped short of `count`; returns `next`. */
  protected afterWrite(next: number, count: number): number {
    if (next < count) this.poller.armWritable();
    return next;
  }
}
