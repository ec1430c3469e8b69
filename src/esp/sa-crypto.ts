/**
 * ESP seal and open for one SA direction, in place in a caller-owned buffer (RFC 4303 §3.3 and
 * §3.4 with an AEAD suite, RFC 4106 / RFC 7634). The core returns decisions (STYLE 3): a length,
 * or a DropReason in a caller-owned result object. Nothing here throws per packet or allocates
 * beyond what the AEAD backend forces.
 *
 * Outbound, for one packet (the pool may split 1-2 from 3, see espSealPrepare):
 *   1 the main thread assigned (seqHi, seqLo) from the SA's SequenceCounter         [seq]
 *   2 write ESP header, IV = 64-bit seq, padding 1,2,3..., Pad Length, Next Header    [par]
 *   3 AEAD seal: encrypt in place, ICV after the trailer                             [par]
 *
 * Inbound, for one packet (RFC 4303 §3.4; the pool runs 2 in workers):
 *   1 espCheck: length, low seq, replay pre-check with ESN high-bit inference        [seq]
 *   2 espDecrypt: AEAD open in place, then the trailer (padding, next header)        [par]
 *   3 window.commit(seqHi, seqLo), only when the tag verified                        [seq]
 * espOpen runs all three on one thread.
 */
import { ESP_ICV_LEN } from '../packet/constants.js';
import {
  ESP_MIN_PACKET_LEN,
  ESP_OFF_PAYLOAD,
  espPlaintextLength,
  NO_DROP,
  readEspSeqLo,
  readEspTrailer,
  writeEspHeader,
  writeEspIvFromSeq,
  writeEspTrailer,
  type EspTrailer,
} from '../packet/esp.js';
import { Drop, type DropReason } from '../util/drop.js';
import { REPLAY_REJECT } from './replay.js';
import type { AeadContext, ReplayWindow } from './types.js';

/** What an inbound step decided; one caller-owned object reused for many packets. It is also
 * the EspTrailer that readEspTrailer fills. */
export interface EspInbound extends EspTrailer {
  /** NO_DROP, or why the packet was dropped. */
  drop: DropReason | typeof NO_DROP;
  /** The full 64-bit sequence number: inferred high bits and the low bits from the wire. */
  seqHi: number;
  seqLo: number;
  /** Where the decrypted payload is in the buffer (valid once espDecrypt succeeded). */
  payloadOffset: number;
}

export function newEspInbound(): EspInbound {
  return { drop: NO_DROP, seqHi: 0, seqLo: 0, payloadOffset: 0, payloadLength: 0, nextHeader: 0 };
}

function dropWith(out: EspInbound, reason: DropReason): false {
  out.drop = reason;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Outbound

/**
 * Frames a payload for sealing without doing any cryptography: writes the ESP header and IV in
 * the ESP_OFF_PAYLOAD (16) bytes before `payloadOff` and padding, Pad Length and Next Header after
 * the payload. The caller guarantees 16 bytes of headroom and ESP_MAX_TAILROOM (21) bytes of
 * tailroom. Returns the plaintext length to seal (the `len` of AeadContext.seal / AeadBatch);
 * the ESP packet starts at `payloadOff - 16` and is plaintext length + 32 bytes long once sealed.
 * IV = the 64-bit sequence number (RFC 4106 §3.1, RFC 7634 §2; PROTOCOL.md F.1).
 */
export function espSealPrepare(
  buf: Uint8Array,
  payloadOff: number,
  payloadLen: number,
  nextHeader: number,
  spi: number,
  seqHi: number,
  seqLo: number,
): number {
  const esp = payloadOff - ESP_OFF_PAYLOAD;
  writeEspHeader(buf, esp, spi, seqLo);
  writeEspIvFromSeq(buf, esp, seqHi, seqLo);
  return payloadLen + writeEspTrailer(buf, payloadOff + payloadLen, payloadLen, nextHeader);
}

/**
 * Seals the payload at `buf[payloadOff, payloadOff + payloadLen)` into an ESP packet in place
 * (espSealPrepare, then the AEAD). Returns the ESP packet's length; it starts at
 * `payloadOff - ESP_OFF_PAYLOAD`. `seqHi` must be 0 without ESN and (seqHi, seqLo) a number the
 * SA's SequenceCounter handed out (never 0, never reused).
 */
export function espSeal(
  ctx: AeadContext,
  spi: number,
  buf: Uint8Array,
  payloadOff: number,
  payloadLen: number,
  nextHeader: number,
  seqHi: number,
  seqLo: number,
): number {
  const ptLen = espSealPrepare(buf, payloadOff, payloadLen, nextHeader, spi, seqHi, seqLo);
  ctx.seal(buf, payloadOff - ESP_OFF_PAYLOAD, ptLen, seqHi);
  return ptLen + ESP_OFF_PAYLOAD + ESP_ICV_LEN;
}

// ---------------------------------------------------------------------------------------------
// Inbound

/** Length of the ciphertext (payload, padding and trailer) of an ESP packet of `espLen` bytes. */
export function espCiphertextLength(espLen: number): number {
  return espLen - ESP_OFF_PAYLOAD - ESP_ICV_LEN;
}

/**
 * Step 1 of inbound processing for the ESP packet `buf[esp, esp + espLen)` (the SA was already
 * found by SPI). Sets `out.seqLo`, and `out.seqHi` from the window's ESN inference (RFC 4303
 * A2.2). With `window` null (one-shot decryption, no anti-replay) the high bits are `seqHi` as
 * given, and only the sequence number 0 without ESN is refused. Returns false with `out.drop`
 * set to Drop.MALFORMED (too short) or Drop.REPLAY. No side effects on the window.
 */
export function espCheck(
  buf: Uint8Array,
  esp: number,
  espLen: number,
  esn: boolean,
  window: ReplayWindow | null,
  seqHi: number,
  out: EspInbound,
): boolean {
  out.drop = NO_DROP;
  if (espLen < ESP_MIN_PACKET_LEN || esp + espLen > buf.length) return dropWith(out, Drop.MALFORMED);
  const seqLo = readEspSeqLo(buf, esp);
  out.seqLo = seqLo;
  if (window !== null) {
    const hi = window.check(seqLo);
    if (hi === REPLAY_REJECT) return dropWith(out, Drop.REPLAY);
    out.seqHi = hi;
    return true;
  }
  // RFC 4303 §3.3.3: without ESN the counter starts at 1, so 0 is never legitimately sent.
  if (!esn && seqLo === 0) return dropWith(out, Drop.REPLAY);
  out.seqHi = esn ? seqHi : 0;
  return true;
}

/**
 * Step 2: verifies and decrypts the packet in place with the high bits espCheck inferred, then
 * parses the trailer (RFC 4303 §2.4). Returns false with `out.drop` = Drop.AUTH_FAILED,
 * Drop.PADDING, Drop.MALFORMED or Drop.DUMMY (RFC 4303 §2.6: a Next Header 59 packet is
 * discarded; the tag verified, so the caller still commits its sequence number). On success the
 * payload is `buf[out.payloadOffset, + out.payloadLength)`.
 */
export function espDecrypt(ctx: AeadContext, buf: Uint8Array, esp: number, espLen: number, out: EspInbound): boolean {
  const ctLen = espCiphertextLength(espLen);
  if (!ctx.open(buf, esp, ctLen, out.seqHi)) return dropWith(out, Drop.AUTH_FAILED);
  return espFinish(buf, esp, espLen, out);
}

/**
 * The trailer part of step 2, for a packet whose AEAD open already succeeded (e.g. in a batch):
 * validates padding and Next Header and sets the payload's place in `out`.
 */
export function espFinish(buf: Uint8Array, esp: number, espLen: number, out: EspInbound): boolean {
  const pt = esp + ESP_OFF_PAYLOAD;
  const drop = readEspTrailer(buf, pt, espCiphertextLength(espLen), out);
  out.payloadOffset = pt;
  if (drop !== NO_DROP) return dropWith(out, drop);
  return true;
}

/**
 * Inbound steps 1-3 on one thread: check, open, and commit to the window (when there is one)
 * as soon as the tag verified, before the trailer is judged (RFC 4303 §3.4.3). Returns true when
 * the payload should be delivered; otherwise `out.drop` says why.
 */
export function espOpen(
  ctx: AeadContext,
  window: ReplayWindow | null,
  buf: Uint8Array,
  esp: number,
  espLen: number,
  out: EspInbound,
  seqHi = 0,
): boolean {
  if (!espCheck(buf, esp, espLen, ctx.esn, window, seqHi, out)) return false;
  if (!ctx.open(buf, esp, espCiphertextLength(espLen), out.seqHi)) return dropWith(out, Drop.AUTH_FAILED);
  if (window !== null) window.commit(out.seqHi, out.seqLo);
  return espFinish(buf, esp, espLen, out);
}

/** The ESP packet length for a payload of `payloadLen` bytes, padding included. */
export function espPacketLength(payloadLen: number): number {
  return ESP_OFF_PAYLOAD + espPlaintextLength(payloadLen) + ESP_ICV_LEN;
}
