/**
 * The contracts of esp/: AEAD suites and backends, the anti-replay window and the send counter.
 * sad/, pool/ and dataplane/ code against these; implementations live beside this file.
 *
 * RFCs: 4303 (ESP), 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP).
 */

/** strongSwan's keywords for the ESP AEAD transforms (16-byte ICV in every case). */
export type SuiteName = 'aes128gcm16' | 'aes192gcm16' | 'aes256gcm16' | 'chacha20poly1305';
export const SUITE_NAMES: readonly SuiteName[] = ['aes128gcm16', 'aes192gcm16', 'aes256gcm16', 'chacha20poly1305'];

/** Where the AEAD arithmetic runs: Node's OpenSSL per packet, pure JS, or the addon's batched EVP. */
export type BackendName = 'node' | 'noble' | 'native';

export interface SuiteInfo {
  readonly name: SuiteName;
  /** Cipher key bytes, without the salt. */
  readonly keyLength: number;
  /** RFC 4106 §8.1, RFC 7634 §2: 4 bytes of salt follow the key in KEYMAT. */
  readonly saltLength: 4;
  readonly ivLength: 8;
  readonly icvLength: 16;
}

/**
 * One SA's AEAD state (key scheduled once). Packets are processed in place inside a caller-owned
 * buffer laid out as RFC 4303 §2: at `esp` the 8-byte ESP header (SPI, low 32 bits of the
 * sequence number) and the 8-byte IV, then the plaintext/ciphertext of `len` bytes (payload,
 * padding, pad length, next header), then the 16-byte ICV.
 * AAD = SPI || seqHi || seqLo with ESN, SPI || seqLo without (RFC 4303 §2.2.1, RFC 4106 §5).
 */
export interface AeadContext {
  readonly suite: SuiteName;
  readonly backend: BackendName;
  readonly esn: boolean;
  /** Encrypts `len` bytes at `esp + 16` in place and writes the ICV after them. */
  seal(buf: Uint8Array, esp: number, len: number, seqHi: number): void;
  /** Verifies the ICV after the `len` ciphertext bytes at `esp + 16` and decrypts in place.
   * Returns false when the tag does not verify; the bytes are then unspecified. Never throws. */
  open(buf: Uint8Array, esp: number, len: number, seqHi: number): boolean;
  /** Wipes the key material; the context must not be used afterwards. */
  destroy(): void;
}

export interface AeadBackend {
  readonly name: BackendName;
  /** Copies `key` and `salt`; the caller may wipe its own copies afterwards. */
  create(suite: SuiteName, key: Uint8Array, salt: Uint8Array, esn: boolean): AeadContext;
}

/**
 * A batch of AEAD jobs over one buffer, in the shape the addon takes (one call, many packets).
 * Packet i uses `ctxs[ctxIndex[i]]`; it is skipped when `status[i] !== 0` or `ctxIndex[i] < 0`.
 */
export interface AeadBatch {
  readonly data: Uint8Array;
  readonly esp: Uint32Array;
  readonly len: Uint32Array;
  readonly seqHi: Uint32Array;
  readonly ctxIndex: Int32Array;
  readonly status: Uint8Array;
  count: number;
}

/**
 * The receive side's anti-replay window (RFC 4303 §3.4.3 and Appendix A), in two phases
 * (STYLE 5): `check` has no side effects and runs before decryption; `commit` runs only after the
 * ICV verified.
 */
export interface ReplayWindow {
  /** Window size in packets. */
  readonly size: number;
  readonly esn: boolean;
  /**
   * Infers the high 32 bits of the sequence number from the low bits seen on the wire (ESN,
   * RFC 4303 Appendix A2.2; always 0 without ESN) and checks the result against the window.
   * Returns the inferred high bits, or -1 when the packet must be dropped as a replay (already
   * seen, left of the window, seq 0 without ESN, or ESN underflow).
   */
  check(seqLo: number): number;
  /** Marks (seqHi, seqLo) as received, moving the window right if it is newer. Call only after
   * the ICV verified and only with a value `check` accepted. */
  commit(seqHi: number, seqLo: number): void;
  /** Highest authenticated sequence number (high, low); (0, 0) before the first packet. */
  readonly topHi: number;
  readonly topLo: number;
}
