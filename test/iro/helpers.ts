/** Shared helpers for test/iro: documentation addresses, message builders, action filters. */
import { parseIp } from '../../src/util/addr.js';
import { BU_FLAG_A, BU_FLAG_H, MH_TYPE_EXPERIMENTAL } from '../../src/packet/constants.js';
import { parseMh, type BindingAck, type BindingError, type BindingUpdate, type MhMessage } from '../../src/packet/mh.js';
import { writeMhToSend, type IroAction, type MhArrival, type MhToSend } from '../../src/iro/actions.js';
import { locator, type Locator } from '../../src/iro/locator.js';

export function ip(s: string): Uint8Array {
  const a = parseIp(s);
  if (!a) throw new Error(`bad test address ${s}`);
  return a;
}

// Documentation addresses only (2001:db8::/32, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
export const HOA = ip('2001:db8:100::10');
export const HOA4 = ip('198.51.100.77');
export const HA_ID = ip('2001:db8:100::1');
export const CN_ID = ip('2001:db8:300::30');
export const COA_A = locator(ip('2001:db8:a::10'));
export const COA_B = locator(ip('2001:db8:b::10'));
export const COA_V4 = locator(ip('198.51.100.10'), 4500);
/** An address behind a NAT and the translated locator the far end sees. */
export const COA_PRIVATE = locator(ip('192.0.2.10'), 4500);
export const NAT_PUBLIC = locator(ip('203.0.113.7'), 61000);
export const HA_V6 = locator(HA_ID);
export const HA_V4 = locator(ip('203.0.113.130'), 4500);
export const ATTACKER = locator(ip('2001:db8:666::66'));

export const AH = BU_FLAG_A | BU_FLAG_H;

/** Deterministic "random" bytes: 1, 2, 3, ... continuing across calls. */
export function countingRandom(): (n: number) => Uint8Array {
  let k = 0;
  return (n) => Uint8Array.from({ length: n }, () => ++k & 0xff);
}

export function arrival(src: Locator, dst: Locator, identitySrc: Uint8Array): MhArrival {
  return { src, dst, identitySrc };
}

export function bu(seq: number, flags: number, lifetime: number, options: BindingUpdate['options']): MhMessage {
  return { kind: 'binding-update', mhType: 5, length: 0, seq, flags, lifetime, options };
}

export function ba(status: number, seq: number, lifetime: number, options: BindingAck['options'] = {}): MhMessage {
  return { kind: 'binding-ack', mhType: 6, length: 0, status, flags: 0, seq, lifetime, options };
}

export function be(status: number, homeAddress: Uint8Array): MhMessage {
  const e: BindingError = { status, homeAddress, options: {} };
  return { kind: 'binding-error', mhType: 7, length: 0, ...e };
}

export function brr(): MhMessage {
  return { kind: 'binding-refresh-request', mhType: 0, length: 0, options: {} };
}

/** What the peer would parse: `msg` written with the builders and parsed back (checksum over
 * the identities `src` -> `dst`). */
export function wire(msg: MhToSend, src: Uint8Array, dst: Uint8Array, experimentalType = MH_TYPE_EXPERIMENTAL): MhMessage {
  const buf = new Uint8Array(2048);
  const n = writeMhToSend(buf, 0, msg, src, dst);
  const m = parseMh(buf, 0, n, src, dst, experimentalType);
  if (typeof m === 'number') throw new Error(`builder produced an unparsable message (drop ${m})`);
  return m;
}

export function bytesOf(msg: MhToSend, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const buf = new Uint8Array(2048);
  return buf.slice(0, writeMhToSend(buf, 0, msg, src, dst));
}

export type ActionOf<K extends IroAction['kind']> = Extract<IroAction, { kind: K }>;

export function ofKind<K extends IroAction['kind']>(actions: readonly IroAction[], kind: K): ActionOf<K>[] {
  return actions.filter((a): a is ActionOf<K> => a.kind === kind);
}

/** The messages of the send-mh actions. */
export function sent(actions: readonly IroAction[]): MhToSend[] {
  return ofKind(actions, 'send-mh').map((a) => a.message);
}

export function onlyOne<T>(xs: readonly T[], what = 'element'): T {
  if (xs.length !== 1) throw new Error(`expected exactly one ${what}, got ${xs.length}`);
  return xs[0]!;
}

/** The single BU among `actions`. */
export function theBu(actions: readonly IroAction[]): Extract<MhToSend, { kind: 'binding-update' }> {
  const m = onlyOne(sent(actions).filter((x) => x.kind === 'binding-update'), 'binding update');
  if (m.kind !== 'binding-update') throw new Error('unreachable');
  return m;
}

export function theBa(actions: readonly IroAction[]): Extract<MhToSend, { kind: 'binding-ack' }> {
  const m = onlyOne(sent(actions).filter((x) => x.kind === 'binding-ack'), 'binding acknowledgement');
  if (m.kind !== 'binding-ack') throw new Error('unreachable');
  return m;
}
