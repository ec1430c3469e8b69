/**
 * The ESP AEAD suites iro supports, their key sizes, and KEYMAT parsing.
 *
 * RFC 4106 §8.1 (AES-GCM) and RFC 7634 §2 (ChaCha20-Poly1305): KEYMAT is the cipher key followed
 * by a 4-byte salt, exactly what `ip xfrm state ... aead 'rfc4106(gcm(aes))' 0x<KEYMAT> 128`
 * takes. The nonce is salt || the packet's 8-byte IV.
 */
import { fromHex, wipe } from '../util/bytes.js';
import { IroError } from '../util/errors.js';
import { ESP_ICV_LEN, ESP_IV_LEN } from '../packet/constants.js';
import { SUITE_NAMES, type SuiteInfo, type SuiteName } from './types.js';

/** RFC 4106 §4 and RFC 7634 §2: the salt that follows the key in KEYMAT. */
export const SALT_LEN = 4;
/** RFC 4106 §4, RFC 7634 §2: nonce = salt || IV. */
export const NONCE_LEN = SALT_LEN + ESP_IV_LEN;
/** AAD without ESN: SPI || seq (RFC 4106 §5). */
export const AAD_LEN = 8;
/** AAD with ESN: SPI || seq high || seq low (RFC 4106 §5, RFC 7634 §2.1). */
export const AAD_LEN_ESN = 12;

const AES128_KEY_LEN = 16;
const AES192_KEY_LEN = 24;
const AES256_KEY_LEN = 32;
const CHACHA20_KEY_LEN = 32;

function info(name: SuiteName, keyLength: number): SuiteInfo {
  return { name, keyLength, saltLength: SALT_LEN, ivLength: ESP_IV_LEN, icvLength: ESP_ICV_LEN };
}

export const SUITES: Readonly<Record<SuiteName, SuiteInfo>> = {
  aes128gcm16: info('aes128gcm16', AES128_KEY_LEN),
  aes192gcm16: info('aes192gcm16', AES192_KEY_LEN),
  aes256gcm16: info('aes256gcm16', AES256_KEY_LEN),
  chacha20poly1305: info('chacha20poly1305', CHACHA20_KEY_LEN),
};

export function isSuiteName(v: unknown): v is SuiteName {
  return typeof v === 'string' && (SUITE_NAMES as readonly string[]).includes(v);
}

/** The suite's description; throws IroError 'ERR_BAD_SUITE' for an unknown name. */
export function suiteInfo(name: unknown): SuiteInfo {
  if (!isSuiteName(name)) {
    throw new IroError('ERR_BAD_SUITE', `unknown ESP suite ${JSON.stringify(name)}; expected one of ${SUITE_NAMES.join(', ')}`);
  }
  return SUITES[name];
}

/** A KEYMAT split into its cipher key and salt (fresh copies owned by the caller). */
export interface Keymat {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

/**
 * Splits KEYMAT (hex with an optional 0x prefix, or bytes) into key and salt for `suite`.
 * Throws IroError 'ERR_BAD_KEY' when it is not hex or not key length + 4 bytes long; the message
 * never contains key material. The returned arrays are copies: wipe them when done.
 */
export function parseKeymat(suite: SuiteName, keymat: string | Uint8Array): Keymat {
  const { keyLength } = SUITES[suite];
  let bytes: Uint8Array;
  if (typeof keymat === 'string') {
    try {
      bytes = fromHex(keymat);
    } catch (err) {
      throw new IroError('ERR_BAD_KEY', `keymat for ${suite} must be hex`, { cause: err });
    }
  } else if (keymat instanceof Uint8Array) {
    bytes = keymat.slice();
  } else {
    throw new IroError('ERR_BAD_KEY', `keymat for ${suite} must be a hex string or a Uint8Array`);
  }
  if (bytes.length !== keyLength + SALT_LEN) {
    const got = bytes.length;
    wipe(bytes);
    throw new IroError(
      'ERR_BAD_KEY',
      `keymat for ${suite} must be ${keyLength + SALT_LEN} bytes (${keyLength}-byte key + ${SALT_LEN}-byte salt), got ${got}`,
    );
  }
  const out = { key: bytes.slice(0, keyLength), salt: bytes.slice(keyLength) };
  wipe(bytes);
  return out;
}

/**
 * Edge validation shared by every backend's `create`: a known suite, a key of the suite's
 * length and a 4-byte salt. Throws IroError 'ERR_BAD_SUITE' or 'ERR_BAD_KEY'.
 */
export function checkAeadParams(suite: unknown, key: unknown, salt: unknown): asserts suite is SuiteName {
  const { name, keyLength } = suiteInfo(suite);
  if (!(key instanceof Uint8Array) || key.length !== keyLength) {
    throw new IroError('ERR_BAD_KEY', `key for ${name} must be a Uint8Array of ${keyLength} bytes`);
  }
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_LEN) {
    throw new IroError('ERR_BAD_KEY', `salt for ${name} must be a Uint8Array of ${SALT_LEN} bytes`);
  }
}
