/**
 * Byte helpers over Uint8Array. Big-endian (network order) accessors that never allocate, so
 * they are safe on the hot path and on pooled or unaligned subarrays.
 */

export function readU16(b: Uint8Array, off: number): number {
  return ((b[off]! << 8) | b[off + 1]!) >>> 0;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Reads a 64-bit big-endian value as a bigint (not for the hot path). */
export function readU64(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32(b, off)) << 32n) | BigInt(readU32(b, off + 4));
}

export function writeU64(b: Uint8Array, off: number, v: bigint): void {
  writeU32(b, off, Number((v >> 32n) & 0xffffffffn));
  writeU32(b, off + 4, Number(v & 0xffffffffn));
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!;
  return s;
}

/** Parses hex (whitespace and an optional 0x prefix allowed). Throws RangeError on bad input. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '').replace(/^0x/i, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new RangeError('hex string must have an even number of hex digits');
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compares `len` bytes of `a` at `ao` with `b` at `bo`, without allocating subarrays. */
export function rangeEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Overwrites key material in place (STYLE "zero key material on SA delete"). */
export function wipe(b: Uint8Array): void {
  b.fill(0);
}

/** Copies `n` bytes from `src[srcOff]` to `dst[dstOff]` without creating a subarray view (so a
 * 4-byte IPv4 address can come from the front of a 16-byte field on the hot path). Returns `n`. */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): number {
  for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i]!;
  return n;
}
