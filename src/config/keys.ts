/**
 * Key values of the config (`KeyOut`, `KeyIn`, `SignalKeyOut`, `SignalKeyIn`): inline hex or
 * `file:PATH`, and the derivation of signalling keys when none are given.
 *
 * KEYMAT is the cipher key followed by a 4-byte salt, as `ip xfrm state ... aead` takes it
 * (RFC 4106 §8.1, RFC 7634 §2). No function here puts key bytes into a message.
 */
import { hkdfSync } from 'node:crypto';
import { CIPHER_KEY_LENGTH, Keymat, SALT_LENGTH, keymatLength, type CipherName } from './types.js';
import { bad, ok, parseHexBytes, type Parsed } from './values.js';

/**
 * Reads a key file named in the config and returns its text, or a message naming the path and
 * the problem (missing, wrong mode, wrong owner). `path` is as written after `file:`.
 * loadConfig supplies one that checks the file on disk; tests supply their own.
 */
export type KeyFileReader = (path: string) => Parsed<string>;

/** A reader for callers without key files (every `file:` key is then an error). */
export const noKeyFiles: KeyFileReader = (path) => bad(`key file ${path} cannot be read here: only inline keys are available`);

export const KEY_FILE_PREFIX = 'file:';

/** True when a key value names a file rather than holding hex inline. */
export function isKeyFileRef(value: string): boolean {
  return value.toLowerCase().startsWith(KEY_FILE_PREFIX);
}

function lengthMessage(cipher: CipherName, got: number): string {
  return (
    `must be ${keymatLength(cipher)} bytes for ${cipher} ` +
    `(${CIPHER_KEY_LENGTH[cipher]}-byte key + ${SALT_LENGTH}-byte salt), got ${got} byte${got === 1 ? '' : 's'}`
  );
}

/**
 * Resolves a key value to KEYMAT for `cipher`. Inline values are hex; `file:PATH` values are
 * read through `readKeyFile` and must hold hex text (whitespace and a 0x prefix allowed, as
 * `iro genkey` writes it). The result owns fresh bytes.
 */
export function resolveKey(value: string, cipher: CipherName, readKeyFile: KeyFileReader): Parsed<Keymat> {
  let bytes: Uint8Array;
  if (isKeyFileRef(value)) {
    const path = value.slice(KEY_FILE_PREFIX.length).trim();
    if (path === '') return bad('file: needs a path, as in file:/etc/iro/keys/mn0-out.key');
    let text: Parsed<string>;
    try {
      text = readKeyFile(path);
    } catch (err) {
      return bad(`key file ${path} could not be read (${(err as { code?: string }).code ?? 'error'})`);
    }
    if (!text.ok) return text;
    const hex = parseHexBytes(text.value);
    if (!hex.ok) return bad(`key file ${path} must hold the key in hex; its content ${hex.message}`);
    bytes = hex.value;
    if (bytes.length !== keymatLength(cipher)) return bad(`key in ${path} ${lengthMessage(cipher, bytes.length)}`);
  } else {
    const hex = parseHexBytes(value);
    if (!hex.ok) return bad(`must be hex or file:/path; the value ${hex.message}`);
    bytes = hex.value;
    if (bytes.length !== keymatLength(cipher)) return bad(lengthMessage(cipher, bytes.length));
  }
  return ok(new Keymat(cipher, bytes));
}

/** HKDF info string of the signalling-SA key derivation. */
export const SIGNAL_KEY_INFO = 'iro signalling SA';

/**
 * The KEYMAT of a signalling SA when the config gives none: HKDF-SHA256 (RFC 5869) with
 * IKM = the data SA's KEYMAT of the same direction, empty salt, info "iro signalling SA", and
 * L = the KEYMAT length. Two SAs must never share a key (their sequence counters, hence their
 * GCM/ChaCha20 nonces, are independent: RFC 4106 §8.1); both ends derive the same value because
 * one end's KeyOut is the other's KeyIn.
 */
export function deriveSignalKeymat(data: Keymat): Keymat {
  const okm = hkdfSync('sha256', data.bytes, new Uint8Array(0), SIGNAL_KEY_INFO, data.bytes.length);
  return new Keymat(data.cipher, new Uint8Array(okm));
}
