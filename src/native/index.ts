/**
 * Loader and typed surface of iro's N-API addon (C sources beside this file, built by node-gyp
 * from the root binding.gyp during `npm install` / `npm ci`).
 *
 * Conventions of every function here:
 * - Batch functions take the arrays of a PacketBatch (`data`, `offset`, `length`, ...) and move
 *   many packets per call; packet i lives in `data[offset[i], offset[i] + length[i])`.
 * - Nothing blocks: descriptors are non-blocking; `watch` tells when to try again.
 * - Failures that concern the whole call throw an Error with `code` set to the errno name
 *   (e.g. 'EPERM', 'ENOENT') and `syscall` set; per-packet failures are reported in `status`.
 * - The addon may be loaded in worker threads (the AEAD functions run in the pool).
 */
import { createRequire } from 'node:module';

/** Opaque handle to an AEAD context living in native memory (one EVP context, key scheduled once). */
export interface NativeAeadContext {
  readonly __brand: 'NativeAeadContext';
}

/** Opaque handle for a watched descriptor. */
export interface NativeWatch {
  readonly __brand: 'NativeWatch';
}

export const WATCH_READABLE = 1;
export const WATCH_WRITABLE = 2;

export interface NativeAddon {
  /**
   * Opens (creating if needed) a TUN interface: IFF_TUN | IFF_NO_PI, plus IFF_MULTI_QUEUE when
   * `multiQueue`, plus IFF_VNET_HDR when `vnetHdr`. Returns the non-blocking fd and the kernel's
   * name for the device. Call again with the same name to open another queue.
   */
  tunOpen(name: string, multiQueue: boolean, vnetHdr: boolean): { fd: number; name: string };
  /**
   * Reads up to `max` packets (one read(2) each, until EAGAIN) into consecutive slots:
   * packet i is written at `i * slotSize + headroom` and may use at most `slotSize - headroom - tailroom`
   * bytes; `offset[i]`/`length[i]` are set. A longer packet is discarded (never delivered
   * truncated) and counted in `tunOversize()`. Returns the number of packets read.
   */
  tunRead(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    slotSize: number,
    headroom: number,
    tailroom: number,
    max: number,
  ): number;
  /** Packets tunRead discarded because they did not fit a slot, since the addon was loaded. */
  tunOversize(): number;
  /** Writes packets 0..count-1 whose status is 0 (one write(2) each). Returns packets written. */
  tunWrite(fd: number, data: Uint8Array, offset: Uint32Array, length: Uint32Array, status: Uint8Array, count: number): number;

  /**
   * A UDP socket bound to `address`:`port` (address '' or '::' / '0.0.0.0' = any), non-blocking,
   * SO_REUSEADDR, IPV6_V6ONLY for family 6, IP_PKTINFO / IPV6_RECVPKTINFO enabled, receive and send
   * buffers set to the given byte sizes (0 = leave). For IPv4, SO_NO_CHECK is set so the UDP
   * checksum is sent as 0 (RFC 3948 §3.1.2). Returns { fd, port } (port resolved when 0 was asked).
   */
  udpOpen(family: 4 | 6, address: string, port: number, rcvbuf: number, sndbuf: number): { fd: number; port: number };
  /**
   * recvmmsg(2) up to `max` datagrams into slots as tunRead does. For each: source address into
   * `addr[16*i..]` (IPv4 in the first 4 bytes), `family[i]`, source `port[i]`, and the local
   * destination address into `localAddr[16*i..]`. Returns the count.
   */
  udpRecv(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    slotSize: number,
    headroom: number,
    max: number,
    addr: Uint8Array,
    port: Uint16Array,
    family: Uint8Array,
    localAddr: Uint8Array,
  ): number;
  /**
   * sendmmsg(2) of packets 0..count-1 whose status is 0, each to `addr`/`port[i]` of its family,
   * with the source address `localAddr[16*i..]` as IP_PKTINFO / IPV6_PKTINFO when not all zero.
   * Packets the kernel refused get status `errorStatus`. Returns the number sent. Stops early on
   * EAGAIN and returns what was sent; the caller retries the rest when writable.
   */
  udpSend(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    status: Uint8Array,
    start: number,
    count: number,
    addr: Uint8Array,
    port: Uint16Array,
    family: Uint8Array,
    localAddr: Uint8Array,
    errorStatus: number,
  ): number;

  /**
   * A raw IP socket for protocol 50 (ESP) of the family, non-blocking, with IP_PKTINFO /
   * IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT / IP_RECVTTL. Needs CAP_NET_RAW (throws code EPERM).
   */
  rawOpen(family: 4 | 6, rcvbuf: number, sndbuf: number): { fd: number };
  /**
   * Like udpRecv, for the raw socket: the ESP packet (from the SPI on) is placed at the slot's
   * headroom (for IPv4 the kernel-supplied IP header is removed), `port[i]` = 0, `hopLimit[i]` set.
   */
  rawRecv(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    slotSize: number,
    headroom: number,
    max: number,
    addr: Uint8Array,
    family: Uint8Array,
    localAddr: Uint8Array,
    hopLimit: Uint8Array,
  ): number;
  /** Like udpSend, for the raw socket (the kernel builds the IP header; port ignored). */
  rawSend(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    status: Uint8Array,
    start: number,
    count: number,
    addr: Uint8Array,
    family: Uint8Array,
    localAddr: Uint8Array,
    errorStatus: number,
  ): number;

  /** Calls `cb(events)` from the event loop whenever `fd` is ready for any of `events` (level-triggered uv_poll). */
  watch(fd: number, events: number, cb: (events: number) => void): NativeWatch;
  /** Changes the events a watch waits for (0 pauses it). */
  rewatch(w: NativeWatch, events: number): void;
  unwatch(w: NativeWatch): void;
  close(fd: number): void;

  /**
   * An AEAD context on the OpenSSL that Node links: `suite` is 'aes128gcm16' | 'aes192gcm16' |
   * 'aes256gcm16' | 'chacha20poly1305'; `key` excludes the 4-byte `salt`; `esn` makes the AAD
   * 12 bytes (SPI, seq high, seq low) instead of 8 (RFC 4303 §2.2.1, RFC 4106 §5).
   * The key bytes are copied into native memory and wiped there by aeadFree.
   */
  aeadCreate(suite: string, key: Uint8Array, salt: Uint8Array, esn: boolean): NativeAeadContext;
  aeadFree(ctx: NativeAeadContext): void;
  /**
   * Seals packets 0..count-1 whose status is 0 and whose `ctxIndex[i] >= 0`, in place. For each:
   * the ESP header (SPI, seq low) and the 8-byte IV are already at `esp[i]`; the plaintext
   * (payload, padding, pad length, next header) is the `ptLen[i]` bytes at `esp[i] + 16`; the
   * 16-byte ICV is written right after it. AAD = SPI || [seqHi[i] when esn] || seq low.
   * Nonce = salt || IV. `ctxs[ctxIndex[i]]` is the context.
   */
  aeadSeal(
    ctxs: NativeAeadContext[],
    ctxIndex: Int32Array,
    data: Uint8Array,
    esp: Uint32Array,
    ptLen: Uint32Array,
    seqHi: Uint32Array,
    status: Uint8Array,
    count: number,
  ): void;
  /**
   * Opens packets in place: ciphertext of `ptLen[i]` bytes at `esp[i] + 16`, ICV after it.
   * On tag failure sets `status[i] = failStatus` and leaves the bytes undefined. Returns the
   * number of packets that verified.
   */
  aeadOpen(
    ctxs: NativeAeadContext[],
    ctxIndex: Int32Array,
    data: Uint8Array,
    esp: Uint32Array,
    ptLen: Uint32Array,
    seqHi: Uint32Array,
    status: Uint8Array,
    count: number,
    failStatus: number,
  ): number;
}

let cached: NativeAddon | null | undefined;
let loadError: unknown;

/**
 * The addon, or null when it was not built (the native-free back-end still works).
 * `loadNativeError()` tells why it is missing.
 */
export function loadNative(): NativeAddon | null {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  const candidates = ['../../../build/Release/iro_native.node', '../../../build/Debug/iro_native.node'];
  for (const c of candidates) {
    try {
      cached = require(c) as NativeAddon;
      return cached;
    } catch (err) {
      loadError = err;
    }
  }
  cached = null;
  return cached;
}

export function loadNativeError(): unknown {
  return loadError;
}
