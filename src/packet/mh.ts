/**
 * The Mobility Header (RFC 6275 §6.1): the common header; Binding Refresh Request (§6.1.2),
 * Binding Update (§6.1.7), Binding Acknowledgement (§6.1.8), Binding Error (§6.1.9); the mobility
 * options Pad1, PadN, Binding Refresh Advice and Alternate Care-of Address (§6.2), the DSMIPv6
 * options IPv4 Home Address, IPv4 Address Acknowledgement, NAT Detection and IPv4 Care-of Address
 * (RFC 5555 §3.1, §3.2), the Experimental Mobility Option (RFC 5096 §3); and a generic experimental
 * message (RFC 5096 §2) whose MH type is configurable and whose body iro defines elsewhere
 * (PROTOCOL.md A.10). Also the sequence-number comparison (§9.5.1) and lifetime units (§6.1.7).
 *
 * The checksum covers the IPv6 pseudo-header of the *identity* addresses (HoA, HA, CN address),
 * never the care-of addresses the packet carries on the wire (PROTOCOL.md A.10, F.13): builders
 * and the parser take those identities.
 *
 * Signalling is rare, so this module favours safety over zero allocation: parse results own copies
 * of every address and body (nothing aliases the packet buffer), and builders validate their input
 * and throw TypeError/RangeError on a caller bug. The parser never throws: bad input is a DropReason.
 */

import { aBytes, aInteger } from '../util/assert.js';
import { copyBytes, readU16, readU32, writeU16, writeU32 } from '../util/bytes.js';
import { Drop, type DropReason } from '../util/drop.js';
import {
  BA_FIXED_LEN,
  BYTE_BITS,
  BA_OFF_FLAGS,
  BA_OFF_LIFETIME,
  BA_OFF_SEQ,
  BA_OFF_STATUS,
  BE_FIXED_LEN,
  BE_OFF_HOA,
  BE_OFF_RESERVED,
  BE_OFF_STATUS,
  BRR_FIXED_LEN,
  BU_FIXED_LEN,
  BU_OFF_FLAGS,
  BU_OFF_LIFETIME,
  BU_OFF_SEQ,
  IPPROTO_MH,
  IPPROTO_NONE,
  IPV4_ADDR_LEN,
  IPV6_ADDR_LEN,
  MH_EXPERIMENTAL_FIXED_LEN,
  MH_IPV4_ACK_PREFIX_SHIFT,
  MH_IPV4_HOA_FLAG_P,
  MH_IPV4_HOA_PREFIX_SHIFT,
  MH_IPV4_PREFIX_MASK,
  MH_IPV4_PREFIX_MAX,
  MH_LIFETIME_MAX_UNITS,
  MH_LIFETIME_UNIT_S,
  MH_MAX_LEN,
  MH_MIN_LEN,
  MH_NATD_FLAG_F,
  MH_OFF_CHECKSUM,
  MH_OFF_DATA,
  MH_OFF_HDR_LEN,
  MH_OFF_PAYLOAD_PROTO,
  MH_OFF_RESERVED,
  MH_OFF_TYPE,
  MH_OPT_ALT_COA,
  MH_OPT_ALT_COA_ALIGN,
  MH_OPT_ALT_COA_ALIGN_OFFSET,
  MH_OPT_ALT_COA_LEN,
  MH_OPT_BINDING_REFRESH_ADVICE,
  MH_OPT_BRA_ALIGN,
  MH_OPT_BRA_LEN,
  MH_OPT_EXPERIMENTAL,
  MH_OPT_EXPERIMENTAL_ALIGN,
  MH_OPT_HDR_LEN,
  MH_OPT_IPV4_ADDRESS_ACK,
  MH_OPT_IPV4_ALIGN,
  MH_OPT_IPV4_COA,
  MH_OPT_IPV4_HOME_ADDRESS,
  MH_OPT_IPV4_LEN,
  MH_OPT_IPV4_OFF_ADDR,
  MH_OPT_IPV4_OFF_FIELD,
  MH_OPT_MAX_DATA_LEN,
  MH_OPT_NAT_DETECTION,
  MH_OPT_NATD_OFF_REFRESH,
  MH_OPT_OFF_LEN,
  MH_OPT_OFF_TYPE,
  MH_OPT_PAD1,
  MH_OPT_PAD1_LEN,
  MH_OPT_PADN,
  MH_SEQ_MODULUS,
  MH_SEQ_WINDOW,
  MH_TYPE_BA,
  MH_TYPE_BE,
  MH_TYPE_BRR,
  MH_TYPE_BU,
  MH_TYPE_EXPERIMENTAL,
  MH_UNIT,
  U16_MAX,
  U32_MAX,
  U8_MAX,
} from './constants.js';
import { computeL4Checksum, pseudoSum6, verifyL4Checksum } from './l4checksum.js';

// ---------------------------------------------------------------------------------------------
// Types

/** IPv4 Home Address option (RFC 5555 §3.1.1). */
export interface Ipv4HomeAddressOption {
  /** 4 bytes; 0.0.0.0 asks the home agent to assign one. */
  address: Uint8Array;
  prefixLength: number;
  /** The P flag: a prefix is requested. */
  requestPrefix: boolean;
}

/** IPv4 Address Acknowledgement option (RFC 5555 §3.2.1), carried in a BA. */
export interface Ipv4AddressAckOption {
  /** 0 success; 128 and above are failures (RFC 5555 §3.2.1). */
  status: number;
  prefixLength: number;
  /** 4 bytes. */
  address: Uint8Array;
}

/** NAT Detection option (RFC 5555 §3.2.2), carried in a BA. */
export interface NatDetectionOption {
  /** The F flag: the MN must use UDP encapsulation even without a NAT. */
  udpEncapsulationRequired: boolean;
  /** Keepalive interval in seconds; 0xffffffff means no keepalives are needed. */
  refreshTime: number;
}

/**
 * The mobility options of one message. Builders emit each present option once; the parser fills
 * the ones it finds and skips unknown types (RFC 6275 §6.2.1). Addresses and data are copies.
 */
export interface MobilityOptions {
  /** Alternate Care-of Address, 16 bytes (RFC 6275 §6.2.5). */
  altCoa?: Uint8Array;
  /** Binding Refresh Advice interval, in 4-second units (RFC 6275 §6.2.4). */
  refreshInterval?: number;
  ipv4HomeAddress?: Ipv4HomeAddressOption;
  ipv4AddressAck?: Ipv4AddressAckOption;
  natDetection?: NatDetectionOption;
  /** IPv4 Care-of Address, 4 bytes (RFC 5555 §3.1.2). */
  ipv4CareOf?: Uint8Array;
  /** Experimental Mobility Option data, 0-255 bytes (RFC 5096 §3). */
  experimental?: Uint8Array;
}

export interface BindingUpdate {
  seq: number;
  /** The 16-bit flags word: BU_FLAG_A | BU_FLAG_H | ... (reserved bits as received). */
  flags: number;
  /** Requested lifetime in 4-second units (mhLifetimeFromSeconds); 0 deregisters. */
  lifetime: number;
  options: MobilityOptions;
}

export interface BindingAck {
  status: number;
  /** The 8-bit flags byte: BA_FLAG_K | BA_FLAG_R. */
  flags: number;
  seq: number;
  /** Granted lifetime in 4-second units. */
  lifetime: number;
  options: MobilityOptions;
}

export interface BindingError {
  status: number;
  /** 16 bytes: the home address of the offending packet (RFC 6275 §6.1.9). */
  homeAddress: Uint8Array;
  options: MobilityOptions;
}

/** What parseMh returns on success; `length` is the whole MH in bytes. */
export type MhMessage =
  | ({ kind: 'binding-update'; mhType: number; length: number } & BindingUpdate)
  | ({ kind: 'binding-ack'; mhType: number; length: number } & BindingAck)
  | ({ kind: 'binding-error'; mhType: number; length: number } & BindingError)
  | { kind: 'binding-refresh-request'; mhType: number; length: number; options: MobilityOptions }
  /** The configured experimental type. `body` is every byte after the checksum, the builder's
   * trailing padding included: a body format must carry its own length or be fixed-size. */
  | { kind: 'experimental'; mhType: number; length: number; body: Uint8Array }
  /** A well-formed MH of a type iro does not process (RFC 6275 §9.2: answer with BE status 2). */
  | { kind: 'other'; mhType: number; length: number };

// ---------------------------------------------------------------------------------------------
// Pure helpers

/**
 * RFC 6275 §9.5.1: true when sequence number `a` is newer than `b`. Numbers compare modulo 2^16;
 * `a` is "less than or equal" when it lies in `b` and the 32767 values before it, so it is newer
 * when it is 1 to 32768 ahead.
 */
export function mhSeqNewer(a: number, b: number): boolean {
  const ahead = (a - b + MH_SEQ_MODULUS) % MH_SEQ_MODULUS;
  return ahead !== 0 && ahead <= MH_SEQ_WINDOW;
}

/** The sequence number after `a`, modulo 2^16. */
export function mhSeqNext(a: number): number {
  return (a + 1) % MH_SEQ_MODULUS;
}

/** A lifetime field (4-second units, RFC 6275 §6.1.7) in seconds. */
export function mhLifetimeToSeconds(units: number): number {
  return units * MH_LIFETIME_UNIT_S;
}

/**
 * Seconds to a lifetime field (RFC 6275 §6.1.7): rounded down to 4-second units, except that a
 * positive duration never becomes 0 (which means deregistration); capped at 0xffff units.
 */
export function mhLifetimeFromSeconds(seconds: number): number {
  if (!(seconds > 0)) return 0;
  const units = Math.max(1, Math.floor(seconds / MH_LIFETIME_UNIT_S));
  return Math.min(units, MH_LIFETIME_MAX_UNITS);
}

// ---------------------------------------------------------------------------------------------
// Checksum

/** Verifies the MH checksum of the `length`-byte MH at `buf[off]` over the identities `src`/`dst`
 * (16 bytes each) with Next Header 135 (RFC 6275 §6.1.1). */
export function mhChecksumValid(buf: Uint8Array, off: number, length: number, src: Uint8Array, dst: Uint8Array): boolean {
  const pseudo = pseudoSum6(src, 0, dst, 0, IPPROTO_MH, length);
  return verifyL4Checksum(buf, off, length, IPPROTO_MH, pseudo, 6);
}

/** Computes and stores the MH checksum of the MH at `buf[off]` (length from Header Len) over the
 * identities `src`/`dst`; returns the value written, or -1 (writing nothing) when the MH runs past
 * `buf`. */
export function fillMhChecksum(buf: Uint8Array, off: number, src: Uint8Array, dst: Uint8Array): number {
  if (off < 0 || off + MH_MIN_LEN > buf.length) return -1;
  const length = (buf[off + MH_OFF_HDR_LEN]! + 1) * MH_UNIT;
  if (off + length > buf.length) return -1;
  const ck = computeL4Checksum(buf, off, length, IPPROTO_MH, pseudoSum6(src, 0, dst, 0, IPPROTO_MH, length));
  writeU16(buf, off + MH_OFF_CHECKSUM, ck);
  return ck;
}

// ---------------------------------------------------------------------------------------------
// Building

/** One option to emit: its type, data length, alignment xn+y and a writer for its data. */
interface OptionSpec {
  type: number;
  dataLen: number;
  align: number;
  alignOffset: number;
  writeData(buf: Uint8Array, at: number): void;
}

function ipv4Field(name: string, v: Uint8Array): Uint8Array {
  return aBytes(name, v, IPV4_ADDR_LEN);
}

/** Validates `o` and lists its options in the order they are emitted. */
function optionSpecs(o: MobilityOptions | undefined): OptionSpec[] {
  const specs: OptionSpec[] = [];
  if (!o) return specs;
  if (o.altCoa !== undefined) {
    const a = aBytes('options.altCoa', o.altCoa, IPV6_ADDR_LEN);
    specs.push({
      type: MH_OPT_ALT_COA,
      dataLen: MH_OPT_ALT_COA_LEN,
      align: MH_OPT_ALT_COA_ALIGN,
      alignOffset: MH_OPT_ALT_COA_ALIGN_OFFSET,
      writeData: (b, at) => copyBytes(b, at, a, 0, IPV6_ADDR_LEN),
    });
  }
  if (o.refreshInterval !== undefined) {
    const v = aInteger('options.refreshInterval', o.refreshInterval, 0, U16_MAX);
    specs.push({
      type: MH_OPT_BINDING_REFRESH_ADVICE,
      dataLen: MH_OPT_BRA_LEN,
      align: MH_OPT_BRA_ALIGN,
      alignOffset: 0,
      writeData: (b, at) => writeU16(b, at, v),
    });
  }
  if (o.ipv4HomeAddress !== undefined) {
    const h = o.ipv4HomeAddress;
    const a = ipv4Field('options.ipv4HomeAddress.address', h.address);
    const plen = aInteger('options.ipv4HomeAddress.prefixLength', h.prefixLength, 0, MH_IPV4_PREFIX_MAX);
    const word = (plen << MH_IPV4_HOA_PREFIX_SHIFT) | (h.requestPrefix ? MH_IPV4_HOA_FLAG_P : 0);
    specs.push(ipv4Spec(MH_OPT_IPV4_HOME_ADDRESS, (b, at) => writeU16(b, at, word), a));
  }
  if (o.ipv4CareOf !== undefined) {
    const a = ipv4Field('options.ipv4CareOf', o.ipv4CareOf);
    specs.push(ipv4Spec(MH_OPT_IPV4_COA, (b, at) => writeU16(b, at, 0), a));
  }
  if (o.ipv4AddressAck !== undefined) {
    const k = o.ipv4AddressAck;
    const a = ipv4Field('options.ipv4AddressAck.address', k.address);
    const status = aInteger('options.ipv4AddressAck.status', k.status, 0, U8_MAX);
    const plen = aInteger('options.ipv4AddressAck.prefixLength', k.prefixLength, 0, MH_IPV4_PREFIX_MAX);
    specs.push(
      ipv4Spec(MH_OPT_IPV4_ADDRESS_ACK, (b, at) => writeU16(b, at, (status << BYTE_BITS) | (plen << MH_IPV4_ACK_PREFIX_SHIFT)), a),
    );
  }
  if (o.natDetection !== undefined) {
    const n = o.natDetection;
    const refresh = aInteger('options.natDetection.refreshTime', n.refreshTime, 0, U32_MAX);
    const flags = n.udpEncapsulationRequired ? MH_NATD_FLAG_F : 0;
    specs.push({
      type: MH_OPT_NAT_DETECTION,
      dataLen: MH_OPT_IPV4_LEN,
      align: MH_OPT_IPV4_ALIGN,
      alignOffset: 0,
      writeData: (b, at) => {
        writeU16(b, at, flags);
        writeU32(b, at + MH_OPT_NATD_OFF_REFRESH - MH_OPT_HDR_LEN, refresh);
      },
    });
  }
  if (o.experimental !== undefined) {
    const d = aBytes('options.experimental', o.experimental);
    if (d.length > MH_OPT_MAX_DATA_LEN) throw new RangeError(`options.experimental must be at most ${MH_OPT_MAX_DATA_LEN} bytes`);
    specs.push({
      type: MH_OPT_EXPERIMENTAL,
      dataLen: d.length,
      align: MH_OPT_EXPERIMENTAL_ALIGN,
      alignOffset: 0,
      writeData: (b, at) => copyBytes(b, at, d, 0, d.length),
    });
  }
  return specs;
}

/** An RFC 5555 IPv4 option: a 16-bit field written by `field`, then the 4-byte `addr`; align 4n. */
function ipv4Spec(type: number, field: (b: Uint8Array, at: number) => void, addr: Uint8Array): OptionSpec {
  return {
    type,
    dataLen: MH_OPT_IPV4_LEN,
    align: MH_OPT_IPV4_ALIGN,
    alignOffset: 0,
    writeData: (b, at) => {
      field(b, at);
      copyBytes(b, at + MH_OPT_IPV4_OFF_ADDR - MH_OPT_HDR_LEN, addr, 0, IPV4_ADDR_LEN);
    },
  };
}

/** Padding bytes needed at MH offset `pos` so that the next option starts at `align`n+`alignOffset`
 * (RFC 6275 §6.2: alignment is counted from the start of the Mobility Header). */
function padFor(pos: number, align: number, alignOffset: number): number {
  return (((alignOffset - pos) % align) + align) % align;
}

/** Writes `n` bytes of padding at `buf[at]`: nothing, a Pad1, or a PadN with n-2 zero bytes
 * (RFC 6275 §6.2.2, §6.2.3). */
function writePadding(buf: Uint8Array, at: number, n: number): void {
  if (n === 0) return;
  if (n === MH_OPT_PAD1_LEN) {
    buf[at] = MH_OPT_PAD1;
    return;
  }
  buf[at + MH_OPT_OFF_TYPE] = MH_OPT_PADN;
  buf[at + MH_OPT_OFF_LEN] = n - MH_OPT_HDR_LEN;
  buf.fill(0, at + MH_OPT_HDR_LEN, at + n);
}

/** Total MH length for a message whose fixed part is `fixedLen` bytes followed by `specs`. */
function layoutLength(fixedLen: number, specs: readonly OptionSpec[]): number {
  let pos = fixedLen;
  for (const s of specs) pos += padFor(pos, s.align, s.alignOffset) + MH_OPT_HDR_LEN + s.dataLen;
  return pos + padFor(pos, MH_UNIT, 0);
}

/**
 * Common tail of every builder: checks the room, writes the common header (RFC 6275 §6.1.1:
 * Payload Proto 59, Header Len = total/8 - 1), lets `fixed` write the message fields after it, emits
 * the options with their alignment padding and the final padding to a multiple of 8 octets, then
 * fills the checksum over the identities. Returns the bytes written.
 */
function writeMessage(
  buf: Uint8Array,
  off: number,
  mhType: number,
  fixedLen: number,
  fixed: (b: Uint8Array, o: number) => void,
  specs: readonly OptionSpec[],
  src: Uint8Array,
  dst: Uint8Array,
): number {
  aBytes('src', src, IPV6_ADDR_LEN);
  aBytes('dst', dst, IPV6_ADDR_LEN);
  const total = layoutLength(fixedLen, specs);
  if (total > MH_MAX_LEN) throw new RangeError(`mobility header would be ${total} bytes, more than ${MH_MAX_LEN}`);
  if (!Number.isInteger(off) || off < 0 || off + total > buf.length) {
    throw new RangeError(`buffer too small: the mobility header needs ${total} bytes at offset ${off}`);
  }
  buf[off + MH_OFF_PAYLOAD_PROTO] = IPPROTO_NONE;
  buf[off + MH_OFF_HDR_LEN] = total / MH_UNIT - 1;
  buf[off + MH_OFF_TYPE] = mhType;
  buf[off + MH_OFF_RESERVED] = 0;
  writeU16(buf, off + MH_OFF_CHECKSUM, 0);
  fixed(buf, off);
  let pos = fixedLen;
  for (const s of specs) {
    const pad = padFor(pos, s.align, s.alignOffset);
    writePadding(buf, off + pos, pad);
    pos += pad;
    buf[off + pos + MH_OPT_OFF_TYPE] = s.type;
    buf[off + pos + MH_OPT_OFF_LEN] = s.dataLen;
    s.writeData(buf, off + pos + MH_OPT_HDR_LEN);
    pos += MH_OPT_HDR_LEN + s.dataLen;
  }
  writePadding(buf, off + pos, total - pos);
  fillMhChecksum(buf, off, src, dst);
  return total;
}

/** Fields a Binding Update builder takes. */
export interface BindingUpdateInput {
  seq: number;
  flags: number;
  /** 4-second units. */
  lifetime: number;
  options?: MobilityOptions;
}

/**
 * Writes a Binding Update (RFC 6275 §6.1.7) at `buf[off]` with its options padded to their
 * alignment (AltCoA at 8n+6, PROTOCOL.md F.29) and the total to a multiple of 8; the checksum is
 * over the identities `src` (HoA) and `dst` (HA or CN address). Returns the bytes written.
 * Throws TypeError/RangeError on invalid fields or a buffer too small (a caller bug).
 */
export function writeBindingUpdate(
  buf: Uint8Array,
  off: number,
  bu: BindingUpdateInput,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  const seq = aInteger('bu.seq', bu.seq, 0, U16_MAX);
  const flags = aInteger('bu.flags', bu.flags, 0, U16_MAX);
  const lifetime = aInteger('bu.lifetime', bu.lifetime, 0, MH_LIFETIME_MAX_UNITS);
  const specs = optionSpecs(bu.options);
  return writeMessage(
    buf,
    off,
    MH_TYPE_BU,
    BU_FIXED_LEN,
    (b, o) => {
      writeU16(b, o + BU_OFF_SEQ, seq);
      writeU16(b, o + BU_OFF_FLAGS, flags);
      writeU16(b, o + BU_OFF_LIFETIME, lifetime);
    },
    specs,
    src,
    dst,
  );
}

/** Fields a Binding Acknowledgement builder takes. */
export interface BindingAckInput {
  status: number;
  flags?: number;
  seq: number;
  /** 4-second units. */
  lifetime: number;
  options?: MobilityOptions;
}

/**
 * Writes a Binding Acknowledgement (RFC 6275 §6.1.8) at `buf[off]`, padded to a multiple of 8;
 * the checksum is over the identities `src` (HA or CN address) and `dst` (HoA). Returns the bytes
 * written. Throws TypeError/RangeError on invalid fields or a buffer too small.
 */
export function writeBindingAck(buf: Uint8Array, off: number, ba: BindingAckInput, src: Uint8Array, dst: Uint8Array): number {
  const status = aInteger('ba.status', ba.status, 0, U8_MAX);
  const flags = aInteger('ba.flags', ba.flags ?? 0, 0, U8_MAX);
  const seq = aInteger('ba.seq', ba.seq, 0, U16_MAX);
  const lifetime = aInteger('ba.lifetime', ba.lifetime, 0, MH_LIFETIME_MAX_UNITS);
  const specs = optionSpecs(ba.options);
  return writeMessage(
    buf,
    off,
    MH_TYPE_BA,
    BA_FIXED_LEN,
    (b, o) => {
      b[o + BA_OFF_STATUS] = status;
      b[o + BA_OFF_FLAGS] = flags;
      writeU16(b, o + BA_OFF_SEQ, seq);
      writeU16(b, o + BA_OFF_LIFETIME, lifetime);
    },
    specs,
    src,
    dst,
  );
}

/** Fields a Binding Error builder takes. */
export interface BindingErrorInput {
  status: number;
  /** 16 bytes: the home address from the offending packet, or the unspecified address. */
  homeAddress: Uint8Array;
  options?: MobilityOptions;
}

/**
 * Writes a Binding Error (RFC 6275 §6.1.9) at `buf[off]` (24 bytes without options); checksum
 * over `src`/`dst`. Returns the bytes written. Throws TypeError/RangeError on invalid input.
 */
export function writeBindingError(
  buf: Uint8Array,
  off: number,
  be: BindingErrorInput,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  const status = aInteger('be.status', be.status, 0, U8_MAX);
  const hoa = aBytes('be.homeAddress', be.homeAddress, IPV6_ADDR_LEN);
  const specs = optionSpecs(be.options);
  return writeMessage(
    buf,
    off,
    MH_TYPE_BE,
    BE_FIXED_LEN,
    (b, o) => {
      b[o + BE_OFF_STATUS] = status;
      b[o + BE_OFF_RESERVED] = 0;
      copyBytes(b, o + BE_OFF_HOA, hoa, 0, IPV6_ADDR_LEN);
    },
    specs,
    src,
    dst,
  );
}

/**
 * Writes a Binding Refresh Request (RFC 6275 §6.1.2) at `buf[off]` (8 bytes without options);
 * checksum over `src`/`dst`. Returns the bytes written. Throws on invalid input.
 */
export function writeBindingRefreshRequest(
  buf: Uint8Array,
  off: number,
  options: MobilityOptions | undefined,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  const specs = optionSpecs(options);
  return writeMessage(buf, off, MH_TYPE_BRR, BRR_FIXED_LEN, (b, o) => writeU16(b, o + MH_OFF_DATA, 0), specs, src, dst);
}

/**
 * Writes an experimental Mobility Header (RFC 5096 §2) of type `mhType` (default 11, PROTOCOL.md
 * F.31) at `buf[off]`: the common header, `body` right after the checksum, then Pad1/PadN to a
 * multiple of 8 octets. Checksum over `src`/`dst`. Returns the bytes written. Throws on invalid
 * input or a body that makes the MH longer than 2048 bytes.
 */
export function writeMhExperimental(
  buf: Uint8Array,
  off: number,
  body: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  mhType: number = MH_TYPE_EXPERIMENTAL,
): number {
  const type = aInteger('mhType', mhType, 0, U8_MAX);
  const data = aBytes('body', body);
  const fixedLen = MH_EXPERIMENTAL_FIXED_LEN + data.length;
  return writeMessage(buf, off, type, fixedLen, (b, o) => copyBytes(b, o + MH_OFF_DATA, data, 0, data.length), [], src, dst);
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parses the options in `buf[start, end)` into `out`. Returns false when an option overruns the
 * area, a known option has the wrong length, or a known option appears twice (ambiguous: which
 * AltCoA would be the binding's?). Unknown options are skipped (RFC 6275 §6.2.1). */
function parseOptions(buf: Uint8Array, start: number, end: number, out: MobilityOptions): boolean {
  let i = start;
  while (i < end) {
    const type = buf[i + MH_OPT_OFF_TYPE]!;
    if (type === MH_OPT_PAD1) {
      i += MH_OPT_PAD1_LEN;
      continue;
    }
    if (i + MH_OPT_HDR_LEN > end) return false;
    const len = buf[i + MH_OPT_OFF_LEN]!;
    const data = i + MH_OPT_HDR_LEN;
    if (data + len > end) return false;
    switch (type) {
      case MH_OPT_PADN:
        break;
      case MH_OPT_BINDING_REFRESH_ADVICE:
        if (len !== MH_OPT_BRA_LEN || out.refreshInterval !== undefined) return false;
        out.refreshInterval = readU16(buf, data);
        break;
      case MH_OPT_ALT_COA:
        if (len !== MH_OPT_ALT_COA_LEN || out.altCoa !== undefined) return false;
        out.altCoa = buf.slice(data, data + IPV6_ADDR_LEN);
        break;
      case MH_OPT_IPV4_HOME_ADDRESS: {
        if (len !== MH_OPT_IPV4_LEN || out.ipv4HomeAddress !== undefined) return false;
        const word = readU16(buf, i + MH_OPT_IPV4_OFF_FIELD);
        out.ipv4HomeAddress = {
          address: buf.slice(i + MH_OPT_IPV4_OFF_ADDR, i + MH_OPT_IPV4_OFF_ADDR + IPV4_ADDR_LEN),
          prefixLength: (word >> MH_IPV4_HOA_PREFIX_SHIFT) & MH_IPV4_PREFIX_MASK,
          requestPrefix: (word & MH_IPV4_HOA_FLAG_P) !== 0,
        };
        break;
      }
      case MH_OPT_IPV4_ADDRESS_ACK:
        if (len !== MH_OPT_IPV4_LEN || out.ipv4AddressAck !== undefined) return false;
        out.ipv4AddressAck = {
          status: buf[i + MH_OPT_IPV4_OFF_FIELD]!,
          prefixLength: (buf[i + MH_OPT_IPV4_OFF_FIELD + 1]! >> MH_IPV4_ACK_PREFIX_SHIFT) & MH_IPV4_PREFIX_MASK,
          address: buf.slice(i + MH_OPT_IPV4_OFF_ADDR, i + MH_OPT_IPV4_OFF_ADDR + IPV4_ADDR_LEN),
        };
        break;
      case MH_OPT_NAT_DETECTION:
        if (len !== MH_OPT_IPV4_LEN || out.natDetection !== undefined) return false;
        out.natDetection = {
          udpEncapsulationRequired: (readU16(buf, i + MH_OPT_IPV4_OFF_FIELD) & MH_NATD_FLAG_F) !== 0,
          refreshTime: readU32(buf, i + MH_OPT_NATD_OFF_REFRESH),
        };
        break;
      case MH_OPT_IPV4_COA:
        if (len !== MH_OPT_IPV4_LEN || out.ipv4CareOf !== undefined) return false;
        out.ipv4CareOf = buf.slice(i + MH_OPT_IPV4_OFF_ADDR, i + MH_OPT_IPV4_OFF_ADDR + IPV4_ADDR_LEN);
        break;
      case MH_OPT_EXPERIMENTAL:
        if (out.experimental !== undefined) return false;
        out.experimental = buf.slice(data, data + len);
        break;
      default:
        break;
    }
    i = data + len;
  }
  return true;
}

/**
 * Parses and verifies the Mobility Header at `buf[off, off+len)`, `len` being the bytes after the
 * preceding header (bytes beyond Header Len are ignored, as after No Next Header). `src`/`dst` are
 * the 16-byte identity addresses the checksum covers (RFC 6275 §6.1.1, PROTOCOL.md F.13).
 * `experimentalType` is the MH type parsed as the experimental message (default 11).
 *
 * Returns the message (owning copies of its addresses and body, never aliasing `buf`) or
 * Drop.MALFORMED when: shorter than 8 bytes; Header Len past `len`; Payload Proto not 59; the
 * checksum does not verify; the message is shorter than its type's fixed part (RFC 6275 §9.2); an
 * option is out of bounds, of the wrong length or repeated. Never throws.
 */
export function parseMh(
  buf: Uint8Array,
  off: number,
  len: number,
  src: Uint8Array,
  dst: Uint8Array,
  experimentalType: number = MH_TYPE_EXPERIMENTAL,
): MhMessage | DropReason {
  if (len < MH_MIN_LEN || off < 0 || off + len > buf.length) return Drop.MALFORMED;
  if (src.length < IPV6_ADDR_LEN || dst.length < IPV6_ADDR_LEN) return Drop.MALFORMED;
  const length = (buf[off + MH_OFF_HDR_LEN]! + 1) * MH_UNIT;
  if (length > len) return Drop.MALFORMED;
  // RFC 6275 §9.2: Payload Proto MUST be IPPROTO_NONE; the checksum MUST verify.
  if (buf[off + MH_OFF_PAYLOAD_PROTO] !== IPPROTO_NONE) return Drop.MALFORMED;
  if (!mhChecksumValid(buf, off, length, src, dst)) return Drop.MALFORMED;
  const mhType = buf[off + MH_OFF_TYPE]!;
  const end = off + length;
  if (mhType === experimentalType) {
    return { kind: 'experimental', mhType, length, body: buf.slice(off + MH_OFF_DATA, end) };
  }
  const options: MobilityOptions = {};
  switch (mhType) {
    case MH_TYPE_BU:
      if (length < BU_FIXED_LEN || !parseOptions(buf, off + BU_FIXED_LEN, end, options)) return Drop.MALFORMED;
      return {
        kind: 'binding-update',
        mhType,
        length,
        seq: readU16(buf, off + BU_OFF_SEQ),
        flags: readU16(buf, off + BU_OFF_FLAGS),
        lifetime: readU16(buf, off + BU_OFF_LIFETIME),
        options,
      };
    case MH_TYPE_BA:
      if (length < BA_FIXED_LEN || !parseOptions(buf, off + BA_FIXED_LEN, end, options)) return Drop.MALFORMED;
      return {
        kind: 'binding-ack',
        mhType,
        length,
        status: buf[off + BA_OFF_STATUS]!,
        flags: buf[off + BA_OFF_FLAGS]!,
        seq: readU16(buf, off + BA_OFF_SEQ),
        lifetime: readU16(buf, off + BA_OFF_LIFETIME),
        options,
      };
    case MH_TYPE_BE:
      if (length < BE_FIXED_LEN || !parseOptions(buf, off + BE_FIXED_LEN, end, options)) return Drop.MALFORMED;
      return {
        kind: 'binding-error',
        mhType,
        length,
        status: buf[off + BE_OFF_STATUS]!,
        homeAddress: buf.slice(off + BE_OFF_HOA, off + BE_OFF_HOA + IPV6_ADDR_LEN),
        options,
      };
    case MH_TYPE_BRR:
      if (!parseOptions(buf, off + BRR_FIXED_LEN, end, options)) return Drop.MALFORMED;
      return { kind: 'binding-refresh-request', mhType, length, options };
    default:
      return { kind: 'other', mhType, length };
  }
}
