/**
 * Nonce and AAD of one ESP packet, written into per-context scratch arrays so the per-packet path
 * allocates nothing. Shared by the JavaScript-side backends (node, noble).
 *
 * RFC 4106 §4 / RFC 7634 §2: nonce = salt (4) || IV (8).
 * RFC 4106 §5 / RFC 7634 §2.1 (RFC 4303 §2.2.1): AAD = SPI || seq low without ESN,
 * SPI || seq high || seq low with ESN.
 */
import { ESP_IV_LEN, ESP_OFF_SEQ, ESP_OFF_SPI } from '../packet/constants.js';
import { ESP_OFF_IV } from '../packet/esp.js';
import { writeU32 } from '../util/bytes.js';
import { AAD_LEN, AAD_LEN_ESN, NONCE_LEN, SALT_LEN } from './suites.js';

const SPI_LEN = 4;
const SEQ_LEN = 4;
const AAD_OFF_SEQ_HI = SPI_LEN;

/** Scratch nonce with the salt in place; the IV part is rewritten per packet. */
export function newNonce(salt: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_LEN);
  nonce.set(salt.subarray(0, SALT_LEN), 0);
  return nonce;
}

export function newAad(esn: boolean): Uint8Array {
  return new Uint8Array(esn ? AAD_LEN_ESN : AAD_LEN);
}

/** Copies the packet's IV (at `esp + 8`) behind the salt. */
export function loadNonce(nonce: Uint8Array, buf: Uint8Array, esp: number): void {
  const iv = esp + ESP_OFF_IV;
  for (let i = 0; i < ESP_IV_LEN; i++) nonce[SALT_LEN + i] = buf[iv + i]!;
}

/** Fills the AAD from the packet's SPI and sequence number, inserting `seqHi` when the AAD is the
 * 12-byte ESN form. */
export function loadAad(aad: Uint8Array, buf: Uint8Array, esp: number, seqHi: number): void {
  for (let i = 0; i < SPI_LEN; i++) aad[i] = buf[esp + ESP_OFF_SPI + i]!;
  let o = SPI_LEN;
  if (aad.length === AAD_LEN_ESN) {
    writeU32(aad, AAD_OFF_SEQ_HI, seqHi);
    o += SEQ_LEN;
  }
  for (let i = 0; i < SEQ_LEN; i++) aad[o + i] = buf[esp + ESP_OFF_SEQ + i]!;
}
