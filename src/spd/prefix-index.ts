/**
 * PrefixIndex: exact-match hash tables of masked addresses, one table per distinct prefix
 * length, used by the compiled SPD lookup (spd.ts). An address is looked up in
 * O(number of distinct prefix lengths) probes, whatever the number of prefixes: 10,000 peers
 * with a /128 each add entries to one table, not steps to the search.
 *
 * Each distinct prefix owns a bucket: the order indices of the policies filed under it, sorted
 * ascending, so a caller scanning a bucket can stop at the first full match.
 *
 * Everything lives in typed arrays built once by `build`; `find` reads them and never allocates.
 * Keys are the address masked to the prefix length, as big-endian 32-bit words (1 for IPv4,
 * 4 for IPv6) held as int32 so that the hot path never leaves small-integer arithmetic.
 * Open addressing with linear probing at a load factor of at most 1/2.
 */
import { formatPrefix, type Prefix } from '../util/addr.js';
import { readU32 } from '../util/bytes.js';

/** One prefix under which a policy (by order index) is filed. */
export interface IndexEntry {
  readonly prefix: Prefix;
  readonly order: number;
}

const WORD_BITS = 32;
const WORD_BYTES = 4;
const EMPTY = -1;

/** The mask of the first `bits` bits of a 32-bit word, as an int32 (all work here stays int32). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= WORD_BITS) return -1;
  return -1 << (WORD_BITS - bits);
}

/** A 32-bit mix of four words (murmur3 finalizer constants); low bits depend on every input bit. */
function hashWords(k0: number, k1: number, k2: number, k3: number): number {
  let h = Math.imul(k0 ^ (k0 >>> 16), 0x85ebca6b) ^ k1;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ k2;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ k3;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function tableSize(keys: number): number {
  let cap = 2;
  while (cap < keys * 2) cap *= 2;
  return cap;
}

export class PrefixIndex {
  /** 32-bit words per key: 1 (IPv4) or 4 (IPv6). */
  readonly words: 1 | 4;
  /** Number of distinct prefix lengths, i.e. tables; `find(i, …)` takes i below this. */
  readonly lengthCount: number;
  /** Bucket b holds `items[start[b] .. end[b])`: order indices, ascending. */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly items: Int32Array;
  private readonly masks: Int32Array;
  private readonly tableOff: Int32Array;
  private readonly tableMask: Int32Array;
  private readonly keys: Int32Array;
  private readonly vals: Int32Array;

  private constructor(words: 1 | 4, groups: Map<number, Map<string, { words: number[]; orders: number[] }>>) {
    this.words = words;
    const lengths = [...groups.keys()].sort((x, y) => y - x);
    this.lengthCount = lengths.length;
    this.masks = new Int32Array(lengths.length * words);
    this.tableOff = new Int32Array(lengths.length);
    this.tableMask = new Int32Array(lengths.length);
    let slots = 0;
    let buckets = 0;
    let items = 0;
    lengths.forEach((len, i) => {
      const g = groups.get(len)!;
      for (let w = 0; w < words; w++) this.masks[i * words + w] = wordMask(len - w * WORD_BITS);
      const cap = tableSize(g.size);
      this.tableOff[i] = slots;
      this.tableMask[i] = cap - 1;
      slots += cap;
      buckets += g.size;
      for (const b of g.values()) items += b.orders.length;
    });
    this.keys = new Int32Array(slots * words);
    this.vals = new Int32Array(slots).fill(EMPTY);
    this.start = new Int32Array(buckets);
    this.end = new Int32Array(buckets);
    this.items = new Int32Array(items);
    let bucket = 0;
    let item = 0;
    lengths.forEach((len, i) => {
      for (const b of groups.get(len)!.values()) {
        const k = [b.words[0] ?? 0, b.words[1] ?? 0, b.words[2] ?? 0, b.words[3] ?? 0] as const;
        const tm = this.tableMask[i]!;
        let h = hashWords(k[0], k[1], k[2], k[3]) & tm;
        while (this.vals[this.tableOff[i]! + h]! !== EMPTY) h = (h + 1) & tm;
        const slot = this.tableOff[i]! + h;
        this.vals[slot] = bucket;
        for (let w = 0; w < words; w++) this.keys[slot * words + w] = k[w]!;
        this.start[bucket] = item;
        for (const o of b.orders.sort((x, y) => x - y)) this.items[item++] = o;
        this.end[bucket] = item;
        bucket++;
      }
    });
  }

  /** Builds the index of one address family. Entries must all be of that family. */
  static build(family: 4 | 6, entries: readonly IndexEntry[]): PrefixIndex {
    const words = family === 4 ? 1 : 4;
    const groups = new Map<number, Map<string, { words: number[]; orders: number[] }>>();
    for (const { prefix, order } of entries) {
      if (prefix.addr.length !== words * WORD_BYTES) {
        throw new RangeError(`PrefixIndex.build: ${formatPrefix(prefix)} is not an IPv${family} prefix`);
      }
      const kw: number[] = [];
      for (let w = 0; w < words; w++) kw.push(readU32(prefix.addr, w * WORD_BYTES) & wordMask(prefix.len - w * WORD_BITS));
      let byKey = groups.get(prefix.len);
      if (!byKey) groups.set(prefix.len, (byKey = new Map()));
      const key = kw.join(',');
      let b = byKey.get(key);
      if (!b) byKey.set(key, (b = { words: kw, orders: [] }));
      if (!b.orders.includes(order)) b.orders.push(order);
    }
    return new PrefixIndex(words, groups);
  }

  /**
   * The bucket of the table for the i-th prefix length that `addr` (its first 4 or 16 bytes,
   * by this index's family) falls in, or -1. Allocation-free.
   */
  find(i: number, addr: Uint8Array): number {
    const words = this.words;
    const masks = this.masks;
    const mb = i * words;
    const k0 = readU32(addr, 0) & masks[mb]!;
    let k1 = 0;
    let k2 = 0;
    let k3 = 0;
    if (words === 4) {
      k1 = readU32(addr, 4) & masks[mb + 1]!;
      k2 = readU32(addr, 8) & masks[mb + 2]!;
      k3 = readU32(addr, 12) & masks[mb + 3]!;
    }
    const tm = this.tableMask[i]!;
    const off = this.tableOff[i]!;
    const keys = this.keys;
    const vals = this.vals;
    let h = hashWords(k0, k1, k2, k3) & tm;
    for (;;) {
      const slot = off + h;
      const v = vals[slot]!;
      if (v === EMPTY) return EMPTY;
      const kb = slot * words;
      if (keys[kb] === k0 && (words === 1 || (keys[kb + 1] === k1 && keys[kb + 2] === k2 && keys[kb + 3] === k3))) return v;
      h = (h + 1) & tm;
    }
  }
}
