/**
 * UDP header (RFC 768): allocation-free parse and build. The checksum itself is l4checksum.ts's
 * (RFC 768 pseudo-header, RFC 8200 §8.1 for IPv6).
 */

import { readU16, writeU16 } from '../util/bytes.js';
import { UDP_HDR_LEN, UDP_OFF_CHECKSUM, UDP_OFF_DST_PORT, UDP_OFF_LEN, UDP_OFF_SRC_PORT } from './constants.js';

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** The Length field: header plus data. */
  length: number;
  checksum: number;
  /** Absolute offset of the UDP data in the parsed buffer. */
  payloadOffset: number;
  payloadLength: number;
}

/** A zeroed UdpHeader for `parseUdp` to fill; allocate once and reuse it. */
export function newUdpHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: 0, checksum: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Parses the UDP header at `buf[off, off+len)`, `len` being the bytes the IP layer gives the
 * datagram. False when `len` < 8 or the Length field is below 8 or above `len` (RFC 768).
 * `out.payloadOffset` indexes `buf`, valid while `buf` holds the datagram. Never throws, never
 * allocates.
 */
export function parseUdp(buf: Uint8Array, off: number, len: number, out: UdpHeader): boolean {
  if (len < UDP_HDR_LEN || off < 0 || off + len > buf.length) return false;
  const length = readU16(buf, off + UDP_OFF_LEN);
  if (length < UDP_HDR_LEN || length > len) return false;
  out.srcPort = readU16(buf, off + UDP_OFF_SRC_PORT);
  out.dstPort = readU16(buf, off + UDP_OFF_DST_PORT);
  out.length = length;
  out.checksum = readU16(buf, off + UDP_OFF_CHECKSUM);
  out.payloadOffset = off + UDP_HDR_LEN;
  out.payloadLength = length - UDP_HDR_LEN;
  return true;
}

/**
 * Writes an 8-byte UDP header at `buf[off]` for `payloadLength` data bytes and returns the bytes
 * written (8). The checksum field is set to `checksum` (0 = none, allowed over IPv4 only, e.g. for
 * RFC 3948 ESP-in-UDP); fill it afterwards with l4checksum.ts when one is needed.
 */
export function writeUdpHeader(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  checksum = 0,
): number {
  writeU16(buf, off + UDP_OFF_SRC_PORT, srcPort);
  writeU16(buf, off + UDP_OFF_DST_PORT, dstPort);
  writeU16(buf, off + UDP_OFF_LEN, UDP_HDR_LEN + payloadLength);
  writeU16(buf, off + UDP_OFF_CHECKSUM, checksum);
  return UDP_HDR_LEN;
}
