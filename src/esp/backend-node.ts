/**
 * The `node` AEAD backend: Node's OpenSSL through node:crypto, one cipher object per packet.
 *
 * node:crypto cannot encrypt in place: `update()` returns a new Buffer, which is copied back into
 * the caller's buffer (the one copy this backend forces). On open the plaintext is copied back
 * only after `final()` verified the tag, so a packet that fails keeps its ciphertext.
 * PROTOCOL.md F.7: chacha20-poly1305 needs `authTagLength: 16`; `setAuthTag()` before `final()`;
 * `final()` throws on a bad tag, which open catches and reports as `false`.
 *
 * RFCs: 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP), 4303 §2.2.1 (AAD).
 */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { ESP_ICV_LEN } from '../packet/constants.js';
import { ESP_OFF_PAYLOAD } from '../packet/esp.js';
import { wipe } from '../util/bytes.js';
import { loadAad, loadNonce, newAad, newNonce } from './aead-input.js';
import { checkAeadParams } from './suites.js';
import type { AeadBackend, AeadContext, BackendName, SuiteName } from './types.js';

/** OpenSSL cipher names. ChaCha20-Poly1305 is typed as a GCM cipher below: both have the same
 * setAAD/getAuthTag/setAuthTag surface, and the per-packet call passes no options object. */
const OPENSSL_CIPHER: Readonly<Record<SuiteName, string>> = {
  aes128gcm16: 'aes-128-gcm',
  aes192gcm16: 'aes-192-gcm',
  aes256gcm16: 'aes-256-gcm',
  chacha20poly1305: 'chacha20-poly1305',
};

const CIPHER_OPTIONS = Object.freeze({ authTagLength: ESP_ICV_LEN });

class NodeAeadContext implements AeadContext {
  readonly suite: SuiteName;
  readonly backend: BackendName = 'node';
  readonly esn: boolean;
  private readonly algorithm: CipherGCMTypes;
  private readonly key: Uint8Array;
  private readonly nonce: Uint8Array;
  private readonly aad: Uint8Array;

  constructor(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean) {
    this.suite = suite;
    this.esn = esn;
    this.algorithm = OPENSSL_CIPHER[suite] as CipherGCMTypes;
    this.key = key.slice();
    this.nonce = newNonce(salt);
    this.aad = newAad(esn);
  }

  seal(buf: Uint8Array, esp: number, len: number, seqHi: number): void {
    loadNonce(this.nonce, buf, esp);
    loadAad(this.aad, buf, esp, seqHi);
    const pt = esp + ESP_OFF_PAYLOAD;
    const cipher = createCipheriv(this.algorithm, this.key, this.nonce, CIPHER_OPTIONS);
    cipher.setAAD(this.aad);
    buf.set(cipher.update(buf.subarray(pt, pt + len)), pt);
    cipher.final();
    buf.set(cipher.getAuthTag(), pt + len);
  }

  open(buf: Uint8Array, esp: number, len: number, seqHi: number): boolean {
    try {
      loadNonce(this.nonce, buf, esp);
      loadAad(this.aad, buf, esp, seqHi);
      const ct = esp + ESP_OFF_PAYLOAD;
      const decipher = createDecipheriv(this.algorithm, this.key, this.nonce, CIPHER_OPTIONS);
      decipher.setAAD(this.aad);
      decipher.setAuthTag(buf.subarray(ct + len, ct + len + ESP_ICV_LEN));
      const plain = decipher.update(buf.subarray(ct, ct + len));
      decipher.final();
      buf.set(plain, ct);
      return true;
    } catch {
      // RFC 4303 §3.4.4: an ICV that does not verify discards the packet; the caller counts it.
      return false;
    }
  }

  destroy(): void {
    wipe(this.key);
    wipe(this.nonce);
  }
}

export const nodeBackend: AeadBackend = {
  name: 'node',
  create(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean): AeadContext {
    checkAeadParams(suite, key, salt);
    return new NodeAeadContext(suite, key, salt, esn);
  },
};
