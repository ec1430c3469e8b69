/**
 * The `noble` AEAD backend: @noble/ciphers (audited pure JavaScript), no native code at all.
 *
 * ChaCha20-Poly1305 runs truly in place (noble accepts an output array, which may be the input's
 * own bytes). noble's AES-GCM returns a new array, which is copied back into the caller's buffer:
 * the one copy this backend forces. noble throws on a bad tag; open catches it and returns false.
 *
 * RFCs: 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP), 4303 §2.2.1 (AAD).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ESP_ICV_LEN } from '../packet/constants.js';
import { ESP_OFF_PAYLOAD } from '../packet/esp.js';
import { wipe } from '../util/bytes.js';
import { loadAad, loadNonce, newAad, newNonce } from './aead-input.js';
import { checkAeadParams } from './suites.js';
import type { AeadBackend, AeadContext, BackendName, SuiteName } from './types.js';

class NobleAeadContext implements AeadContext {
  readonly suite: SuiteName;
  readonly backend: BackendName = 'noble';
  readonly esn: boolean;
  private readonly chacha: boolean;
  private readonly key: Uint8Array;
  private readonly nonce: Uint8Array;
  private readonly aad: Uint8Array;

  constructor(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean) {
    this.suite = suite;
    this.esn = esn;
    this.chacha = suite === 'chacha20poly1305';
    this.key = key.slice();
    this.nonce = newNonce(salt);
    this.aad = newAad(esn);
  }

  seal(buf: Uint8Array, esp: number, len: number, seqHi: number): void {
    loadNonce(this.nonce, buf, esp);
    loadAad(this.aad, buf, esp, seqHi);
    const pt = esp + ESP_OFF_PAYLOAD;
    const plain = buf.subarray(pt, pt + len);
    if (this.chacha) {
      chacha20poly1305(this.key, this.nonce, this.aad).encrypt(plain, buf.subarray(pt, pt + len + ESP_ICV_LEN));
    } else {
      buf.set(gcm(this.key, this.nonce, this.aad).encrypt(plain), pt);
    }
  }

  open(buf: Uint8Array, esp: number, len: number, seqHi: number): boolean {
    try {
      loadNonce(this.nonce, buf, esp);
      loadAad(this.aad, buf, esp, seqHi);
      const ct = esp + ESP_OFF_PAYLOAD;
      const sealed = buf.subarray(ct, ct + len + ESP_ICV_LEN);
      if (this.chacha) {
        chacha20poly1305(this.key, this.nonce, this.aad).decrypt(sealed, buf.subarray(ct, ct + len));
      } else {
        buf.set(gcm(this.key, this.nonce, this.aad).decrypt(sealed), ct);
      }
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

export const nobleBackend: AeadBackend = {
  name: 'noble',
  create(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean): AeadContext {
    checkAeadParams(suite, key, salt);
    return new NobleAeadContext(suite, key, salt, esn);
  },
};
