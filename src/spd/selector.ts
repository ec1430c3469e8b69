/**
 * Traffic selectors: the match part of an SPD entry and of an SA (RFC 4301 §4.4.1.1, §4.4.2.1).
 *
 * A selector names addresses from the point of view of this node: `local` prefixes and `remote`
 * prefixes. A FlowTuple (packet/flow.ts) names them by position in the packet: `src` and `dst`.
 * Which is which depends on the direction, and every match takes that direction explicitly:
 *   outbound ('out'): flow.src = local,  flow.dst = remote   (RFC 4301 §5.1)
 *   inbound  ('in'):  flow.src = remote, flow.dst = local    (RFC 4301 §5.2)
 * Ports follow the same mapping. ICMP type/code and the MH type follow the FlowTuple encoding
 * (srcPort = type, dstPort = code; MH: srcPort = MH type) and do not depend on the direction.
 *
 * RFCs: 4301 §4.4.1.1 (selectors, ANY and OPAQUE), §5.2 (inbound check after decryption),
 * 4443 / 792 (ICMP type and code), 6275 §6.1 (Mobility Header type).
 */
import type { FlowTuple } from '../packet/flow.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MH, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../packet/constants.js';
import { formatPrefix, normalizePrefix, parsePrefix, prefixContains, type Prefix } from '../util/addr.js';
import { aInteger } from '../util/assert.js';

/** Which way a packet crosses the IPsec boundary (RFC 4301 §5.1 outbound, §5.2 inbound). */
export type Direction = 'out' | 'in';

/** `2001:db8::/32`, `192.0.2.1` (a host prefix), or a parsed Prefix. */
export type PrefixSpec = string | Prefix;
/** One value, or an inclusive range `[lo, hi]`. */
export type RangeSpec = number | readonly [number, number];

/**
 * What a selector matches. Every field left out means ANY (RFC 4301 §4.4.1.1). Port ranges need
 * `proto` to be TCP, UDP or SCTP; `icmpType`/`icmpCode` need ICMP or ICMPv6; `mhType` needs MH.
 */
export interface SelectorInit {
  /** Local address prefixes, IPv4 and/or IPv6. Default ANY: `0.0.0.0/0` and `::/0`. */
  readonly local?: readonly PrefixSpec[];
  /** Remote address prefixes. Default ANY. */
  readonly remote?: readonly PrefixSpec[];
  /** Next-layer protocol (0-255), or 'any' (the default). */
  readonly proto?: number | 'any';
  readonly localPort?: RangeSpec;
  readonly remotePort?: RangeSpec;
  readonly icmpType?: RangeSpec;
  readonly icmpCode?: RangeSpec;
  readonly mhType?: RangeSpec;
}

const PORT_MAX = 0xffff;
const ICMP_FIELD_MAX = 0xff;
const MH_TYPE_MAX = 0xff;
const PROTO_MAX = 0xff;
const PROTO_ANY = -1;
const IPV4_LEN = 4;
const IPV6_LEN = 16;

/** How the two port-like fields of a selector are read from a FlowTuple. */
const PortKind = {
  /** No port-like constraint: matches any value, and OPAQUE (non-first fragments). */
  NONE: 0,
  /** a = local port, b = remote port: mapped through the direction. */
  PORTS: 1,
  /** a = flow.srcPort (ICMP type / MH type), b = flow.dstPort (ICMP code): not mapped. */
  TYPE_CODE: 2,
} as const;
type PortKind = (typeof PortKind)[keyof typeof PortKind];

function isPortProto(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP;
}

function parsePrefixSpec(field: string, v: unknown): Prefix {
  if (typeof v === 'string') {
    const p = parsePrefix(v.trim());
    if (!p) throw new RangeError(`${field} is not an address prefix: ${JSON.stringify(v)}`);
    return normalizePrefix(p);
  }
  if (typeof v !== 'object' || v === null) throw new TypeError(`${field} must be a prefix string or a Prefix`);
  const { addr, len } = v as { addr?: unknown; len?: unknown };
  if (!(addr instanceof Uint8Array)) throw new TypeError(`${field}.addr must be a Uint8Array`);
  if (addr.length !== IPV4_LEN && addr.length !== IPV6_LEN) {
    throw new RangeError(`${field}.addr must be 4 or 16 bytes long, got ${addr.length}`);
  }
  aInteger(`${field}.len`, len, 0, addr.length * 8);
  return normalizePrefix({ addr, len: len as number });
}

/**
 * ANY and "none of this family", shared by every selector: a peer's selectors should cost only
 * its own prefixes (a gateway holds tens of thousands). A /0 prefix matches whatever its address
 * bytes hold, so the shared objects cannot be corrupted into matching less.
 */
const ANY4_LIST: readonly Prefix[] = Object.freeze([Object.freeze({ addr: new Uint8Array(IPV4_LEN), len: 0 })]);
const ANY6_LIST: readonly Prefix[] = Object.freeze([Object.freeze({ addr: new Uint8Array(IPV6_LEN), len: 0 })]);
const NO_PREFIXES: readonly Prefix[] = Object.freeze([]);

function parsePrefixList(field: string, v: unknown): { v4: readonly Prefix[]; v6: readonly Prefix[] } {
  if (v === undefined) return { v4: ANY4_LIST, v6: ANY6_LIST };
  if (!Array.isArray(v)) throw new TypeError(`${field} must be an array of prefixes`);
  if (v.length === 0) throw new RangeError(`${field} must not be empty (leave it out for ANY)`);
  const v4: Prefix[] = [];
  const v6: Prefix[] = [];
  v.forEach((item: unknown, i: number) => {
    const p = parsePrefixSpec(`${field}[${i}]`, item);
    (p.addr.length === IPV4_LEN ? v4 : v6).push(p);
  });
  // slice(): exact-size copies, without the spare capacity push() leaves.
  return { v4: v4.length > 0 ? v4.slice() : NO_PREFIXES, v6: v6.length > 0 ? v6.slice() : NO_PREFIXES };
}

function parseRange(field: string, v: unknown, max: number): [number, number] {
  if (typeof v === 'number') {
    aInteger(field, v, 0, max);
    return [v, v];
  }
  if (!Array.isArray(v) || v.length !== 2) throw new TypeError(`${field} must be a number or a [lo, hi] pair`);
  const lo = aInteger(`${field}[0]`, v[0], 0, max);
  const hi = aInteger(`${field}[1]`, v[1], 0, max);
  if (lo > hi) throw new RangeError(`${field} must have lo <= hi, got [${lo}, ${hi}]`);
  return [lo, hi];
}

function anyContains(list: readonly Prefix[], addr: Uint8Array, len: number): boolean {
  for (let i = 0; i < list.length; i++) if (prefixContains(list[i]!, addr, 0, len)) return true;
  return false;
}

function rangeJson(lo: number, hi: number, max: number): number | [number, number] | undefined {
  if (lo === 0 && hi === max) return undefined;
  return lo === hi ? lo : [lo, hi];
}

/** The text form of a selector (`iro show --json`); fields that are ANY are left out. */
export interface SelectorJson {
  local: string[];
  remote: string[];
  proto: number | 'any';
  localPort?: number | [number, number];
  remotePort?: number | [number, number];
  icmpType?: number | [number, number];
  icmpCode?: number | [number, number];
  mhType?: number | [number, number];
}

/**
 * A validated, immutable selector. The constructor copies and normalizes its input (host bits
 * cleared), so the caller keeps ownership of whatever it passed. `matches` never allocates.
 */
export class TrafficSelector {
  /** Prefixes by family. A family with an empty list on either side never matches. */
  readonly local4: readonly Prefix[];
  readonly local6: readonly Prefix[];
  readonly remote4: readonly Prefix[];
  readonly remote6: readonly Prefix[];
  /** Next-layer protocol, or -1 for ANY. */
  readonly proto: number;
  private readonly kind: PortKind;
  private readonly aLo: number;
  private readonly aHi: number;
  private readonly bLo: number;
  private readonly bHi: number;

  /**
   * Throws TypeError / RangeError naming the offending field, prefixed with `field`
   * (e.g. `policy "web".remote[1]`).
   */
  constructor(init: SelectorInit = {}, field = 'selector') {
    if (typeof init !== 'object' || init === null) throw new TypeError(`${field} must be an object`);
    const local = parsePrefixList(`${field}.local`, init.local);
    const remote = parsePrefixList(`${field}.remote`, init.remote);
    this.local4 = local.v4;
    this.local6 = local.v6;
    this.remote4 = remote.v4;
    this.remote6 = remote.v6;
    if ((local.v4.length === 0 || remote.v4.length === 0) && (local.v6.length === 0 || remote.v6.length === 0)) {
      throw new RangeError(`${field}: local and remote prefixes share no address family, so nothing can match`);
    }
    const proto = init.proto ?? 'any';
    this.proto = proto === 'any' ? PROTO_ANY : aInteger(`${field}.proto`, proto, 0, PROTO_MAX);

    const has = (k: keyof SelectorInit): boolean => init[k] !== undefined;
    const needs = (keys: (keyof SelectorInit)[], ok: boolean, what: string): void => {
      for (const k of keys) if (has(k) && !ok) throw new RangeError(`${field}.${k} needs ${field}.proto to be ${what}`);
    };
    needs(['localPort', 'remotePort'], isPortProto(this.proto), 'TCP, UDP or SCTP');
    needs(['icmpType', 'icmpCode'], this.proto === IPPROTO_ICMP || this.proto === IPPROTO_ICMPV6, 'ICMP or ICMPv6');
    needs(['mhType'], this.proto === IPPROTO_MH, 'MH (135)');

    let a: [number, number];
    let b: [number, number];
    let kind: PortKind;
    let aMax: number;
    let bMax: number;
    if (isPortProto(this.proto)) {
      aMax = bMax = PORT_MAX;
      a = has('localPort') ? parseRange(`${field}.localPort`, init.localPort, PORT_MAX) : [0, PORT_MAX];
      b = has('remotePort') ? parseRange(`${field}.remotePort`, init.remotePort, PORT_MAX) : [0, PORT_MAX];
      kind = PortKind.PORTS;
    } else if (this.proto === IPPROTO_ICMP || this.proto === IPPROTO_ICMPV6) {
      aMax = bMax = ICMP_FIELD_MAX;
      a = has('icmpType') ? parseRange(`${field}.icmpType`, init.icmpType, ICMP_FIELD_MAX) : [0, ICMP_FIELD_MAX];
      b = has('icmpCode') ? parseRange(`${field}.icmpCode`, init.icmpCode, ICMP_FIELD_MAX) : [0, ICMP_FIELD_MAX];
      kind = PortKind.TYPE_CODE;
    } else if (this.proto === IPPROTO_MH) {
      aMax = MH_TYPE_MAX;
      bMax = PORT_MAX;
      a = has('mhType') ? parseRange(`${field}.mhType`, init.mhType, MH_TYPE_MAX) : [0, MH_TYPE_MAX];
      b = [0, PORT_MAX];
      kind = PortKind.TYPE_CODE;
    } else {
      aMax = bMax = PORT_MAX;
      a = [0, PORT_MAX];
      b = [0, PORT_MAX];
      kind = PortKind.NONE;
    }
    // RFC 4301 §4.4.1.1: a selector whose port-like fields are all ANY also matches OPAQUE
    // (ports unavailable, e.g. a non-first fragment); any narrower value does not.
    if (a[0] === 0 && a[1] === aMax && b[0] === 0 && b[1] === bMax) kind = PortKind.NONE;
    this.kind = kind;
    [this.aLo, this.aHi] = a;
    [this.bLo, this.bHi] = b;
  }

  /**
   * True when `flow` falls within this selector. `dir` says how the flow's src/dst map to
   * local/remote: 'out' = (src local, dst remote), 'in' = (src remote, dst local). Allocation-free.
   */
  matches(flow: FlowTuple, dir: Direction): boolean {
    if (this.proto !== PROTO_ANY && flow.proto !== this.proto) return false;
    const out = dir === 'out';
    const localAddr = out ? flow.src : flow.dst;
    const remoteAddr = out ? flow.dst : flow.src;
    if (flow.family === 6) {
      if (!anyContains(this.remote6, remoteAddr, IPV6_LEN) || !anyContains(this.local6, localAddr, IPV6_LEN)) return false;
    } else if (flow.family === 4) {
      if (!anyContains(this.remote4, remoteAddr, IPV4_LEN) || !anyContains(this.local4, localAddr, IPV4_LEN)) return false;
    } else {
      return false;
    }
    if (this.kind === PortKind.NONE) return true;
    if (flow.fragment) return false; // OPAQUE matches only ANY (RFC 4301 §4.4.1.1)
    let a: number;
    let b: number;
    if (this.kind === PortKind.PORTS) {
      a = out ? flow.srcPort : flow.dstPort;
      b = out ? flow.dstPort : flow.srcPort;
    } else {
      a = flow.srcPort;
      b = flow.dstPort;
    }
    return a >= this.aLo && a <= this.aHi && b >= this.bLo && b <= this.bHi;
  }

  /** `matches(flow, 'out')`: for a packet about to be sent (flow.src = local). */
  matchOutbound(flow: FlowTuple): boolean {
    return this.matches(flow, 'out');
  }

  /**
   * RFC 4301 §5.2 (PROTOCOL.md F.11): after an inbound packet has been decrypted and, for IRO,
   * its identities restored, it must fall within its SA's selectors or be discarded.
   * flow.src = remote (the peer's identity), flow.dst = local.
   */
  matchInbound(flow: FlowTuple): boolean {
    return this.matches(flow, 'in');
  }

  /** Shortest prefix length among the `side` prefixes of one family (-1 when the family is absent). */
  minPrefixLen(side: 'local' | 'remote', family: 4 | 6): number {
    const list = side === 'local' ? (family === 4 ? this.local4 : this.local6) : family === 4 ? this.remote4 : this.remote6;
    let min = -1;
    for (const p of list) if (min < 0 || p.len < min) min = p.len;
    return min;
  }

  toJSON(): SelectorJson {
    const out: SelectorJson = {
      local: [...this.local4, ...this.local6].map(formatPrefix),
      remote: [...this.remote4, ...this.remote6].map(formatPrefix),
      proto: this.proto === PROTO_ANY ? 'any' : this.proto,
    };
    if (this.kind === PortKind.PORTS) {
      const lp = rangeJson(this.aLo, this.aHi, PORT_MAX);
      const rp = rangeJson(this.bLo, this.bHi, PORT_MAX);
      if (lp !== undefined) out.localPort = lp;
      if (rp !== undefined) out.remotePort = rp;
    } else if (this.kind === PortKind.TYPE_CODE && this.proto === IPPROTO_MH) {
      const t = rangeJson(this.aLo, this.aHi, MH_TYPE_MAX);
      if (t !== undefined) out.mhType = t;
    } else if (this.kind === PortKind.TYPE_CODE) {
      const t = rangeJson(this.aLo, this.aHi, ICMP_FIELD_MAX);
      const c = rangeJson(this.bLo, this.bHi, ICMP_FIELD_MAX);
      if (t !== undefined) out.icmpType = t;
      if (c !== undefined) out.icmpCode = c;
    }
    return out;
  }
}
