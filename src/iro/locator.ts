/**
 * Locators: where a node is on the wire (PROTOCOL.md A.5). An SA keeps its identity addresses
 * (HoA, HA, CN address) forever; mobility only changes the locator each end puts on the wire.
 * A locator is an address plus the UDP port used under RFC 3948 encapsulation (0 for raw ESP).
 *
 * Locators are values: `locator()` copies the address, and nothing in iro/ mutates one after.
 */

import { formatIp } from '../util/addr.js';
import { bytesEqual } from '../util/bytes.js';
import { IroError } from '../util/errors.js';
import { IPV4_ADDR_LEN, IPV6_ADDR_LEN } from '../packet/constants.js';

const PORT_MAX = 0xffff;

export interface Locator {
  readonly family: 4 | 6;
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  readonly addr: Uint8Array;
  /** UDP port under RFC 3948 encapsulation; 0 for raw ESP (IP protocol 50). */
  readonly port: number;
}

/** Builds a locator from an address (copied) and a port. Throws IroError ERR_USAGE on an address
 * that is not 4 or 16 bytes or a port outside 0-65535 (a caller bug, never packet input). */
export function locator(addr: Uint8Array, port = 0): Locator {
  if (!(addr instanceof Uint8Array) || (addr.length !== IPV4_ADDR_LEN && addr.length !== IPV6_ADDR_LEN)) {
    throw new IroError('ERR_USAGE', 'locator address must be a 4- or 16-byte Uint8Array');
  }
  if (!Number.isInteger(port) || port < 0 || port > PORT_MAX) {
    throw new IroError('ERR_USAGE', `locator port must be an integer 0-${PORT_MAX}, got ${String(port)}`);
  }
  return { family: addr.length === IPV4_ADDR_LEN ? 4 : 6, addr: new Uint8Array(addr), port };
}

/** Checks a locator handed in through the public API and returns an owned copy. */
export function checkLocator(name: string, v: unknown): Locator {
  if (typeof v !== 'object' || v === null) throw new IroError('ERR_USAGE', `${name} must be a locator object`);
  const l = v as Partial<Locator>;
  if (!(l.addr instanceof Uint8Array)) throw new IroError('ERR_USAGE', `${name}.addr must be a Uint8Array`);
  const out = locator(l.addr, l.port ?? 0);
  if (l.family !== undefined && l.family !== out.family) {
    throw new IroError('ERR_USAGE', `${name}.family is ${String(l.family)} but the address is IPv${out.family}`);
  }
  return out;
}

export function locatorEquals(a: Locator | null | undefined, b: Locator | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.port === b.port && bytesEqual(a.addr, b.addr);
}

/** `192.0.2.1:4500`, `[2001:db8::1]:4500`, or the bare address for raw ESP (port 0). */
export function formatLocator(l: Locator | null): string {
  if (!l) return 'identity';
  const ip = formatIp(l.addr);
  if (l.port === 0) return ip;
  return l.family === 6 ? `[${ip}]:${l.port}` : `${ip}:${l.port}`;
}

const V6_LINK_LOCAL_MASK = 0xc0;
const V6_LINK_LOCAL_FIRST = 0xfe;
const V6_LINK_LOCAL_SECOND = 0x80;
const V6_MULTICAST_FIRST = 0xff;
const V4_THIS_NETWORK = 0;
const V4_LOOPBACK = 127;
const V4_MULTICAST_MIN = 224;
const V6_LOOPBACK_LAST = 1;

/**
 * True when `addr` can be a care-of address: a unicast address that routes beyond the link, so not
 * unspecified, loopback, multicast, IPv6 link-local, IPv4 0/8, 127/8 or 224/3 (RFC 6275 §9.5.1
 * discards BUs whose care-of address is not a routable unicast address).
 */
export function isUsableCareOf(addr: Uint8Array): boolean {
  if (addr.length === IPV4_ADDR_LEN) {
    const a = addr[0]!;
    return a !== V4_THIS_NETWORK && a !== V4_LOOPBACK && a < V4_MULTICAST_MIN;
  }
  if (addr.length !== IPV6_ADDR_LEN) return false;
  if (addr[0] === V6_MULTICAST_FIRST) return false;
  if (addr[0] === V6_LINK_LOCAL_FIRST && (addr[1]! & V6_LINK_LOCAL_MASK) === V6_LINK_LOCAL_SECOND) return false;
  let zeroPrefix = true;
  for (let i = 0; i < IPV6_ADDR_LEN - 1; i++) if (addr[i] !== 0) zeroPrefix = false;
  const last = addr[IPV6_ADDR_LEN - 1]!;
  return !(zeroPrefix && (last === 0 || last === V6_LOOPBACK_LAST));
}
