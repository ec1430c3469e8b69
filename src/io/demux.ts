/**
 * RFC 3948 §2.2 demultiplexing of what arrives on the UDP encapsulation port (PROTOCOL.md B.7,
 * F.24), the one copy every UDP Transport uses (io/udp.ts, io/dgram.ts, io/memory.ts):
 *   - a 1-byte payload 0xFF is a NAT-keepalive (§2.3): tallied, proves nothing about liveness;
 *   - a payload starting with 4 zero bytes carries the non-ESP marker (§2.2): IKE, tallied;
 *   - anything else is ESP (an SPI is never 0, RFC 4303 §2.1), if long enough for SPI and
 *     sequence number; shorter payloads are tallied as malformed.
 * Only ESP stays in the batch.
 */
import type { PacketBatch } from '../packet/batch.js';
import { ESP_HDR_LEN, IPV6_ADDR_LEN, NATT_KEEPALIVE_BYTE, NATT_NON_ESP_MARKER_LEN } from '../packet/constants.js';
import type { TransportTally } from './ports.js';

/** What one datagram on the encapsulation port is. */
export const Encap = { ESP: 0, KEEPALIVE: 1, IKE: 2, MALFORMED: 3 } as const;
export type Encap = (typeof Encap)[keyof typeof Encap];

/** Classifies the `len` bytes at `data[off]` (a UDP payload). Allocation-free. */
export function classifyEncap(data: Uint8Array, off: number, len: number): Encap {
  if (len === 1 && data[off] === NATT_KEEPALIVE_BYTE) return Encap.KEEPALIVE;
  if (len >= NATT_NON_ESP_MARKER_LEN && (data[off]! | data[off + 1]! | data[off + 2]! | data[off + 3]!) === 0) {
    return Encap.IKE;
  }
  return len >= ESP_HDR_LEN ? Encap.ESP : Encap.MALFORMED;
}

/** A fresh all-zero tally. */
export function newTransportTally(): TransportTally {
  return { keepalivesIn: 0, ikeIn: 0, malformedIn: 0 };
}

/**
 * Keeps the ESP packets among the first `n` of `batch` (just received: packet i in slot i),
 * moving each kept packet, with its metadata, down to the first free slot so that packet j stays
 * inside slot j; tallies the rest. Returns the number kept and sets `batch.count`. Kept packets
 * get status 0 and sa -1. Copies only when something before a packet was removed.
 */
export function demuxEncap(batch: PacketBatch, n: number, tally: TransportTally): number {
  return keepWhere(batch, n, tally, true);
}

/**
 * For raw ESP (no encapsulation, so no keepalives or IKE): keeps the packets long enough to
 * hold an ESP header, as demuxEncap does.
 */
export function keepEsp(batch: PacketBatch, n: number, tally: TransportTally): number {
  return keepWhere(batch, n, tally, false);
}

function keepWhere(batch: PacketBatch, n: number, tally: TransportTally, encap: boolean): number {
  const { data, offset, length } = batch;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const len = length[i]!;
    const kind = encap ? classifyEncap(data, offset[i]!, len) : len >= ESP_HDR_LEN ? Encap.ESP : Encap.MALFORMED;
    if (kind === Encap.KEEPALIVE) tally.keepalivesIn++;
    else if (kind === Encap.IKE) tally.ikeIn++;
    else if (kind === Encap.MALFORMED) tally.malformedIn++;
    else {
      if (kept !== i) movePacket(batch, i, kept);
      batch.status[kept] = 0;
      batch.sa[kept] = -1;
      kept++;
    }
  }
  batch.count = kept;
  return kept;
}

/** Bytes per packet in PacketBatch.addr / localAddr. */
const ADDR_STRIDE = IPV6_ADDR_LEN;

/** Moves packet `from` into slot `to` (< from), keeping its place relative to the slot start. */
function movePacket(batch: PacketBatch, from: number, to: number): void {
  const off = batch.offset[from]!;
  const len = batch.length[from]!;
  const newOff = off - batch.slotStart(from) + batch.slotStart(to);
  batch.data.copyWithin(newOff, off, off + len);
  batch.offset[to] = newOff;
  batch.length[to] = len;
  batch.addr.copyWithin(ADDR_STRIDE * to, ADDR_STRIDE * from, ADDR_STRIDE * (from + 1));
  batch.localAddr.copyWithin(ADDR_STRIDE * to, ADDR_STRIDE * from, ADDR_STRIDE * (from + 1));
  batch.family[to] = batch.family[from]!;
  batch.port[to] = batch.port[from]!;
  batch.hopLimit[to] = batch.hopLimit[from]!;
}
