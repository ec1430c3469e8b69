/**
 * ESP header and trailer framing (RFC 4303 §2), allocation-free: every function takes a buffer
 * and offsets, writes or reads in place, and returns the number of bytes written or a result
 * code. No cryptography here: esp/ seals and opens what these functions frame.
 *
 * Layout of an ESP packet at offset `esp` (RFC 4303 §2.1-2.4, RFC 4106 §3, RFC 7634 §2):
 * ```
 * esp+0   SPI (4)
 * esp+4   Sequence Number, low 32 bits (4)
 * esp+8   IV (8)
 * esp+16  payload | padding 1, 2, 3, ... | Pad Length (1) | Next Header (1)   <- encrypted
 *         ICV (16)
 * ```
 * RFCs: 4303 (ESP), 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP).
 */
import { readU32, writeU32 } from '../util/bytes.js';
import { Drop, type DropReason } from '../util/drop.js';
import {
  ESP_ALIGN,
  ESP_HDR_LEN,
  ESP_ICV_LEN,
  ESP_IV_LEN,
  ESP_OFF_SEQ,
  ESP_OFF_SPI,
  ESP_TRAILER_LEN,
  IPPROTO_NONE,
} from './constants.js';

// ---------------------------------------------------------------------------------------------
// Implementation constants derived from the specification constants

/** Offset of the IV from the start of the ESP header. */
export const ESP_OFF_IV = ESP_HDR_LEN;
/** Offset of the (encrypted) payload from the start of the ESP header; also the headroom a
 * sealer needs in front of the payload. */
export const ESP_OFF_PAYLOAD = ESP_HDR_LEN + ESP_IV_LEN;
/** Most bytes a sealer appends after the payload: alignment padding, trailer and ICV. */
export const ESP_MAX_TAILROOM = ESP_ALIGN - 1 + ESP_TRAILER_LEN + ESP_ICV_LEN;
/** Shortest well-formed ESP packet: header, IV, an empty payload's trailer, ICV. */
export const ESP_MIN_PACKET_LEN = ESP_OFF_PAYLOAD + ESP_TRAILER_LEN + ESP_ICV_LEN;
/** The value result-returning functions give when nothing is to be dropped. */
export const NO_DROP = -1;

// ---------------------------------------------------------------------------------------------
// Header and IV

/** Writes SPI and the low 32 bits of the sequence number at `esp` (RFC 4303 §2.1, §2.2).
 * Returns the bytes written (ESP_HDR_LEN). */
export function writeEspHeader(buf: Uint8Array, esp: number, spi: number, seqLo: number): number {
  writeU32(buf, esp + ESP_OFF_SPI, spi);
  writeU32(buf, esp + ESP_OFF_SEQ, seqLo);
  return ESP_HDR_LEN;
}

export function readEspSpi(buf: Uint8Array, esp: number): number {
  return readU32(buf, esp + ESP_OFF_SPI);
}

export function readEspSeqLo(buf: Uint8Array, esp: number): number {
  return readU32(buf, esp + ESP_OFF_SEQ);
}

/**
 * Writes the 8-byte IV at `esp + ESP_OFF_IV` as the 64-bit sequence number, big-endian.
 * RFC 4106 §3.1 and RFC 7634 §2: the IV must never repeat under a key; a counter is the
 * recommended source, and the ESP sequence number is one (PROTOCOL.md F.1). Returns ESP_IV_LEN.
 */
export function writeEspIvFromSeq(buf: Uint8Array, esp: number, seqHi: number, seqLo: number): number {
  writeU32(buf, esp + ESP_OFF_IV, seqHi);
  writeU32(buf, esp + ESP_OFF_IV + 4, seqLo);
  return ESP_IV_LEN;
}

// ---------------------------------------------------------------------------------------------
// Trailer

/**
 * Pad bytes a payload of `payloadLen` bytes needs so that Pad Length and Next Header end on a
 * 4-byte boundary (RFC 4303 §2.4). AEAD suites need no block padding (RFC 4106 §3.2, RFC 7634
 * §3), so this is 0-3.
 */
export function espPadLength(payloadLen: number): number {
  return (ESP_ALIGN - ((payloadLen + ESP_TRAILER_LEN) % ESP_ALIGN)) % ESP_ALIGN;
}

/** Plaintext length (payload, padding, Pad Length, Next Header) for a payload of `payloadLen`. */
export function espPlaintextLength(payloadLen: number): number {
  return payloadLen + espPadLength(payloadLen) + ESP_TRAILER_LEN;
}

/**
 * Writes padding, Pad Length and Next Header right after a payload of `payloadLen` bytes that
 * ends at `payloadEnd`. RFC 4303 §2.4: pad bytes are 1, 2, 3, ... Returns the bytes written
 * (padding + 2). The caller guarantees ESP_MAX_TAILROOM bytes after `payloadEnd`.
 */
export function writeEspTrailer(buf: Uint8Array, payloadEnd: number, payloadLen: number, nextHeader: number): number {
  const pad = espPadLength(payloadLen);
  for (let i = 0; i < pad; i++) buf[payloadEnd + i] = i + 1;
  buf[payloadEnd + pad] = pad;
  buf[payloadEnd + pad + 1] = nextHeader;
  return pad + ESP_TRAILER_LEN;
}

/** What readEspTrailer found; one caller-owned object reused for many packets. */
export interface EspTrailer {
  /** Payload bytes before the padding. */
  payloadLength: number;
  nextHeader: number;
}

/**
 * Parses the trailer of a decrypted ESP plaintext `buf[pt, pt + ptLen)` into `out`.
 * RFC 4303 §2.4: Pad Length must leave room for itself and Next Header inside the plaintext, and
 * the receiver checks that the pad bytes are 1, 2, 3, ... (Drop.PADDING otherwise). RFC 4303 §2.6:
 * Next Header 59 marks a dummy packet (Drop.DUMMY; `out` is filled all the same).
 * Returns NO_DROP, Drop.MALFORMED (plaintext shorter than the trailer), Drop.PADDING or
 * Drop.DUMMY. Never throws.
 */
export function readEspTrailer(buf: Uint8Array, pt: number, ptLen: number, out: EspTrailer): DropReason | typeof NO_DROP {
  if (ptLen < ESP_TRAILER_LEN) return Drop.MALFORMED;
  const end = pt + ptLen;
  const pad = buf[end - 2]!;
  const payloadLength = ptLen - ESP_TRAILER_LEN - pad;
  if (payloadLength < 0) return Drop.PADDING;
  const padStart = pt + payloadLength;
  for (let i = 0; i < pad; i++) if (buf[padStart + i] !== i + 1) return Drop.PADDING;
  out.payloadLength = payloadLength;
  out.nextHeader = buf[end - 1]!;
  return out.nextHeader === IPPROTO_NONE ? Drop.DUMMY : NO_DROP;
}

// ---------------------------------------------------------------------------------------------
// 64-bit sequence numbers as two u32 halves

/** The 64-bit sequence number (hi, lo) as a bigint (not for the hot path). */
export function seqToBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The high 32 bits of a 64-bit sequence number given as a bigint in [0, 2^64). */
export function seqHiOf(seq: bigint): number {
  return Number(seq >> 32n);
}

/** The low 32 bits of a 64-bit sequence number given as a bigint in [0, 2^64). */
export function seqLoOf(seq: bigint): number {
  return Number(seq & 0xffffffffn);
}
