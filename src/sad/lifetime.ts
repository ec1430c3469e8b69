/**
 * SA lifetimes (RFC 4301 §4.4.2.1 "Lifetime of this SA"): limits in bytes, packets and seconds,
 * each with a soft limit (time to rekey: install a replacement, make-before-break) and a hard
 * limit (the SA must no longer be used). The first limit reached takes precedence.
 * Packet limits are not in RFC 4301; they follow Linux XFRM (`ip xfrm state ... limit packet-soft`).
 */
import { aInteger } from '../util/assert.js';

/** Limits of one kind (soft or hard). Left out or 0 means no limit. */
export interface LifetimeLimits {
  /** Bytes counted on the SA (the `bytes` counter: wire bytes). */
  readonly bytes?: number;
  readonly packets?: number;
  /** Seconds since the SA was created. */
  readonly seconds?: number;
}

export interface LifetimeInit {
  readonly soft?: LifetimeLimits;
  readonly hard?: LifetimeLimits;
}

/** Result of a lifetime check: the most severe state reached. */
export const LifetimeState = {
  OK: 0,
  /** A soft limit is reached: rekey now, keep using the SA. */
  SOFT: 1,
  /** A hard limit is reached: drop (Drop.SA_EXPIRED) and remove the SA. */
  HARD: 2,
} as const;
export type LifetimeState = (typeof LifetimeState)[keyof typeof LifetimeState];

const UNITS = ['bytes', 'packets', 'seconds'] as const;
const MS_PER_S = 1000;

export interface LifetimeJson {
  soft: { bytes: number | null; packets: number | null; seconds: number | null };
  hard: { bytes: number | null; packets: number | null; seconds: number | null };
}

function limit(field: string, v: unknown): number {
  if (v === undefined) return Infinity;
  const n = aInteger(field, v, 0);
  return n === 0 ? Infinity : n;
}

/** Validated soft and hard limits (Infinity = none). Immutable. */
export class Lifetime {
  readonly softBytes: number;
  readonly softPackets: number;
  readonly softSeconds: number;
  readonly hardBytes: number;
  readonly hardPackets: number;
  readonly hardSeconds: number;

  /** Throws TypeError/RangeError naming the field; a soft limit above its hard limit is a RangeError. */
  constructor(init: LifetimeInit = {}, field = 'lifetime') {
    if (typeof init !== 'object' || init === null) throw new TypeError(`${field} must be an object`);
    const soft = init.soft ?? {};
    const hard = init.hard ?? {};
    for (const [kind, v] of [['soft', soft], ['hard', hard]] as const) {
      if (typeof v !== 'object' || v === null) throw new TypeError(`${field}.${kind} must be an object`);
    }
    this.softBytes = limit(`${field}.soft.bytes`, soft.bytes);
    this.softPackets = limit(`${field}.soft.packets`, soft.packets);
    this.softSeconds = limit(`${field}.soft.seconds`, soft.seconds);
    this.hardBytes = limit(`${field}.hard.bytes`, hard.bytes);
    this.hardPackets = limit(`${field}.hard.packets`, hard.packets);
    this.hardSeconds = limit(`${field}.hard.seconds`, hard.seconds);
    // RFC 4301 §4.4.2.1: the soft lifetime warns before the hard lifetime ends the SA.
    for (const unit of UNITS) {
      const s = soft[unit];
      const h = hard[unit];
      if (s !== undefined && h !== undefined && s !== 0 && h !== 0 && s > h) {
        throw new RangeError(`${field}.soft.${unit} (${s}) must not exceed ${field}.hard.${unit} (${h})`);
      }
    }
  }

  /**
   * The state after `packets`/`bytes` have been counted and `ageMs` milliseconds have passed
   * since creation. A limit is reached when the count equals or exceeds it. Allocation-free.
   */
  check(packets: number, bytes: number, ageMs: number): LifetimeState {
    const age = ageMs / MS_PER_S;
    if (packets >= this.hardPackets || bytes >= this.hardBytes || age >= this.hardSeconds) return LifetimeState.HARD;
    if (packets >= this.softPackets || bytes >= this.softBytes || age >= this.softSeconds) return LifetimeState.SOFT;
    return LifetimeState.OK;
  }

  /** No limits at all; shared by every SA configured without lifetimes. */
  static readonly UNLIMITED: Lifetime = Object.freeze(new Lifetime());

  toJSON(): LifetimeJson {
    const n = (v: number): number | null => (v === Infinity ? null : v);
    return {
      soft: { bytes: n(this.softBytes), packets: n(this.softPackets), seconds: n(this.softSeconds) },
      hard: { bytes: n(this.hardBytes), packets: n(this.hardPackets), seconds: n(this.hardSeconds) },
    };
  }
}
