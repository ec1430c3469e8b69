/** Shared test helpers for test/packet: E.3 addresses, a seeded PRNG and unaligned placement. */
import { parseIp } from '../../src/util/addr.js';

export function ip(s: string): Uint8Array {
  const a = parseIp(s);
  if (!a) throw new Error(`bad test address ${s}`);
  return a;
}

/** PROTOCOL.md E.3 addresses. */
export const HOA = ip('2001:db8::1');
export const HA = ip('2001:db8::2');
export const COA = ip('2001:db8:ffff::10');

export { prng } from '../helpers/rng.js';

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

export const FILL = 0xa5;

/**
 * Places `bytes` inside a larger ArrayBuffer: the returned `buf` is a view starting at
 * `byteOffset` (like a pooled Buffer), and the packet starts at `off` inside it. Bytes around the
 * packet are FILL so an over-read changes results.
 */
export function place(bytes: Uint8Array, byteOffset: number, off: number, tail = 7): { buf: Uint8Array; off: number } {
  const backing = new Uint8Array(byteOffset + off + bytes.length + tail).fill(FILL);
  const buf = backing.subarray(byteOffset);
  buf.set(bytes, off);
  return { buf, off };
}

/** The placements every parser is run over: aligned, odd byteOffset, non-zero off, both. */
export const PLACEMENTS: readonly (readonly [number, number])[] = [
  [0, 0],
  [3, 0],
  [0, 5],
  [13, 11],
];
