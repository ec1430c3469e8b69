/**
 * Key generation shared by `genkey` and `genpair`: fresh random KEYMAT (cipher key || 4-byte
 * salt) and random SPIs outside the reserved range (RFC 4303 §2.1).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { CIPHER_NAMES, keymatLength, type CipherName } from '../config/index.js';
import { UsageError } from './command.js';

/** Validates a --cipher value (case-insensitive). */
export function cipherOption(value: string): CipherName {
  const hit = CIPHER_NAMES.find((c) => c === value.toLowerCase());
  if (hit === undefined) throw new UsageError(`unknown cipher ${JSON.stringify(value)}; expected one of ${CIPHER_NAMES.join(', ')}`);
  return hit;
}

/** Fresh random KEYMAT for `cipher`; the caller owns (and should wipe) it. */
export function randomKeymat(cipher: CipherName): Uint8Array {
  return new Uint8Array(randomBytes(keymatLength(cipher)));
}

const SPI_FIRST_USABLE = 0x100;
const SPI_LIMIT = 0x1_0000_0000;

/** A random SPI in 0x100..0xffffffff not in `taken`; adds it to `taken`. */
export function randomSpi(taken: Set<number>): number {
  for (;;) {
    const spi = randomInt(SPI_FIRST_USABLE, SPI_LIMIT);
    if (!taken.has(spi)) {
      taken.add(spi);
      return spi;
    }
  }
}
