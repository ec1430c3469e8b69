/**
 * Edge validation (STYLE 7): public constructors and options throw TypeError for a wrong type and
 * RangeError for a bad value, naming the field. Not for the per-packet path.
 */

export function aInteger(name: string, v: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer`);
  if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function aBytes(name: string, v: unknown, ...lengths: number[]): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (lengths.length > 0 && !lengths.includes(v.length)) {
    throw new RangeError(`${name} must be ${lengths.join(' or ')} bytes long, got ${v.length}`);
  }
  return v;
}

export function aBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return v;
}

export function aOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string`);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** For conditions that mean a bug in iro itself, never bad input. */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${message}`);
}
