/**
 * The library face of esp/: one ESP SA (both directions' framing and AEAD for one SPI and key)
 * that seals payloads into ESP bytes and opens ESP bytes back into payloads. For tools, tests and
 * one-shot decryption of captures; the dataplane uses the allocation-free functions of
 * sa-crypto.ts directly.
 *
 * ```ts
 * const sa = createEspSa({ suite: 'aes128gcm16', keymat: '0x...', spi: 0x1001, esn: true });
 * const { payload, nextHeader, seq } = sa.open(espBytes);
 * ```
 * RFCs: 4303 (ESP), 4106 (AES-GCM in ESP), 7634 (ChaCha20-Poly1305 in ESP).
 */
import { ESP_SPI_MIN } from '../packet/constants.js';
import { ESP_MIN_PACKET_LEN, ESP_OFF_PAYLOAD, readEspSpi, seqHiOf, seqLoOf, seqToBigInt } from '../packet/esp.js';
import { aBoolean, aInteger } from '../util/assert.js';
import { wipe } from '../util/bytes.js';
import { Drop, DROP_LABELS, type DropReason } from '../util/drop.js';
import { IroError, type IroErrorCode } from '../util/errors.js';
import { defaultBackend, getBackend } from './backends.js';
import { BitmapReplayWindow, checkReplayWindowSize, REPLAY_WINDOW_DEFAULT } from './replay.js';
import { espOpen, espPacketLength, espSeal, newEspInbound } from './sa-crypto.js';
import { SequenceCounter } from './sequence.js';
import { parseKeymat, suiteInfo } from './suites.js';
import type { AeadContext, BackendName, SuiteName } from './types.js';

const U8_MAX = 255;
const U32_MAX = 0xffffffff;
const SPI_MAX = 0xffffffff;

export interface EspSaOptions {
  /** strongSwan's keyword: 'aes128gcm16' | 'aes192gcm16' | 'aes256gcm16' | 'chacha20poly1305'. */
  suite: SuiteName;
  /** Key followed by the 4-byte salt, as `ip xfrm state ... aead` takes it: hex (0x optional)
   * or bytes. Copied; the SA wipes its copy on destroy(). */
  keymat: string | Uint8Array;
  /** RFC 4303 §2.1: 256 .. 2^32-1. */
  spi: number;
  /** Extended 64-bit sequence numbers (RFC 4303 §2.2.1). Default false. */
  esn?: boolean;
  /** Anti-replay on open: `true` for the default window (1024), a window size (a multiple of
   * 32, 32-65536), or false (default: every authentic packet is accepted, for one-shot use). */
  replayWindow?: boolean | number;
  /** AEAD backend; default the fastest available for the suite. */
  backend?: BackendName;
}

export interface EspSealOptions {
  /** IANA protocol number of the payload: 4 IPv4 (tunnel), 41 IPv6 (tunnel), 6 TCP, 17 UDP, ... */
  nextHeader: number;
  /**
   * 64-bit sequence number; it is also the IV, so never seal two payloads with the same number.
   * Default: the SA's own counter's next value (1, 2, 3, ...). An explicit number moves the
   * counter up to it, so later default numbers stay above it.
   */
  seq?: bigint;
}

export interface EspOpenOptions {
  /** ESN only, and only without a replay window: the high 32 bits of the sequence number, which
   * the wire does not carry (default 0). With a window they are inferred (RFC 4303 A2.2). */
  seqHi?: number;
}

export interface EspOpened {
  /** The decrypted payload: a view of a fresh buffer owned by the caller (padding removed). */
  payload: Uint8Array;
  /** Next Header from the trailer; 59 marks a dummy packet (RFC 4303 §2.6), returned as is. */
  nextHeader: number;
  /** The full 64-bit sequence number. */
  seq: bigint;
}

export interface EspSa {
  readonly suite: SuiteName;
  readonly spi: number;
  readonly esn: boolean;
  readonly backend: BackendName;
  /** Window size when anti-replay is on, else 0. */
  readonly replayWindow: number;
  /** The last sequence number seal() used (0n before the first). */
  readonly lastSeq: bigint;
  /**
   * Seals `payload` (not modified) into a new ESP packet: SPI, sequence number, IV (= sequence
   * number), encrypted payload with padding and trailer, ICV. Throws IroError
   * 'ERR_SEQ_EXHAUSTED' when the counter is used up, RangeError / TypeError for bad arguments.
   */
  seal(payload: Uint8Array, options: EspSealOptions): Uint8Array;
  /**
   * Opens one ESP packet (from the SPI on; `esp` is not modified). Throws EspOpenError:
   * code 'ERR_MALFORMED' (reason 'malformed', 'no_sa' for another SPI, 'padding'),
   * 'ERR_AUTH_FAILED' (reason 'auth_failed': wrong key, SPI, sequence high bits, or tampering),
   * or 'ERR_REPLAY' (reason 'replay': seen before, left of the window, or sequence number 0
   * without ESN).
   */
  open(esp: Uint8Array, options?: EspOpenOptions): EspOpened;
  /** Wipes the key material; the SA must not be used afterwards. */
  destroy(): void;
}

/** The reasons open() can fail for: labels of `iro_dropped_packets_total`. */
export type EspOpenFailure = 'malformed' | 'no_sa' | 'padding' | 'auth_failed' | 'replay';

/** open() refused a packet; `reason` is the drop label the dataplane would count it under. */
export class EspOpenError extends IroError {
  readonly reason: EspOpenFailure;

  constructor(code: IroErrorCode, reason: EspOpenFailure, message: string) {
    super(code, message);
    this.name = 'EspOpenError';
    this.reason = reason;
  }
}

const DROP_DETAIL: Partial<Record<DropReason, string>> = {
  [Drop.MALFORMED]: 'shorter than an ESP header, IV, trailer and ICV',
  [Drop.REPLAY]: 'sequence number already seen, left of the replay window, or 0 without ESN',
  [Drop.AUTH_FAILED]: 'the ICV did not verify (wrong key or SPI, wrong ESN high bits, or tampered bytes)',
  [Drop.PADDING]: 'pad length or pad bytes invalid (RFC 4303 §2.4)',
};

/** The error for a drop espOpen reported (every reason it can report is an EspOpenFailure). */
function openError(reason: DropReason): EspOpenError {
  const label = DROP_LABELS[reason] as EspOpenFailure;
  const code: IroErrorCode = reason === Drop.AUTH_FAILED ? 'ERR_AUTH_FAILED' : reason === Drop.REPLAY ? 'ERR_REPLAY' : 'ERR_MALFORMED';
  return new EspOpenError(code, label, `ESP packet dropped (${label}): ${DROP_DETAIL[reason] ?? label}`);
}

function replayWindowSize(v: unknown): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return REPLAY_WINDOW_DEFAULT;
  if (typeof v !== 'number') throw new TypeError('options.replayWindow must be a boolean or a number');
  return checkReplayWindowSize('options.replayWindow', v);
}

class LibraryEspSa implements EspSa {
  readonly suite: SuiteName;
  readonly spi: number;
  readonly esn: boolean;
  readonly backend: BackendName;
  readonly replayWindow: number;
  private readonly ctx: AeadContext;
  private readonly window: BitmapReplayWindow | null;
  private readonly counter: SequenceCounter;
  private readonly inbound = newEspInbound();

  constructor(options: EspSaOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.suite = suiteInfo(options.suite).name;
    this.spi = aInteger('options.spi', options.spi, 0, SPI_MAX);
    if (this.spi < ESP_SPI_MIN) {
      throw new IroError('ERR_SPI_RESERVED', `options.spi ${this.spi} is reserved (RFC 4303 §2.1: 0 local use, 1-255 IANA)`);
    }
    this.esn = aBoolean('options.esn', options.esn ?? false);
    const size = replayWindowSize(options.replayWindow);
    this.window = size > 0 ? new BitmapReplayWindow({ size, esn: this.esn }) : null;
    this.replayWindow = size;
    const backend = options.backend === undefined ? defaultBackend(this.suite) : getBackend(options.backend);
    const { key, salt } = parseKeymat(this.suite, options.keymat);
    try {
      this.ctx = backend.create(this.suite, key, salt, this.esn);
    } finally {
      wipe(key);
      wipe(salt);
    }
    this.backend = backend.name;
    this.counter = new SequenceCounter(this.esn);
  }

  get lastSeq(): bigint {
    return this.counter.value;
  }

  seal(payload: Uint8Array, options: EspSealOptions): Uint8Array {
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const nextHeader = aInteger('options.nextHeader', options.nextHeader, 0, U8_MAX);
    const seq = options.seq === undefined ? this.counter.nextOrThrow() : this.explicitSeq(options.seq);
    const out = new Uint8Array(espPacketLength(payload.length));
    out.set(payload, ESP_OFF_PAYLOAD);
    espSeal(this.ctx, this.spi, out, ESP_OFF_PAYLOAD, payload.length, nextHeader, seqHiOf(seq), seqLoOf(seq));
    return out;
  }

  private explicitSeq(seq: unknown): bigint {
    if (typeof seq !== 'bigint') throw new TypeError('options.seq must be a bigint');
    if (seq < 1n || seq > this.counter.max) {
      throw new RangeError(`options.seq must be between 1 and ${this.counter.max}${this.esn ? '' : ' (no ESN)'}, got ${seq}`);
    }
    if (seq > this.counter.value) this.counter.value = seq;
    return seq;
  }

  open(esp: Uint8Array, options: EspOpenOptions = {}): EspOpened {
    if (!(esp instanceof Uint8Array)) throw new TypeError('esp must be a Uint8Array');
    if (options.seqHi !== undefined && this.window !== null) {
      throw new RangeError('options.seqHi cannot be combined with a replay window, which infers the high bits');
    }
    const seqHi = aInteger('options.seqHi', options.seqHi ?? 0, 0, this.esn ? U32_MAX : 0);
    const buf = esp.slice();
    const out = this.inbound;
    if (buf.length >= ESP_MIN_PACKET_LEN && readEspSpi(buf, 0) !== this.spi) {
      const spi = readEspSpi(buf, 0).toString(16);
      throw new EspOpenError('ERR_MALFORMED', 'no_sa', `ESP packet dropped (no_sa): SPI 0x${spi} is not this SA's 0x${this.spi.toString(16)}`);
    }
    if (!espOpen(this.ctx, this.window, buf, 0, buf.length, out, seqHi) && out.drop !== Drop.DUMMY) {
      throw openError(out.drop as DropReason);
    }
    return {
      payload: buf.subarray(out.payloadOffset, out.payloadOffset + out.payloadLength),
      nextHeader: out.nextHeader,
      seq: seqToBigInt(out.seqHi, out.seqLo),
    };
  }

  destroy(): void {
    this.ctx.destroy();
  }
}

/**
 * An ESP SA for sealing and opening single packets. Throws IroError 'ERR_BAD_SUITE' (unknown
 * suite), 'ERR_BAD_KEY' (keymat not hex or of the wrong length), 'ERR_SPI_RESERVED' (SPI below
 * 256), 'ERR_NATIVE' (backend 'native' without the addon), TypeError / RangeError for other
 * invalid options.
 */
export function createEspSa(options: EspSaOptions): EspSa {
  return new LibraryEspSa(options);
}
