/**
 * Parsers for the value types of the config file. Each returns a `Parsed<T>`: the value, or a
 * message saying what is wrong with it. None of them throws, and none echoes a value that may be
 * key material (see `quoteValue`); key values are never echoed at all.
 *
 * RFCs: 4303 §2.1 (SPI ranges), 4291/5952 (IPv6 text), 3986 §3.2.2 (brackets around IPv6 in
 * host:port), 1123 §2.1 (host names).
 */
import { formatPrefix, normalizePrefix, parseIp, parseIpv6, parsePrefix, type Prefix } from '../util/addr.js';
import { bytesEqual, fromHex } from '../util/bytes.js';
import type { Endpoint } from './types.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function bad(message: string): { readonly ok: false; readonly message: string } {
  return { ok: false, message };
}

const MAX_QUOTED = 64;
/** 16 or more hex digits in a row never occur in an address, port or name: treat them as a key. */
const KEYLIKE_RE = /[0-9a-fA-F]{16,}/;

/**
 * Quotes a user-supplied string for an error message: JSON-escaped, truncated, and replaced
 * entirely when it looks like key material (a pasted key in the wrong field must not be echoed).
 */
export function quoteValue(v: string): string {
  if (KEYLIKE_RE.test(v)) return '(value not shown: it looks like key material)';
  const s = v.length > MAX_QUOTED ? v.slice(0, MAX_QUOTED) + '…' : v;
  return JSON.stringify(s);
}

/** Splits a comma-separated list; empty items are an error. */
export function splitList(v: string): Parsed<string[]> {
  const items = v.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) return bad('has an empty item in its comma-separated list');
  return ok(items);
}

/** One of `allowed`, matched case-insensitively; returns the canonical spelling. */
export function parseEnum<T extends string>(v: string, allowed: readonly T[]): Parsed<T> {
  const lower = v.toLowerCase();
  const hit = allowed.find((a) => a.toLowerCase() === lower);
  return hit !== undefined ? ok(hit) : bad(`must be one of ${allowed.join(' | ')}, got ${quoteValue(v)}`);
}

const TRUE_WORDS = ['yes', 'on', 'true'];
const FALSE_WORDS = ['no', 'off', 'false'];

/** yes | no (also on/off, true/false), case-insensitive. */
export function parseBoolean(v: string): Parsed<boolean> {
  const lower = v.toLowerCase();
  if (TRUE_WORDS.includes(lower)) return ok(true);
  if (FALSE_WORDS.includes(lower)) return ok(false);
  return bad(`must be yes or no (also on/off), got ${quoteValue(v)}`);
}

/** A decimal integer in [min, max]. */
export function parseInteger(v: string, min: number, max: number): Parsed<number> {
  if (!/^\d{1,15}$/.test(v)) return bad(`must be a whole number from ${min} to ${max}, got ${quoteValue(v)}`);
  const n = Number(v);
  if (n < min || n > max) return bad(`must be from ${min} to ${max}, got ${n}`);
  return ok(n);
}

export const SPI_MIN = 256;
export const SPI_MAX = 0xffffffff;

/** An SPI in hex (0x...) or decimal; 0 and 1..255 are refused (RFC 4303 §2.1). */
export function parseSpi(v: string): Parsed<number> {
  let n: number;
  if (/^0x[0-9a-f]{1,8}$/i.test(v)) n = parseInt(v.slice(2), 16);
  else if (/^\d{1,10}$/.test(v)) n = Number(v);
  else return bad(`must be an SPI in hex (0x100..0xffffffff) or decimal, got ${quoteValue(v)}`);
  if (n > SPI_MAX) return bad(`SPI ${v} does not fit in 32 bits`);
  if (n === 0) return bad('SPI 0 is reserved for local use and never sent (RFC 4303 §2.1); use 0x100 or above');
  if (n < SPI_MIN) return bad(`SPI ${v} is in the range 1-255 reserved by IANA (RFC 4303 §2.1); use 0x100 or above`);
  return ok(n);
}

export function formatSpi(spi: number): string {
  return '0x' + spi.toString(16).padStart(8, '0');
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A duration: a number of seconds, or a number with unit s, m, h or d (`90s`, `1h`). */
export function parseDuration(v: string, minSeconds: number, maxSeconds: number): Parsed<number> {
  const m = /^(\d{1,9})\s*([smhd]?)$/i.exec(v);
  if (!m) return bad(`must be a duration such as 3600, 90s, 30m, 1h or 1d, got ${quoteValue(v)}`);
  const seconds = Number(m[1]) * UNIT_SECONDS[(m[2] || 's').toLowerCase()]!;
  if (seconds < minSeconds || seconds > maxSeconds) {
    return bad(`must be from ${minSeconds} s to ${maxSeconds} s, got ${seconds} s`);
  }
  return ok(seconds);
}

/** A port number 1..65535. */
export function parsePort(v: string): Parsed<number> {
  return parseInteger(v, 1, 65535);
}

/** An IP address literal (no prefix length). */
export function parseAddress(v: string): Parsed<Uint8Array> {
  const a = parseIp(v);
  return a ? ok(a) : bad(`${quoteValue(v)} is not an IPv4 or IPv6 address`);
}

/** An address with an optional prefix length (a bare address is a host prefix). Host bits may be set. */
export function parseAddressPrefix(v: string): Parsed<Prefix> {
  const p = parsePrefix(v);
  return p ? ok(p) : bad(`${quoteValue(v)} is not an IP address with an optional /prefix-length`);
}

/** A network prefix: as parseAddressPrefix, but host bits must be clear (`2001:db8::/64`). */
export function parseNetworkPrefix(v: string): Parsed<Prefix> {
  const p = parsePrefix(v);
  if (!p) return bad(`${quoteValue(v)} is not an IP prefix such as 2001:db8::/64 or 192.0.2.0/24`);
  const n = normalizePrefix(p);
  if (!bytesEqual(n.addr, p.addr)) return bad(`${quoteValue(v)} has host bits set; did you mean ${formatPrefix(n)}?`);
  return ok(p);
}

/** Applies `parse` to every item of a comma-separated list; all item errors are joined. */
export function parseList<T>(v: string, parse: (item: string) => Parsed<T>): Parsed<T[]> {
  const items = splitList(v);
  if (!items.ok) return items;
  const out: T[] = [];
  const errors: string[] = [];
  for (const item of items.value) {
    const r = parse(item);
    if (r.ok) out.push(r.value);
    else errors.push(r.message);
  }
  return errors.length > 0 ? bad(errors.join('; ')) : ok(out);
}

const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

/**
 * `host:port`, `[ipv6]:port`, or the same without the port (then `defaultPort`). The host is an
 * address literal or, when `allowNames`, a DNS name. IPv6 needs brackets (RFC 3986 §3.2.2):
 * without them `2001:db8::1:4500` would silently read as an address.
 */
export function parseHostPort(v: string, defaultPort: number, allowNames: boolean): Parsed<Endpoint> {
  let host: string;
  let portText: string | undefined;
  if (v.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(v);
    if (!m) return bad(`${quoteValue(v)} is not [IPv6-address]:port`);
    host = m[1]!;
    portText = m[2];
    if (!parseIpv6(host)) return bad(`${quoteValue(host)} is not an IPv6 address`);
  } else {
    const colons = v.split(':').length - 1;
    if (colons > 1) return bad(`an IPv6 address needs brackets around it, as in [2001:db8::1]:4500; got ${quoteValue(v)}`);
    const colon = v.indexOf(':');
    host = colon === -1 ? v : v.slice(0, colon);
    portText = colon === -1 ? undefined : v.slice(colon + 1);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    const p = parsePort(portText);
    if (!p.ok) return bad(`port ${p.message}`);
    port = p.value;
  }
  const address = parseIp(host);
  if (address) return ok({ host, address, port });
  if (/^[\d.]+$/.test(host)) return bad(`${quoteValue(host)} is not a valid IPv4 address`);
  if (!allowNames) return bad(`${quoteValue(host)} is not an IP address`);
  if (!HOSTNAME_RE.test(host)) return bad(`${quoteValue(host)} is neither an IP address nor a valid host name`);
  return ok({ host, address: null, port });
}

/** wg-quick's interface-name rule (IFNAMSIZ 16 including the NUL). */
const IFNAME_RE = /^[A-Za-z0-9_=+.-]{1,15}$/;

export function parseInterfaceName(v: string): Parsed<string> {
  if (!IFNAME_RE.test(v) || v === '.' || v === '..') {
    return bad(`${quoteValue(v)} is not a network interface name (1-15 of A-Z a-z 0-9 _ = + . -)`);
  }
  return ok(v);
}

/** A name usable as a metrics label value and in file names. */
export function parsePeerName(v: string): Parsed<string> {
  return /^[A-Za-z0-9_.-]{1,32}$/.test(v)
    ? ok(v)
    : bad(`${quoteValue(v)} is not a peer name (1-32 of A-Z a-z 0-9 _ . -)`);
}

export function parseAbsolutePath(v: string): Parsed<string> {
  return v.startsWith('/') ? ok(v) : bad(`must be an absolute path, got ${quoteValue(v)}`);
}

/** Hex digits (optionally 0x-prefixed, whitespace ignored). The message never contains the value. */
export function parseHexBytes(v: string): Parsed<Uint8Array> {
  try {
    const bytes = fromHex(v);
    return bytes.length > 0 ? ok(bytes) : bad('is empty');
  } catch {
    return bad('is not an even number of hex digits');
  }
}
