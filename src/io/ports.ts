/**
 * The two ports between the dataplane and the outside world (STYLE 1, wireguard-go's tun.Device
 * and conn.Bind): a Link carries identity packets (the TUN side), a Transport carries ESP (the
 * wire side). Both are batch-shaped and never block: `read` returns what is ready now, and
 * `onReadable` says when to try again.
 *
 * Implementations: io/tun.ts (native addon), native-free/ (macvtap + node:fs), io/udp.ts and
 * io/raw.ts (wire), io/memory.ts (in-process fakes for unit tests).
 */
import type { PacketBatch } from '../packet/batch.js';

export type LinkKind = 'tun' | 'macvtap' | 'memory';

export interface Link {
  readonly name: string;
  readonly kind: LinkKind;
  /**
   * Fills `batch` from slot 0 with up to `batch.capacity` packets that are ready now (IP packets,
   * no link-layer header), each at its slot's headroom. Sets and returns `batch.count`.
   */
  read(batch: PacketBatch): number;
  /** `cb` is called (from the event loop) whenever packets may be ready; level-triggered.
   * `null` stops watching (backpressure: the caller reads again after `onReadable(cb)`). */
  onReadable(cb: (() => void) | null): void;
  /** Writes every packet of `batch` whose status is 0. Returns how many were written. */
  write(batch: PacketBatch): number;
  close(): Promise<void>;
}

export type TransportKind = 'udp' | 'esp';

/** What a Transport saw besides ESP packets (RFC 3948 demux), for counters. */
export interface TransportTally {
  keepalivesIn: number;
  ikeIn: number;
  malformedIn: number;
}

export interface Transport {
  readonly kind: TransportKind;
  readonly family: 4 | 6;
  /** Local port (UDP) or 0 (raw ESP). */
  readonly port: number;
  /**
   * Fills `batch` with received ESP packets: `offset[i]` at the SPI, outer source in
   * `addr`/`family`/`port`, outer destination in `localAddr`. NAT-keepalives and non-ESP-marker
   * (IKE) datagrams are not returned; they are tallied.
   */
  read(batch: PacketBatch): number;
  /** As Link.onReadable; `null` stops watching. */
  onReadable(cb: (() => void) | null): void;
  /**
   * Sends packets `start..count-1` whose status is 0: the ESP bytes at offset/length, to
   * `addr`/`port`, from `localAddr` when it is not all zero. Returns the index after the last
   * packet handed to the kernel; less than `count` means the socket is full: call again after
   * `onWritable` fires.
   */
  write(batch: PacketBatch, start: number): number;
  onWritable(cb: () => void): void;
  /** Sends one RFC 3948 NAT-keepalive (a single 0xFF byte) to the peer. */
  sendKeepalive(addr: Uint8Array, port: number, localAddr?: Uint8Array): void;
  readonly tally: TransportTally;
  close(): Promise<void>;
}
