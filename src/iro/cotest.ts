/**
 * iro's CoA test: the care-of reachability check a correspondent runs before it sends anything to
 * a mobile node's new care-of address (PROTOCOL.md A.8, A.10 correspondent steps 3-5). The IRO
 * draft's own formats are unknown [NR], so this is a project message: an RFC 5096 experimental
 * Mobility Header whose MH type is configuration (default 11, PROTOCOL.md F.31), never a constant
 * of the logic.
 *
 * Byte layout of the whole Mobility Header: 24 bytes, network byte order, offsets from its first
 * byte.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * | Payload Proto |  Header Len   |    MH Type    |   Reserved    |  bytes  0-3
 * +---------------+---------------+---------------+---------------+
 * |           Checksum            |    Subtype    |   Reserved    |  bytes  4-7
 * +-------------------------------+---------------+---------------+
 * |        Sequence Number        |                               |  bytes  8-11
 * +-------------------------------+                               +
 * |                       Cookie (64 bits)                        |  bytes 12-15
 * +                               +-------------------------------+
 * |                               |                               |  bytes 16-19
 * +-------------------------------+                               +
 * |                   Padding (6 bytes of zero)                   |  bytes 20-23
 * +---------------------------------------------------------------+
 * ```
 *
 * | offset | size | field           | value                                                      |
 * |-------:|-----:|-----------------|------------------------------------------------------------|
 * |      0 |    1 | Payload Proto   | 59 (IPPROTO_NONE), RFC 6275 §6.1.1                          |
 * |      1 |    1 | Header Len      | 2 (24 / 8 - 1)                                             |
 * |      2 |    1 | MH Type         | 11 by default (RFC 5096 experimental); configuration       |
 * |      3 |    1 | Reserved        | 0                                                          |
 * |      4 |    2 | Checksum        | RFC 6275 §6.1.1 over the identities (HoA, CN address), F.13 |
 * |      6 |    1 | Subtype         | 1 = CoA Test Request (CN -> MN), 2 = CoA Test Reply (MN -> CN) |
 * |      7 |    1 | Reserved        | 0 when sent, ignored when received                         |
 * |      8 |    2 | Sequence Number | the sequence number of the Binding Update being tested     |
 * |     10 |    8 | Cookie          | 64 random bits chosen by the CN; the reply echoes them     |
 * |     18 |    6 | Padding         | 0 (MH length a multiple of 8); ignored when received       |
 *
 * Both messages travel inside the MN-CN signalling SA. The request's outer destination is the
 * claimed CoA (the only packet a CN sends to an unverified address); the reply leaves from the
 * CoA. A receiver reads the 12 bytes after the checksum and ignores anything after them.
 * Example, a request answering BU 42 with cookie 01..08 (checksum shown as cc cc):
 * `3b 02 0b 00 cc cc 01 00 00 2a 01 02 03 04 05 06 07 08 00 00 00 00 00 00`.
 */

import { aBytes, aInteger } from '../util/assert.js';
import { readU16, writeU16 } from '../util/bytes.js';
import { MH_EXPERIMENTAL_FIXED_LEN, MH_UNIT } from '../packet/constants.js';
import type { MhToSend } from './actions.js';
import { COTEST_COOKIE_LEN } from './constants.js';

export const COTEST_SUBTYPE_REQUEST = 1;
export const COTEST_SUBTYPE_REPLY = 2;
export type CoTestSubtype = typeof COTEST_SUBTYPE_REQUEST | typeof COTEST_SUBTYPE_REPLY;

/** Offsets inside the body (the bytes after the MH checksum). */
export const COTEST_OFF_SUBTYPE = 0;
export const COTEST_OFF_RESERVED = 1;
export const COTEST_OFF_SEQ = 2;
export const COTEST_OFF_COOKIE = 4;
/** Meaningful bytes of the body: subtype, reserved, sequence, cookie. */
export const COTEST_FIELDS_LEN = COTEST_OFF_COOKIE + COTEST_COOKIE_LEN;
/** The body as sent: the fields plus zero padding so the whole MH is a multiple of 8 octets. */
export const COTEST_BODY_LEN =
  Math.ceil((MH_EXPERIMENTAL_FIXED_LEN + COTEST_FIELDS_LEN) / MH_UNIT) * MH_UNIT - MH_EXPERIMENTAL_FIXED_LEN;
/** Length of the whole CoA test Mobility Header. */
export const COTEST_MH_LEN = MH_EXPERIMENTAL_FIXED_LEN + COTEST_BODY_LEN;

const U16_MAX = 0xffff;

export interface CoTest {
  subtype: CoTestSubtype;
  /** The BU sequence number the test answers, 0-65535. */
  sequence: number;
  /** 8 bytes. */
  cookie: Uint8Array;
}

/** Encodes a CoA test body (COTEST_BODY_LEN bytes, padding included). Throws TypeError/RangeError
 * on an invalid subtype, sequence or cookie (a caller bug). */
export function encodeCoTestBody(t: CoTest): Uint8Array {
  if (t.subtype !== COTEST_SUBTYPE_REQUEST && t.subtype !== COTEST_SUBTYPE_REPLY) {
    throw new RangeError(`cotest.subtype must be ${COTEST_SUBTYPE_REQUEST} or ${COTEST_SUBTYPE_REPLY}`);
  }
  const seq = aInteger('cotest.sequence', t.sequence, 0, U16_MAX);
  const cookie = aBytes('cotest.cookie', t.cookie, COTEST_COOKIE_LEN);
  const body = new Uint8Array(COTEST_BODY_LEN);
  body[COTEST_OFF_SUBTYPE] = t.subtype;
  body[COTEST_OFF_RESERVED] = 0;
  writeU16(body, COTEST_OFF_SEQ, seq);
  body.set(cookie, COTEST_OFF_COOKIE);
  return body;
}

/** Decodes a CoA test body (the `body` of packet/mh.ts's experimental message). Returns null when
 * it is shorter than the fields or the subtype is unknown. Never throws; the cookie is a copy. */
export function decodeCoTestBody(body: Uint8Array): CoTest | null {
  if (body.length < COTEST_FIELDS_LEN) return null;
  const subtype = body[COTEST_OFF_SUBTYPE];
  if (subtype !== COTEST_SUBTYPE_REQUEST && subtype !== COTEST_SUBTYPE_REPLY) return null;
  return {
    subtype,
    sequence: readU16(body, COTEST_OFF_SEQ),
    cookie: body.slice(COTEST_OFF_COOKIE, COTEST_OFF_COOKIE + COTEST_COOKIE_LEN),
  };
}

/** The message to send for `t` with the configured MH type. */
export function coTestMessage(mhType: number, t: CoTest): MhToSend {
  return { kind: 'experimental', mhType, body: encodeCoTestBody(t) };
}
