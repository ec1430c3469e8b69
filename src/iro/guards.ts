/**
 * Argument checks shared by the entry points of the mobile node, home agent and correspondent.
 * A wrong time or a malformed arrival record is a bug in the caller (the dataplane), not bad
 * packet input, so it throws IroError ERR_USAGE; bad *message content* never throws anywhere in
 * iro/, it is refused or ignored.
 */

import { aBytes, aInteger } from '../util/assert.js';
import { IroError } from '../util/errors.js';
import type { LogFields, LogLevel } from '../util/log.js';
import { IPV6_ADDR_LEN } from '../packet/constants.js';
import type { IroAction, MhArrival } from './actions.js';
import { checkLocator } from './locator.js';

const U8_MAX = 0xff;
const PORT_MAX = 0xffff;

/** `now` must be a finite number of milliseconds (any epoch: only differences matter). */
export function checkNow(now: unknown): number {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new IroError('ERR_USAGE', `now must be a finite number of milliseconds, got ${String(now)}`);
  }
  return now;
}

export function checkArrival(a: unknown): MhArrival {
  if (typeof a !== 'object' || a === null) throw new IroError('ERR_USAGE', 'arrival must be an object');
  const r = a as Partial<MhArrival>;
  const src = checkLocator('arrival.src', r.src);
  const dst = checkLocator('arrival.dst', r.dst);
  if (!(r.identitySrc instanceof Uint8Array) || r.identitySrc.length !== IPV6_ADDR_LEN) {
    throw new IroError('ERR_USAGE', 'arrival.identitySrc must be a 16-byte Uint8Array');
  }
  return { src, dst, identitySrc: r.identitySrc };
}

/** Constructor option checks (STYLE 7: TypeError for a wrong type, RangeError for a bad value). */
export function aPeerName(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string`);
  if (v.length === 0) throw new RangeError(`${name} must not be empty`);
  return v;
}

export function aAddress(name: string, v: unknown, ...lengths: number[]): Uint8Array {
  return new Uint8Array(aBytes(name, v, ...lengths));
}

export function aMhType(name: string, v: unknown): number {
  return aInteger(name, v, 0, U8_MAX);
}

export function aPort(name: string, v: unknown): number {
  return aInteger(name, v, 1, PORT_MAX);
}

/** Appends a log action. */
export function log(out: IroAction[], level: LogLevel, msg: string, fields: LogFields): void {
  out.push({ kind: 'log', level, msg, fields });
}
