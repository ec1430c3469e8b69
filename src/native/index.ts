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
 *   A bad argument throws TypeError (code 'ERR_INVALID_ARG_TYPE') or RangeError (code
 *   'ERR_OUT_OF_RANGE') before any packet is touched. Other codes: 'ERR_INVALID_STATE' (a freed
 *   AEAD context, an unwatched watch), 'ERR_CRYPTO' (OpenSSL failed where it cannot on valid
 *   input), 'ERR_NATIVE' (a Node-API call failed).
 * - A receive call that fails after some packets were read returns those; the error recurs on
 *   the next call.
 * - The addon is context-aware (Node-API 8): it may be loaded in worker threads (the AEAD
 *   functions run in the pool). Handles (AEAD contexts, watches) belong to the thread that made
 *   them.
 *
 * Sources: src/native/*.c; build: binding.gyp at the repository root (target iro_native).
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

/** TUNSETOFFLOAD flags (include/uapi/linux/if_tun.h), as reported by tunOpen's `offloads`. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

/** Process-wide offload counters since the addon was loaded (offloadCounters()). */
export interface OffloadCounters {
  /** Super-packets read from a TUN, and the packets cut from them. */
  tunGsoReads: number;
  tunGsoSegments: number;
  /** Single packets read with a partial checksum that the addon completed. */
  tunChecksumsCompleted: number;
  /** Packets read with a virtio header that could not be used (unknown GSO type, bad headers). */
  tunReadDiscards: number;
  /** Coalesced GSO writes to a TUN, and the packets they carried. */
  tunGsoWrites: number;
  tunGsoWriteSegments: number;
  /** Coalesced writes the kernel refused (their packets were then written one by one). */
  tunGsoRefused: number;
  /** UDP_SEGMENT messages sent, and the datagrams they carried. */
  udpGsoSends: number;
  udpGsoSegments: number;
  /** UDP_SEGMENT messages the kernel refused (their datagrams were then sent one by one). */
  udpGsoRefused: number;
  /** Coalesced datagrams received with UDP_GRO, and the datagrams cut from them. */
  udpGroReads: number;
  udpGroSegments: number;
}

export interface NativeAddon {
  /**
   * Opens (creating if needed) a TUN interface: IFF_TUN | IFF_NO_PI, plus IFF_MULTI_QUEUE when
   * `multiQueue`. With `offload`, also IFF_VNET_HDR (each packet read or written starts with a
   * struct virtio_net_hdr: use tunReadVnet / tunWriteVnet) and TUNSETOFFLOAD with the best set
   * the kernel accepts among TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 (| TUN_F_USO4 | TUN_F_USO6);
   * `offloads` reports it (0: the kernel refused them all; reads then return plain packets
   * behind the header, and coalesced writes still work). Returns the non-blocking fd and the
   * kernel's name for the device (a name with '%d' is completed by the kernel). Call again with
   * the same name and `multiQueue` to open another queue, with the same `offload`: the virtio
   * header is a property of the interface, which the latest attach sets for every queue. The
   * interface disappears when its last queue is closed.
   * Throws ENOENT (open: no /dev/net/tun), EPERM (ioctl: no CAP_NET_ADMIN), EBUSY (ioctl: the
   * single-queue interface is already open), EINVAL (ioctl: queue mode differs from the
   * interface's).
   */
  tunOpen(name: string, multiQueue: boolean, offload: boolean): { fd: number; name: string; vnetHdr: boolean; offloads: number };
  /**
   * Reads up to `max` packets (one read(2) each, until EAGAIN) into consecutive slots:
   * packet i is written at `i * slotSize + headroom` and may use at most `slotSize - headroom - tailroom`
   * bytes; `offset[i]`/`length[i]` are set. A longer packet is discarded (never delivered
   * truncated) and counted in `tunOversize()`. Returns the number of packets read.
   * For a queue opened without `offload`.
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
  /**
   * tunRead for a queue opened with `offload`. A GSO super-packet (TCP, or UDP with USO) is cut
   * into the packets the kernel would have sent, one per slot, each with its own lengths,
   * IPv4 ID, TCP sequence number and flags, and checksums; a packet whose checksum the kernel
   * left partial gets it completed. Segments that do not fit the batch wait in `state` (a
   * Uint8Array of `tunRxStateBytes`, 8-byte aligned, zeroed once and then owned by this queue's
   * reader) and come first on the next call: while they wait, the first 32-bit word of `state`
   * (host order) is nonzero, and the fd may not be readable, so the caller must call again
   * without waiting for readiness. A super-packet whose segments do not fit a slot is
   * discarded and counted in `tunOversize()`; an unusable virtio header in offloadCounters().
   */
  tunReadVnet(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    slotSize: number,
    headroom: number,
    tailroom: number,
    max: number,
    state: Uint8Array,
  ): number;
  /** Bytes of tunReadVnet's `state`. */
  readonly tunRxStateBytes: number;
  /** Packets tunRead discarded because they did not fit a slot, since the addon was loaded. */
  tunOversize(): number;
  /**
   * Datagrams udpRecv/rawRecv discarded since the addon was loaded: longer than the slot
   * (MSG_TRUNC; never delivered cut short) or, on raw IPv4, with an unusable IP header.
   */
  recvDiscarded(): number;
  /**
   * Writes packets 0..count-1 whose status is 0 (one write(2) each). Returns packets written.
   * A packet the kernel refuses (EINVAL: not an IP packet; EIO: link down) is skipped, and not
   * counted as written.
   */
  tunWrite(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    status: Uint8Array,
    count: number,
  ): number;
  /**
   * tunWrite for a queue opened with `offload`. While `txState[0]` is nonzero, TCP segments of
   * one flow with contiguous sequence numbers (same headers as the kernel's GRO requires, every
   * one but the last of the same size, checksums verified) are written as one GSO packet with
   * the TCP checksum left partial; everything else is written alone behind a zero virtio
   * header. Packets of one flow keep their order. When the kernel refuses a coalesced write,
   * its packets are written one by one and `txState[0]` is set to 0. Returns the packets written
   * (a coalesced write counts each packet it carried).
   */
  tunWriteVnet(
    fd: number,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    status: Uint8Array,
    count: number,
    txState: Uint32Array,
  ): number;

  /**
   * A UDP socket bound to `address`:`port` (address '' or '::' / '0.0.0.0' = any), non-blocking,
   * IPV6_V6ONLY for family 6, IP_PKTINFO / IPV6_RECVPKTINFO enabled, receive and send buffers set
   * to the given byte sizes (0 = leave; SO_RCVBUFFORCE / SO_SNDBUFFORCE when permitted, so
   * net.core.rmem_max does not cap them). For IPv4, SO_NO_CHECK is set so the UDP checksum is
   * sent as 0 (RFC 3948 §3.1.2). With `offload`, UDP GSO is probed (`gso`: udpSend may group
   * packets) and UDP_GRO enabled (`gro`: udpRecv needs a `state`); a kernel without them
   * reports false. Returns { fd, port, gso, gro } (port resolved when 0 was asked).
   * No SO_REUSEADDR: a port already taken (another iro, an IKE daemon: PROTOCOL.md F.19) throws
   * EADDRINUSE rather than silently sharing it.
   */
  udpOpen(
    family: 4 | 6,
    address: string,
    port: number,
    rcvbuf: number,
    sndbuf: number,
    offload: boolean,
  ): { fd: number; port: number; gso: boolean; gro: boolean };
  /**
   * recvmmsg(2) up to `max` datagrams into slots as tunRead does (no tailroom: a datagram may
   * use `slotSize - headroom` bytes; longer ones are discarded and counted in recvDiscarded()).
   * For each: source address into `addr[16*i..]` (IPv4 in the first 4 bytes, the rest zeroed),
   * `family[i]`, source `port[i]`, and the local destination address (IP_PKTINFO ipi_addr /
   * IPV6_PKTINFO) into `localAddr[16*i..]`. Returns the count.
   * `state` is null for a socket without UDP_GRO; with it, a Uint8Array of `udpRxStateBytes`
   * (8-byte aligned, zeroed once, owned by this socket's reader): datagrams are received into
   * it and a coalesced one is split into its segments, one per slot, all with the same
   * metadata. What does not fit the batch waits there for the next call; while it waits the
   * first 32-bit word of `state` (host order) is nonzero, and the caller must call again
   * without waiting for readiness.
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
    state: Uint8Array | null,
  ): number;
  /** Bytes of udpRecv's `state`. */
  readonly udpRxStateBytes: number;
  /**
   * sendmmsg(2) of packets start..count-1 whose status is 0, each to `addr`/`port[i]` of
   * `family[i]`, with the source address `localAddr[16*i..]` as IP_PKTINFO ipi_spec_dst /
   * IPV6_PKTINFO ipi6_addr when not all zero. Packets the kernel refused (no route, source not
   * local, too big, family not the socket's) get status `errorStatus` (1-255).
   * With `gso` (a socket whose udpOpen reported gso), runs of packets to the same peer from the
   * same source, all of one size but the last (which may be shorter), up to 64 packets and
   * 64 KiB, go out as one UDP_SEGMENT message; on IPv4 those datagrams carry a UDP checksum
   * (the kernel refuses UDP GSO with SO_NO_CHECK), every other one keeps 0. A run the kernel
   * refuses is sent again one datagram per message.
   * Returns the index to resume from: `count` when every packet was handed to the kernel or
   * marked, less when the socket buffer filled (EAGAIN): call again from there once writable.
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
    gso: boolean,
  ): number;

  /**
   * A raw IP socket for protocol 50 (ESP) of the family, non-blocking; IPv6 with
   * IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT (IPv4 reads both from the delivered IP header).
   * Buffer sizes as udpOpen. Needs CAP_NET_RAW (throws code EPERM). Every raw ESP socket of the
   * network namespace receives a copy of every ESP packet addressed to it.
   */
  rawOpen(family: 4 | 6, rcvbuf: number, sndbuf: number): { fd: number };
  /**
   * Like udpRecv, for the raw socket: the ESP packet (from the SPI on) is placed at the slot's
   * headroom (for IPv4 the kernel-supplied IP header, options included, is removed without
   * copying the packet), `hopLimit[i]` = the outer TTL / hop limit. No port array: raw ESP has
   * none (the caller zeroes its own).
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
  /** Like udpSend, for the raw socket (the kernel builds the IP header, protocol 50). */
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

  /** Offload counters since the addon was loaded (process-wide). */
  offloadCounters(): OffloadCounters;
  /**
   * For tests: does to `frame` (a virtio header, then one packet, as one read of a TUN with
   * IFF_VNET_HDR returns it) what tunReadVnet does, placing the packets in slots from 0 on
   * (at most `max`). Returns how many; 0 when the frame is unusable or its segments do not fit
   * a slot. `frame` is modified (a completed checksum).
   */
  offloadSplit(
    frame: Uint8Array,
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    slotSize: number,
    headroom: number,
    tailroom: number,
    max: number,
  ): number;
  /**
   * For tests: the frames tunWriteVnet (coalescing) would write for packets 0..count-1 of a
   * batch (count at most 256), each a virtio header and a packet, one after the other in `out`,
   * their sizes in `outLength`. Returns the number of frames. Throws RangeError when `out` is
   * too small.
   */
  offloadCoalesce(
    data: Uint8Array,
    offset: Uint32Array,
    length: Uint32Array,
    status: Uint8Array,
    count: number,
    out: Uint8Array,
    outLength: Uint32Array,
  ): number;

  /**
   * Calls `cb(events)` from the event loop whenever `fd` is ready for any of `events`
   * (WATCH_READABLE | WATCH_WRITABLE; level-triggered uv_poll). `events` 0 creates it paused.
   * One watch per fd and thread (a second throws EEXIST): combine events with rewatch. The
   * watch lives until unwatch, whether or not the handle is kept; when the thread's
   * environment ends, open watches are closed. If polling fails, cb gets the awaited events and
   * the next read or write reports the error. An exception thrown by cb is an uncaught exception.
   */
  watch(fd: number, events: number, cb: (events: number) => void): NativeWatch;
  /** Changes the events a watch waits for (0 pauses it). Throws ERR_INVALID_STATE after unwatch. */
  rewatch(w: NativeWatch, events: number): void;
  /** Stops the watch now (the fd may be closed right after) and releases it. Idempotent. */
  unwatch(w: NativeWatch): void;
  /** close(2). Unwatch the fd first. */
  close(fd: number): void;

  /**
   * An AEAD context on the OpenSSL that Node links: `suite` is 'aes128gcm16' | 'aes192gcm16' |
   * 'aes256gcm16' | 'chacha20poly1305'; `key` excludes the 4-byte `salt`; `esn` makes the AAD
   * 12 bytes (SPI, seq high, seq low) instead of 8 (RFC 4303 §2.2.1, RFC 4106 §5).
   * The key bytes are copied into native memory (the key schedule of one EVP_CIPHER_CTX) and
   * wiped there by aeadFree, or by the handle's finalizer if aeadFree is never called.
   * Throws RangeError for an unknown suite or a key/salt of the wrong length.
   */
  aeadCreate(suite: string, key: Uint8Array, salt: Uint8Array, esn: boolean): NativeAeadContext;
  /** Wipes and frees the context now; later use throws ERR_INVALID_STATE. Idempotent. */
  aeadFree(ctx: NativeAeadContext): void;
  /**
   * Seals packets 0..count-1 whose status is 0 and whose `ctxIndex[i] >= 0`, in place. For each:
   * the ESP header (SPI, seq low) and the 8-byte IV are already at `esp[i]`; the plaintext
   * (payload, padding, pad length, next header) is the `ptLen[i]` bytes at `esp[i] + 16`; the
   * 16-byte ICV is written right after it. AAD = SPI || [seqHi[i] when esn] || seq low.
   * Nonce = salt || IV. `ctxs[ctxIndex[i]]` is the context. Every packet is checked (bounds,
   * context) before the first is sealed.
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
