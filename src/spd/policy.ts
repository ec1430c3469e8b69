/**
 * SPD entries (RFC 4301 §4.4.1): a name, the directions it applies to, a selector and an action.
 *
 * RFC 4301 §4.4.1 keeps three nominal databases: SPD-S (PROTECT), SPD-O (outbound BYPASS and
 * DISCARD) and SPD-I (inbound BYPASS and DISCARD). Here they are one ordered list in which each
 * entry says whether it applies outbound, inbound or both; the outbound decision is the first
 * matching 'out'/'both' entry (SPD-S + SPD-O), the inbound one the first matching 'in'/'both'
 * entry (SPD-I).
 *
 * RFCs: 4301 §4.4.1 (SPD, actions), §4.4.1.2 (entry contents), §5.1 / §5.2 (processing).
 */
import { Drop, type DropReason } from '../util/drop.js';
import { aOneOf } from '../util/assert.js';
import { TrafficSelector, type Direction, type SelectorInit, type SelectorJson } from './selector.js';

/** RFC 4301 §4.4.1: PROTECT (apply IPsec), BYPASS (pass in clear), DISCARD (drop). */
export type PolicyAction = 'protect' | 'bypass' | 'discard';
export const POLICY_ACTIONS: readonly PolicyAction[] = ['protect', 'bypass', 'discard'];

/** Which lookups see the entry: outbound only, inbound only, or both (the default). */
export type PolicyDirection = Direction | 'both';
export const POLICY_DIRECTIONS: readonly PolicyDirection[] = ['out', 'in', 'both'];

/**
 * One SPD entry as the caller describes it. `R` is the caller's opaque reference to the SA or
 * SA bundle a PROTECT entry uses (an SA slot, a peer id, …); spd/ never interprets it.
 */
export interface PolicyInit<R> extends SelectorInit {
  /** Unique within the SPD; shown by `iro show` and in logs. */
  readonly name: string;
  readonly action: PolicyAction;
  readonly direction?: PolicyDirection;
  /** Required for 'protect', not allowed otherwise. */
  readonly ref?: R;
}

export interface PolicyJson {
  name: string;
  action: PolicyAction;
  direction: PolicyDirection;
  selector: SelectorJson;
}

/** A validated, immutable SPD entry. Owns its selector; holds `ref` without looking inside. */
export class Policy<R> {
  readonly name: string;
  readonly action: PolicyAction;
  readonly direction: PolicyDirection;
  /** The caller's SA/bundle reference for 'protect'; undefined for 'bypass'/'discard'. */
  readonly ref: R | undefined;
  readonly selector: TrafficSelector;

  /** Throws TypeError / RangeError naming the field (`policy "x".remotePort`). */
  constructor(init: PolicyInit<R>) {
    if (typeof init !== 'object' || init === null) throw new TypeError('policy must be an object');
    if (typeof init.name !== 'string') throw new TypeError('policy.name must be a string');
    if (init.name.length === 0) throw new RangeError('policy.name must not be empty');
    const field = `policy ${JSON.stringify(init.name)}`;
    this.name = init.name;
    this.action = aOneOf(`${field}.action`, init.action, POLICY_ACTIONS);
    this.direction = aOneOf(`${field}.direction`, init.direction ?? 'both', POLICY_DIRECTIONS);
    if (this.action === 'protect' && init.ref === undefined) {
      throw new TypeError(`${field}.ref must be given for action protect (the SA or bundle to use)`);
    }
    if (this.action !== 'protect' && init.ref !== undefined) {
      throw new RangeError(`${field}.ref is only meaningful for action protect`);
    }
    this.ref = init.ref;
    this.selector = new TrafficSelector(init, field);
  }

  /** True when the entry takes part in lookups of direction `dir`. */
  appliesTo(dir: Direction): boolean {
    return this.direction === 'both' || this.direction === dir;
  }

  toJSON(): PolicyJson {
    return { name: this.name, action: this.action, direction: this.direction, selector: this.selector.toJSON() };
  }
}

/** `inboundCleartextVerdict` result meaning: deliver the packet. */
export const DELIVER = -1;

/**
 * RFC 4301 §5.2 step 3a, for an inbound packet that arrived without IPsec: given the result of
 * the inbound lookup, returns DELIVER (-1) for BYPASS, otherwise the DropReason: no entry
 * (NO_POLICY: "if no match, discard"), DISCARD (POLICY_DISCARD), or PROTECT, meaning traffic
 * that should have been protected arrived in clear (UNPROTECTED).
 */
export function inboundCleartextVerdict(policy: Policy<unknown> | null): DropReason | typeof DELIVER {
  if (policy === null) return Drop.NO_POLICY;
  if (policy.action === 'bypass') return DELIVER;
  return policy.action === 'discard' ? Drop.POLICY_DISCARD : Drop.UNPROTECTED;
}
