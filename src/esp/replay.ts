/**
 * The receive side's anti-replay window: RFC 4303 §3.4.3 and Appendix A (ESN high-bit inference,
 * A2.2), kept as an RFC 6479 bitmap ring so that moving the window is a few word writes rather
 * than a shift of the whole bitmap.
 *
 * Two phases (STYLE 5, strongSwan verify_seqno / set_authenticated_seqno): `check(seqLo)` has no
 * side effects and runs before decryption; `commit(hi, lo)` runs only after the ICV verified
 * (RFC 4303 §3.4.3: "the receive window is updated only if the integrity verification succeeds").
 *
 * Ring layout: one bit per sequence number, 32 per block; block k holds numbers 32k..32k+31 and
 * lives at ring index k mod R, where R is a power of two of at least size/32 + 1 blocks, so the
 * window (size numbers ending at the top) never shares a block index with numbers above the top.
 * Bits above the top in the top's block are always 0. Sequence numbers are 64-bit values carried
 * as two u32 halves (hi, lo); without ESN hi is always 0.
 */
import { aBoolean, aInteger } from '../util/assert.js';
import { seqHiOf, seqLoOf } from '../packet/esp.js';
import type { ReplayWindow } from './types.js';

/** RFC 4303 §3.4.3: a receiver MUST support a window of at least 32; iro defaults to more,
 * because handovers reorder packets across paths (PROTOCOL.md F.16). */
export const REPLAY_WINDOW_MIN = 32;
export const REPLAY_WINDOW_DEFAULT = 1024;
/** Implementation limit (8 KiB of ring per SA); Appendix A2.2 needs W <= 2^31. */
export const REPLAY_WINDOW_MAX = 65536;
/** Window sizes are whole ring blocks. */
export const REPLAY_WINDOW_STEP = 32;

/** `check` result for a packet that must be dropped. */
export const REPLAY_REJECT = -1;

const BLOCK_SHIFT = 5;
const BIT_MASK = 31;
const ALL_BITS = 0xffffffff;
const U32_MAX = 0xffffffff;
const U32_SHIFT = 0x100000000;
/** Block numbers are seq >> 5: 2^27 blocks per 2^32 low values. */
const BLOCKS_PER_HI = 0x8000000;
const SEQ_MAX_NO_ESN = 0xffffffffn;
const SEQ_MAX_ESN = 0xffffffffffffffffn;

export interface ReplayWindowOptions {
  /** Packets in the window: a multiple of 32 between 32 and 65536. Default 1024. */
  size?: number;
  /** Extended (64-bit) sequence numbers (RFC 4303 §2.2.1). Default false. */
  esn?: boolean;
  /**
   * Highest sequence number already authenticated, e.g. restored after a restart. Every number
   * in the window at or below it then counts as received. Default 0 (nothing received yet).
   */
  top?: bigint;
}

/** Validates a window size (config and API edges): TypeError / RangeError naming `field`. */
export function checkReplayWindowSize(field: string, size: unknown): number {
  const n = aInteger(field, size, REPLAY_WINDOW_MIN, REPLAY_WINDOW_MAX);
  if (n % REPLAY_WINDOW_STEP !== 0) throw new RangeError(`${field} must be a multiple of ${REPLAY_WINDOW_STEP}, got ${n}`);
  return n;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class BitmapReplayWindow implements ReplayWindow {
  readonly size: number;
  readonly esn: boolean;
  private readonly ring: Uint32Array;
  private readonly ringMask: number;
  private hi = 0;
  private lo = 0;

  /** Throws TypeError / RangeError for an invalid option, naming it. */
  constructor(options: ReplayWindowOptions = {}) {
    const size = checkReplayWindowSize('options.size', options.size ?? REPLAY_WINDOW_DEFAULT);
    this.size = size;
    this.esn = aBoolean('options.esn', options.esn ?? false);
    const blocks = nextPowerOfTwo(size / REPLAY_WINDOW_STEP + 1);
    this.ring = new Uint32Array(blocks);
    this.ringMask = blocks - 1;
    const top = options.top ?? 0n;
    if (typeof top !== 'bigint') throw new TypeError('options.top must be a bigint');
    const max = this.esn ? SEQ_MAX_ESN : SEQ_MAX_NO_ESN;
    if (top < 0n || top > max) throw new RangeError(`options.top must be between 0 and ${max}, got ${top}`);
    this.hi = seqHiOf(top);
    this.lo = seqLoOf(top);
    if (top > 0n) this.ring.fill(ALL_BITS);
    // Bits above the top in its block stay clear; the top itself (0 when fresh: sequence number 0
    // is never sent, RFC 4303 §3.3.3) counts as received.
    const bit = this.lo & BIT_MASK;
    this.ring[(this.lo >>> BLOCK_SHIFT) & this.ringMask] = bit === BIT_MASK ? ALL_BITS : (2 ** (bit + 1) - 1) >>> 0;
  }

  get topHi(): number {
    return this.hi;
  }

  get topLo(): number {
    return this.lo;
  }

  /** The highest authenticated sequence number as a bigint (not for the hot path). */
  get top(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  check(seqLo: number): number {
    const tHi = this.hi;
    const tLo = this.lo;
    const w = this.size;
    let sHi: number;
    if (!this.esn) {
      // RFC 4303 §3.3.3: the first packet carries 1; 0 is never sent without ESN.
      if (seqLo === 0) return REPLAY_REJECT;
      sHi = 0;
    } else if (tLo >= w - 1) {
      // RFC 4303 A2.2 Case A: the window lies within one subspace.
      sHi = seqLo >= tLo - w + 1 ? tHi : tHi + 1;
    } else {
      // RFC 4303 A2.2 Case B: the window spans two subspaces.
      sHi = seqLo >= ((tLo - w + 1) >>> 0) ? tHi - 1 : tHi;
    }
    // Th - 1 at Th = 0 would be a number before the SA's first (PROTOCOL.md E.3.4); Th + 1 past
    // 2^32 - 1 would be beyond 2^64 - 1, which the sender never reaches (RFC 4303 §3.3.3).
    if (sHi < 0 || sHi > U32_MAX) return REPLAY_REJECT;
    if (sHi > tHi || (sHi === tHi && seqLo > tLo)) return sHi;
    const behind = (tHi - sHi) * U32_SHIFT + (tLo - seqLo);
    if (behind >= w) return REPLAY_REJECT;
    const word = this.ring[(seqLo >>> BLOCK_SHIFT) & this.ringMask]!;
    return (word >>> (seqLo & BIT_MASK)) & 1 ? REPLAY_REJECT : sHi;
  }

  commit(seqHi: number, seqLo: number): void {
    const tHi = this.hi;
    const tLo = this.lo;
    const ring = this.ring;
    const mask = this.ringMask;
    if (seqHi > tHi || (seqHi === tHi && seqLo > tLo)) {
      // RFC 4303 §3.4.3: a newer number moves the window right. RFC 6479: clear the blocks the
      // top moves past instead of shifting the bitmap.
      const from = tLo >>> BLOCK_SHIFT;
      const ahead = (seqHi - tHi) * BLOCKS_PER_HI + (seqLo >>> BLOCK_SHIFT) - from;
      if (ahead >= ring.length) ring.fill(0);
      else for (let i = 1; i <= ahead; i++) ring[(from + i) & mask] = 0;
      this.hi = seqHi;
      this.lo = seqLo;
    }
    ring[(seqLo >>> BLOCK_SHIFT) & mask]! |= 1 << (seqLo & BIT_MASK);
  }
}

/** A replay window; see ReplayWindowOptions. */
export function createReplayWindow(options: ReplayWindowOptions = {}): BitmapReplayWindow {
  return new BitmapReplayWindow(options);
}
