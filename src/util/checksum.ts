/**
 * The Internet checksum: RFC 1071 one's-complement sum, and RFC 1624 incremental update.
 * Sums are carried unfolded as plain numbers so that pseudo-header and payload parts can be added
 * up separately; fold once at the end.
 */

/** Adds the 16-bit big-endian words of `b[off, off+len)` to `sum` (RFC 1071 §4.1). An odd
 * trailing byte is padded with zero on the right. Returns the unfolded sum (exact: a 64 KiB
 * range adds less than 2^32). */
export function sumWords(b: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  const even = end - ((end - off) & 1);
  for (; i < even; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Folds a sum into 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: one's complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1071 checksum of a byte range. A range whose stored checksum is valid returns 0. */
export function internetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  return finishChecksum(sumWords(b, off, len, initial));
}

/**
 * RFC 1624 eqn. 3 incremental update: HC' = ~(~HC + ~m + m'), for one 16-bit field changing from
 * `oldWord` to `newWord`. Returns the new checksum field value.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/**
 * Incremental update for a changed byte range of even length at an even offset, e.g. an address
 * rewritten in place: `oldBytes` are the previous contents, `b[off, off+len)` the new ones.
 */
export function updateChecksumRange(
  checksum: number,
  oldBytes: Uint8Array,
  b: Uint8Array,
  off: number,
  len: number,
): number {
  let sum = ~checksum & 0xffff;
  for (let i = 0; i < len; i += 2) {
    sum += ~((oldBytes[i]! << 8) | oldBytes[i + 1]!) & 0xffff;
    sum += (b[off + i]! << 8) | b[off + i + 1]!;
  }
  return ~foldSum(sum) & 0xffff;
}
