/**
 * parseConfig: config text -> validated IroConfig, or one ConfigError listing every problem.
 *
 * Pure apart from the `readKeyFile` callback (loadConfig supplies the one that touches disk), so
 * every rule can be tested on strings. Order of work:
 *   1. parseIni: sections and `Key = Value` entries with line numbers (syntax problems collected)
 *   2. match section and key names case-insensitively against the schema (unknown -> "did you mean")
 *   3. [Interface] first (its Role decides the defaults and rules of the peers)
 *   4. every [Peer], in file order
 *   5. cross-checks: roles, unique names, unique inbound SPIs, distinct keys, home prefixes
 * Issues are reported sorted by line. Key values never appear in a message.
 *
 * RFCs: 4303 §2.1 (SPIs), 4106 §8.1 (nonce uniqueness), 6275 §5.2.6/§6.1.7 (binding lifetimes),
 * 3776 §4.2 (transport-mode SAs for MN-HA signalling), 8200 §5 (IPv6 minimum MTU 1280).
 */
import { formatPrefix, prefixContains, type Prefix } from '../util/addr.js';
import { ConfigError, type ConfigIssue } from '../util/errors.js';
import type { LogLevel } from '../util/log.js';
import { FILE_FIELD, parseIni, type IniSection } from './ini.js';
import { deriveSignalKeymat, isKeyFileRef, resolveKey, type KeyFileReader } from './keys.js';
import { closest, didYouMean } from './suggest.js';
import {
  CIPHER_NAMES,
  DEFAULTS,
  ROLES,
  type BackendChoice,
  type CipherName,
  type Encapsulation,
  type InterfaceConfig,
  type IroConfig,
  type Keymat,
  type ListenAddress,
  type NatPolicy,
  type PeerConfig,
  type Role,
  type SaMode,
  type SaPair,
} from './types.js';
import {
  SPI_MAX,
  bad,
  formatSpi,
  ok,
  parseAbsolutePath,
  parseAddress,
  parseAddressPrefix,
  parseBoolean,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseInterfaceName,
  parseList,
  parseNetworkPrefix,
  parsePeerName,
  parsePort,
  parseSpi,
  quoteValue,
  type Parsed,
} from './values.js';

// ---------------------------------------------------------------------------------------------
// Schema: key names (canonical spelling) per section; list keys may repeat and accumulate.

type SectionKind = 'Interface' | 'Peer';

const INTERFACE_KEYS = [
  'Role', 'HomeAddress', 'Address', 'HomePrefix', 'MTU', 'CareOf', 'ListenPort', 'Metrics', 'StateDir',
  'Backend', 'Workers', 'BatchSize', 'LogLevel', 'DNS', 'CoTestType',
] as const;
const PEER_KEYS = [
  'Name', 'Role', 'Identity', 'HomeAddress', 'Endpoint', 'Encapsulation', 'Mode', 'AllowedIPs', 'Cipher',
  'SPIOut', 'SPIIn', 'KeyOut', 'KeyIn', 'SignalSPIOut', 'SignalSPIIn', 'SignalKeyOut', 'SignalKeyIn', 'ESN',
  'ReplayWindow', 'NAT', 'RouteOptimization', 'PersistentKeepalive', 'Lifetime', 'BindingLifetime',
] as const;
type InterfaceKey = (typeof INTERFACE_KEYS)[number];

const SECTION_KEYS: Record<SectionKind, readonly string[]> = { Interface: INTERFACE_KEYS, Peer: PEER_KEYS };
const LIST_KEYS = new Set(['HomeAddress', 'Address', 'HomePrefix', 'CareOf', 'DNS', 'Identity', 'AllowedIPs']);
const SECTION_NAMES: readonly SectionKind[] = ['Interface', 'Peer'];

/** Interface keys that only some roles use; anywhere else they are an error, not ignored. */
const INTERFACE_KEY_ROLES: Partial<Record<InterfaceKey, { roles: readonly Role[]; hint?: string }>> = {
  HomeAddress: { roles: ['mobile-node'], hint: 'put this node\'s identity address in Address' },
  Address: { roles: ['home-agent', 'correspondent'], hint: 'a mobile node\'s addresses go in HomeAddress' },
  HomePrefix: { roles: ['home-agent'] },
  CareOf: { roles: ['mobile-node'] },
  CoTestType: { roles: ['mobile-node', 'correspondent'] },
};

const MTU_MIN = 576; // RFC 791: every IPv4 host accepts 576-byte datagrams
const MTU_MIN_IPV6 = 1280; // RFC 8200 §5
const MTU_MAX = 9000;
const WORKERS_MAX = 64;
const BATCH_MAX = 1024;
const REPLAY_MIN = 32;
const REPLAY_MAX = 4096;
const REPLAY_STEP = 32;
const KEEPALIVE_MAX = 3600;
const SA_LIFETIME_MIN = 60;
const SA_LIFETIME_MAX = 365 * 86400;
const SA_SOFT_RATIO = 0.9;
/** RFC 6275 §6.1.7: the Lifetime field is 16 bits of 4-second units. */
const BINDING_UNIT = 4;
const BINDING_MAX_HOME = 0xffff * BINDING_UNIT;
/** RFC 6275 §6.1: Mobility Header types 0-7 are the protocol's own messages (BRR ... Binding Error). */
const MH_TYPES_RESERVED_BELOW = 8;
const MH_TYPE_MAX = 255;

// ---------------------------------------------------------------------------------------------
// Collecting issues and reading fields

interface FieldEntry {
  readonly value: string;
  readonly line: number;
}

/** The entries of one section, keyed by canonical key name. */
class SectionFields {
  readonly fields = new Map<string, FieldEntry[]>();

  constructor(
    readonly kind: SectionKind,
    readonly line: number,
  ) {}

  has(key: string): boolean {
    return this.fields.has(key);
  }

  /** Line of the (first) entry of `key`, or the section header line when absent. */
  lineOf(key: string): number {
    return this.fields.get(key)?.[0]?.line ?? this.line;
  }
}

class Collector {
  readonly issues: ConfigIssue[] = [];

  constructor(readonly file: string) {}

  add(line: number, field: string, message: string): void {
    this.issues.push({ file: this.file, line, field, message });
  }

  /** Reports `key` when absent, on the section header line. */
  require(sec: SectionFields, key: string, why = 'is required'): void {
    if (!sec.has(key)) this.add(sec.line, `${sec.kind}.${key}`, why);
  }

  /** Reports `key` when present (it does not apply here). */
  forbid(sec: SectionFields, key: string, why: string): void {
    if (sec.has(key)) this.add(sec.lineOf(key), `${sec.kind}.${key}`, why);
  }

  /** A single-valued key: its parsed value, or undefined when absent or invalid (reported). */
  scalar<T>(sec: SectionFields, key: string, parse: (v: string) => Parsed<T>): T | undefined {
    const entry = sec.fields.get(key)?.[0];
    if (!entry) return undefined;
    const r = parse(entry.value);
    if (r.ok) return r.value;
    this.add(entry.line, `${sec.kind}.${key}`, r.message);
    return undefined;
  }

  /** A list key (possibly repeated): all items, or undefined when absent or any item is invalid. */
  list<T>(sec: SectionFields, key: string, parseItem: (v: string) => Parsed<T>): T[] | undefined {
    const entries = sec.fields.get(key);
    if (!entries) return undefined;
    const out: T[] = [];
    let valid = true;
    for (const e of entries) {
      const r = parseList(e.value, parseItem);
      if (r.ok) out.push(...r.value);
      else {
        this.add(e.line, `${sec.kind}.${key}`, r.message);
        valid = false;
      }
    }
    return valid ? out : undefined;
  }
}

/** Matches a section's entries to schema keys; unknown, duplicate and empty keys are reported. */
function collectFields(c: Collector, kind: SectionKind, ini: IniSection): SectionFields {
  const sec = new SectionFields(kind, ini.line);
  const known = SECTION_KEYS[kind];
  const other: SectionKind = kind === 'Interface' ? 'Peer' : 'Interface';
  for (const e of ini.entries) {
    const key = known.find((k) => k.toLowerCase() === e.key.toLowerCase());
    if (key === undefined) {
      const elsewhere = SECTION_KEYS[other].find((k) => k.toLowerCase() === e.key.toLowerCase());
      const hint = elsewhere !== undefined ? `; ${elsewhere} belongs in a [${other}] section` : didYouMean(e.key, known);
      c.add(e.line, `${kind}.${e.key}`, `unknown key ${quoteValue(e.key)}${hint}`);
      continue;
    }
    if (e.value === '') {
      c.add(e.line, `${kind}.${key}`, 'has no value; remove the line to use the default');
      continue;
    }
    const prev = sec.fields.get(key);
    if (prev && !LIST_KEYS.has(key)) {
      c.add(e.line, `${kind}.${key}`, `is already set on line ${prev[0]!.line}`);
      continue;
    }
    if (prev) prev.push({ value: e.value, line: e.line });
    else sec.fields.set(key, [{ value: e.value, line: e.line }]);
  }
  return sec;
}

// ---------------------------------------------------------------------------------------------
// Value parsers specific to one key

function parseAutoOr<T>(parse: (v: string) => Parsed<T>): (v: string) => Parsed<T | 'auto'> {
  return (v) => (v.toLowerCase() === 'auto' ? ok('auto') : parse(v));
}

function parseMetrics(v: string): Parsed<ListenAddress | null> {
  if (v.toLowerCase() === 'off') return ok(null);
  const r = parseHostPort(v, DEFAULTS.metricsPort, false);
  if (!r.ok) return bad(`must be off, host:port or [ipv6]:port; ${r.message}`);
  return ok({ address: r.value.address!, port: r.value.port });
}

function parseCoTestType(v: string): Parsed<number> {
  const r = parseInteger(v, 0, MH_TYPE_MAX);
  if (!r.ok) return r;
  if (r.value < MH_TYPES_RESERVED_BELOW) {
    return bad(
      `Mobility Header type ${r.value} is one of RFC 6275's own messages (types 0-7, §6.1); ` +
        `use another, e.g. ${DEFAULTS.coTestType} (RFC 5096 experimental)`,
    );
  }
  return ok(r.value);
}

function parseReplayWindow(v: string): Parsed<number> {
  const r = parseInteger(v, REPLAY_MIN, REPLAY_MAX);
  if (!r.ok) return r;
  if (r.value % REPLAY_STEP !== 0) return bad(`must be a multiple of ${REPLAY_STEP}, got ${r.value}`);
  return ok(r.value);
}

function parseKeepalive(v: string): Parsed<number | null> {
  if (v.toLowerCase() === 'off') return ok(null);
  const r = parseDuration(v, 1, KEEPALIVE_MAX);
  return r.ok ? r : bad(`must be off or a number of seconds; ${r.message}`);
}

// ---------------------------------------------------------------------------------------------
// [Interface]

/** The [Interface] section; undefined when its Role is missing or invalid (reported). */
function readInterface(c: Collector, sec: SectionFields): InterfaceConfig | undefined {
  c.require(sec, 'Role');
  const role = c.scalar(sec, 'Role', (v) => parseEnum(v, ROLES));
  const homeAddresses = c.list(sec, 'HomeAddress', parseAddressPrefix) ?? [];
  const addresses = c.list(sec, 'Address', parseAddressPrefix) ?? [];
  const homePrefixes = c.list(sec, 'HomePrefix', parseNetworkPrefix) ?? [];
  const mtu = c.scalar(sec, 'MTU', parseAutoOr((v) => parseInteger(v, MTU_MIN, MTU_MAX))) ?? 'auto';
  const careOf = readCareOf(c, sec);
  const listenPort = c.scalar(sec, 'ListenPort', parsePort) ?? DEFAULTS.listenPort;
  const metrics = sec.has('Metrics')
    ? c.scalar(sec, 'Metrics', parseMetrics) ?? null
    : { address: new Uint8Array([127, 0, 0, 1]), port: DEFAULTS.metricsPort };
  const stateDir = c.scalar(sec, 'StateDir', parseAbsolutePath) ?? DEFAULTS.stateDir;
  const backend = c.scalar(sec, 'Backend', (v) => parseEnum<BackendChoice>(v, ['native', 'native-free'])) ?? DEFAULTS.backend;
  const workers = c.scalar(sec, 'Workers', parseAutoOr((v) => parseInteger(v, 0, WORKERS_MAX))) ?? 'auto';
  const batchSize = c.scalar(sec, 'BatchSize', (v) => parseInteger(v, 1, BATCH_MAX)) ?? DEFAULTS.batchSize;
  const logLevel =
    c.scalar(sec, 'LogLevel', (v) => parseEnum<LogLevel>(v, ['debug', 'info', 'warn', 'error'])) ?? DEFAULTS.logLevel;
  const dns = c.list(sec, 'DNS', parseAddress) ?? [];
  const coTestType = c.scalar(sec, 'CoTestType', parseCoTestType) ?? DEFAULTS.coTestType;

  if (role !== undefined) {
    for (const [key, rule] of Object.entries(INTERFACE_KEY_ROLES)) {
      if (!rule.roles.includes(role)) {
        const hint = rule.hint !== undefined ? `; ${rule.hint}` : '';
        c.forbid(sec, key, `applies only to Role = ${rule.roles.join(' or ')}, not ${role}${hint}`);
      }
    }
    if (role === 'mobile-node') c.require(sec, 'HomeAddress', 'is required for a mobile-node (its home address)');
    else c.require(sec, 'Address', `is required for a ${role} (its identity address on the TUN)`);
    if (role === 'home-agent') c.require(sec, 'HomePrefix', 'is required for a home-agent (the home prefix it serves)');
  }

  const identities = [...homeAddresses, ...addresses];
  if (typeof mtu === 'number' && mtu < MTU_MIN_IPV6 && identities.some((p) => p.addr.length === 16)) {
    c.add(
      sec.lineOf('MTU'),
      'Interface.MTU',
      `must be at least ${MTU_MIN_IPV6} with IPv6 addresses (RFC 8200 §5), got ${mtu}`,
    );
  }
  if (role === undefined) return undefined;
  return {
    role, homeAddresses, addresses, homePrefixes, mtu, careOf, listenPort, metrics, stateDir, backend, workers,
    batchSize, logLevel, dns, coTestType, line: sec.line,
  };
}

function readCareOf(c: Collector, sec: SectionFields): 'auto' | string[] {
  const names = c.list(sec, 'CareOf', (v) => ok(v));
  if (names === undefined) return 'auto';
  if (names.length === 1 && names[0]!.toLowerCase() === 'auto') return 'auto';
  const out: string[] = [];
  for (const n of names) {
    const r = n.toLowerCase() === 'auto' ? bad('auto cannot be combined with interface names') : parseInterfaceName(n);
    if (!r.ok) {
      c.add(sec.lineOf('CareOf'), 'Interface.CareOf', r.message);
      return 'auto';
    }
    out.push(r.value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// [Peer]

/** Everything read from one [Peer]; undefined fields were absent or invalid (already reported). */
interface PeerDraft {
  readonly sec: SectionFields;
  readonly name: string | undefined;
  readonly role: Role | undefined;
  readonly identities: Prefix[] | undefined;
  readonly identityKey: 'Identity' | 'HomeAddress';
  readonly mode: SaMode | undefined;
  readonly spiOut: number | undefined;
  readonly spiIn: number | undefined;
  readonly signalSpiOut: number | undefined;
  readonly signalSpiIn: number | undefined;
  readonly peer: PeerConfig | undefined;
  /** Some key of this peer is written inline. */
  readonly inlineKeys: boolean;
}

/** The pair of roles whose default mode is tunnel (RFC 3776: MN-HA payload tunnel). */
function isHomePair(a: Role, b: Role): boolean {
  return (a === 'mobile-node' && b === 'home-agent') || (a === 'home-agent' && b === 'mobile-node');
}

function readPeer(c: Collector, sec: SectionFields, local: Role | undefined, readKeyFile: KeyFileReader): PeerDraft {
  const start = c.issues.length;
  c.require(sec, 'Name');
  const name = c.scalar(sec, 'Name', parsePeerName);

  let role: Role | undefined;
  if (sec.has('Role')) role = c.scalar(sec, 'Role', (v) => parseEnum(v, ROLES));
  else if (local === 'home-agent' || local === 'correspondent') role = 'mobile-node';
  else if (local === 'mobile-node') {
    c.require(sec, 'Role', 'is required on a mobile-node: home-agent, correspondent or mobile-node');
  }

  // Identity / HomeAddress: a mobile-node peer's identity is its home address; either name is accepted for it.
  let identityKey: 'Identity' | 'HomeAddress' = sec.has('HomeAddress') ? 'HomeAddress' : 'Identity';
  if (sec.has('HomeAddress') && sec.has('Identity')) {
    c.add(sec.lineOf('Identity'), 'Peer.Identity', 'give either HomeAddress or Identity, not both');
  } else if (sec.has('HomeAddress') && role !== undefined && role !== 'mobile-node') {
    c.add(
      sec.lineOf('HomeAddress'),
      'Peer.HomeAddress',
      `is for mobile-node peers; a ${role}'s stable address goes in Identity`,
    );
    identityKey = 'Identity';
  } else if (!sec.has('HomeAddress') && !sec.has('Identity')) {
    identityKey = role === 'mobile-node' ? 'HomeAddress' : 'Identity';
    c.require(
      sec,
      identityKey,
      role === 'mobile-node' ? 'is required (the mobile node\'s home address)' : 'is required (the peer\'s stable address)',
    );
  }
  const identities = sec.has(identityKey) ? c.list(sec, identityKey, parseAddressPrefix) : undefined;

  const endpoint = c.scalar(sec, 'Endpoint', (v) => parseHostPort(v, DEFAULTS.endpointPort, true));
  if (role !== undefined && role !== 'mobile-node') {
    c.require(sec, 'Endpoint', `is required for a ${role} peer (its locator, host:port)`);
  }

  const encapsulation =
    c.scalar(sec, 'Encapsulation', (v) => parseEnum<Encapsulation>(v, ['udp', 'esp'])) ?? DEFAULTS.encapsulation;
  const explicitMode = c.scalar(sec, 'Mode', (v) => parseEnum<SaMode>(v, ['tunnel', 'transport']));
  const mode: SaMode | undefined = sec.has('Mode')
    ? explicitMode
    : local !== undefined && role !== undefined
      ? isHomePair(local, role) ? 'tunnel' : 'transport'
      : undefined;
  const allowed = c.list(sec, 'AllowedIPs', parseNetworkPrefix);
  const cipher: CipherName | undefined = sec.has('Cipher')
    ? c.scalar(sec, 'Cipher', (v) => parseEnum(v, CIPHER_NAMES))
    : DEFAULTS.cipher;

  c.require(sec, 'SPIOut');
  c.require(sec, 'SPIIn');
  const spiOut = c.scalar(sec, 'SPIOut', parseSpi);
  const spiIn = c.scalar(sec, 'SPIIn', parseSpi);
  c.require(sec, 'KeyOut');
  c.require(sec, 'KeyIn');
  let inlineKeys = false;
  const key = (k: string): Keymat | undefined => {
    const entry = sec.fields.get(k)?.[0];
    if (!entry) return undefined;
    if (!isKeyFileRef(entry.value)) inlineKeys = true;
    if (cipher === undefined) return undefined; // its length cannot be checked; the Cipher error is reported
    return c.scalar(sec, k, (v) => resolveKey(v, cipher, readKeyFile));
  };
  const keyOut = key('KeyOut');
  const keyIn = key('KeyIn');

  // Signalling SA pair: only tunnel-mode peers have one (a transport-mode data SA carries the MH itself).
  let signalSpiOut: number | undefined;
  let signalSpiIn: number | undefined;
  let signalKeyOut: Keymat | undefined;
  let signalKeyIn: Keymat | undefined;
  const signalKeys = ['SignalSPIOut', 'SignalSPIIn', 'SignalKeyOut', 'SignalKeyIn'] as const;
  if (mode === 'transport') {
    for (const k of signalKeys) {
      c.forbid(sec, k, 'applies only with Mode = tunnel: a transport-mode SA carries the signalling itself');
    }
  } else if (mode === 'tunnel') {
    signalSpiOut = sec.has('SignalSPIOut') ? c.scalar(sec, 'SignalSPIOut', parseSpi) : defaultSignalSpi(c, sec, 'SPIOut', spiOut);
    signalSpiIn = sec.has('SignalSPIIn') ? c.scalar(sec, 'SignalSPIIn', parseSpi) : defaultSignalSpi(c, sec, 'SPIIn', spiIn);
    signalKeyOut = sec.has('SignalKeyOut') ? key('SignalKeyOut') : keyOut && deriveSignalKeymat(keyOut);
    signalKeyIn = sec.has('SignalKeyIn') ? key('SignalKeyIn') : keyIn && deriveSignalKeymat(keyIn);
  }

  const esn = c.scalar(sec, 'ESN', parseBoolean) ?? DEFAULTS.esn;
  const replayWindow = c.scalar(sec, 'ReplayWindow', parseReplayWindow) ?? DEFAULTS.replayWindow;
  const nat = c.scalar(sec, 'NAT', (v) => parseEnum<NatPolicy>(v, ['allow', 'deny'])) ?? DEFAULTS.nat;
  const routeOptimization = c.scalar(sec, 'RouteOptimization', parseBoolean) ?? DEFAULTS.routeOptimization;
  const persistentKeepalive = c.scalar(sec, 'PersistentKeepalive', parseKeepalive) ?? null;
  const lifetimeSeconds = c.scalar(sec, 'Lifetime', (v) => parseDuration(v, SA_LIFETIME_MIN, SA_LIFETIME_MAX));
  // Bindings with a correspondent (or between mobile nodes) are route-optimization bindings.
  const roBinding = local !== undefined && role !== undefined && local !== 'home-agent' && role !== 'home-agent';
  const bindingMax = roBinding ? DEFAULTS.correspondentBindingLifetime : BINDING_MAX_HOME;
  const bindingLifetime =
    c.scalar(sec, 'BindingLifetime', (v) => parseDuration(v, BINDING_UNIT, bindingMax)) ??
    (roBinding ? DEFAULTS.correspondentBindingLifetime : DEFAULTS.homeBindingLifetime);

  // Keys that only some role pairs use are errors elsewhere, never silently ignored.
  if (local !== undefined && role !== undefined) {
    if (!((local === 'home-agent' || local === 'correspondent') && role === 'mobile-node')) {
      c.forbid(
        sec,
        'NAT',
        'applies only to mobile-node peers of a home-agent or correspondent ' +
          '(it decides whether their BUs may come through a NAT)',
      );
    }
    const roPair = (local === 'mobile-node' && role !== 'home-agent') || (local === 'correspondent' && role === 'mobile-node');
    if (!roPair) {
      c.forbid(
        sec,
        'RouteOptimization',
        'applies only between a mobile-node and a correspondent (or another mobile-node)',
      );
    }
  }
  if (routeOptimization && mode === 'tunnel') {
    c.add(
      sec.lineOf('RouteOptimization'),
      'Peer.RouteOptimization',
      'needs Mode = transport: IRO remaps transport-mode SAs only (PROTOCOL F.14)',
    );
  }
  if (persistentKeepalive !== null && encapsulation === 'esp') {
    c.add(
      sec.lineOf('PersistentKeepalive'),
      'Peer.PersistentKeepalive',
      'needs Encapsulation = udp: NAT keepalives are UDP (RFC 3948 §2.3)',
    );
  }

  // AllowedIPs: default to the identities; in transport mode only the identities can be protected.
  const hostPrefixes = identities?.map((p) => ({ addr: p.addr, len: p.addr.length * 8 }));
  if (allowed !== undefined && mode === 'transport' && identities !== undefined) {
    for (const p of allowed) {
      const isIdentity = p.len === p.addr.length * 8 && identities.some((id) => prefixContains(p, id.addr));
      if (!isIdentity) {
        c.add(
          sec.lineOf('AllowedIPs'),
          'Peer.AllowedIPs',
          `${formatPrefix(p)} is not one of the peer's own addresses; transport mode protects only ` +
            'traffic to them (use Mode = tunnel to route other destinations through this peer)',
        );
      }
    }
  }

  const valid = c.issues.length === start;
  let peer: PeerConfig | undefined;
  if (
    valid && name !== undefined && role !== undefined && identities !== undefined && mode !== undefined &&
    cipher !== undefined && spiOut !== undefined && spiIn !== undefined && keyOut !== undefined && keyIn !== undefined
  ) {
    const signalSa: SaPair | null =
      mode === 'tunnel' && signalSpiOut !== undefined && signalSpiIn !== undefined && signalKeyOut && signalKeyIn
        ? { out: { spi: signalSpiOut, keymat: signalKeyOut }, in: { spi: signalSpiIn, keymat: signalKeyIn } }
        : null;
    peer = {
      name, role, identities: identities.map((p) => p.addr), endpoint: endpoint ?? null,
      encapsulation, mode, allowedIPs: allowed ?? hostPrefixes ?? [], cipher,
      sa: { out: { spi: spiOut, keymat: keyOut }, in: { spi: spiIn, keymat: keyIn } }, signalSa,
      esn, replayWindow, nat, routeOptimization, persistentKeepalive,
      lifetime:
        lifetimeSeconds === undefined
          ? null
          : { hardSeconds: lifetimeSeconds, softSeconds: Math.floor(lifetimeSeconds * SA_SOFT_RATIO) },
      bindingLifetime, line: sec.line,
    };
  } else {
    for (const k of [keyOut, keyIn, signalKeyOut, signalKeyIn]) k?.wipe();
  }
  return { sec, name, role, identities, identityKey, mode, spiOut, spiIn, signalSpiOut, signalSpiIn, peer, inlineKeys };
}

/** Default signalling SPI: the data SPI + 1 (reported when that overflows 32 bits). */
function defaultSignalSpi(
  c: Collector,
  sec: SectionFields,
  dataKey: 'SPIOut' | 'SPIIn',
  spi: number | undefined,
): number | undefined {
  if (spi === undefined) return undefined;
  if (spi === SPI_MAX) {
    c.add(
      sec.lineOf(dataKey),
      `Peer.Signal${dataKey}`,
      `defaults to ${dataKey}+1, which overflows 32 bits; set Signal${dataKey} explicitly`,
    );
    return undefined;
  }
  return spi + 1;
}

// ---------------------------------------------------------------------------------------------
// Cross-checks

interface SpiUse {
  readonly spi: number;
  readonly key: string;
  readonly line: number;
  /** The SPI came from a default (data SPI + 1). */
  readonly defaulted: boolean;
}

function spiUses(d: PeerDraft): { outs: SpiUse[]; ins: SpiUse[] } {
  const outs: SpiUse[] = [];
  const ins: SpiUse[] = [];
  const push = (list: SpiUse[], spi: number | undefined, key: string, dataKey: string): void => {
    if (spi === undefined) return;
    const defaulted = !d.sec.has(key);
    list.push({ spi, key, line: d.sec.lineOf(defaulted ? dataKey : key), defaulted });
  };
  push(outs, d.spiOut, 'SPIOut', 'SPIOut');
  push(ins, d.spiIn, 'SPIIn', 'SPIIn');
  push(outs, d.signalSpiOut, 'SignalSPIOut', 'SPIOut');
  push(ins, d.signalSpiIn, 'SignalSPIIn', 'SPIIn');
  return { outs, ins };
}

function describeSpi(u: SpiUse): string {
  if (!u.defaulted) return `${u.key} ${formatSpi(u.spi)}`;
  return `${u.key} (default ${u.key.replace('Signal', '')}+1 = ${formatSpi(u.spi)})`;
}

/** Of two clashing SPIs, the one to report: a defaulted one (set it explicitly), else the later one. */
function blamed(later: SpiUse, earlier: SpiUse): [SpiUse, SpiUse] {
  return earlier.defaulted && !later.defaulted ? [earlier, later] : [later, earlier];
}

function fixHint(u: SpiUse): string {
  return u.defaulted ? `; set ${u.key} explicitly` : '';
}

function crossCheck(
  c: Collector,
  local: Role | undefined,
  iface: InterfaceConfig | undefined,
  drafts: PeerDraft[],
  interfaceLine: number,
): void {
  if (drafts.length === 0) c.add(interfaceLine, 'Peer', 'at least one [Peer] section is required');

  const names = new Map<string, number>();
  for (const d of drafts) {
    if (d.name === undefined) continue;
    const first = names.get(d.name);
    if (first === undefined) names.set(d.name, d.sec.line);
    else {
      c.add(
        d.sec.lineOf('Name'),
        'Peer.Name',
        `${quoteValue(d.name)} is already the name of the [Peer] on line ${first}; names must be unique (they label metrics)`,
      );
    }
  }

  // Roles.
  if (local === 'mobile-node') {
    const has = drafts.filter((d) => d.role === 'home-agent');
    if (has.length === 0 && drafts.every((d) => d.role !== undefined)) {
      c.add(interfaceLine, 'Peer.Role', 'a mobile-node needs exactly one [Peer] with Role = home-agent, found none');
    }
    for (const d of has.slice(1)) {
      c.add(
        d.sec.lineOf('Role'),
        'Peer.Role',
        `a mobile-node has exactly one home-agent; the first is the [Peer] on line ${has[0]!.sec.line}`,
      );
    }
  } else if (local === 'home-agent' || local === 'correspondent') {
    for (const d of drafts) {
      if (d.role !== undefined && d.role !== 'mobile-node') {
        c.add(
          d.sec.lineOf('Role'),
          'Peer.Role',
          `a ${local}'s peers are mobile nodes; Role must be mobile-node, got ${d.role}`,
        );
      }
    }
  }

  // Raw ESP needs the addon's raw sockets; the native-free back-end has node:dgram only.
  if (iface?.backend === 'native-free') {
    for (const d of drafts) {
      if (d.peer?.encapsulation === 'esp') {
        c.add(
          d.sec.lineOf('Encapsulation'),
          'Peer.Encapsulation',
          'esp (raw ESP) needs Backend = native; the native-free back-end sends ESP in UDP only (Encapsulation = udp)',
        );
      }
    }
  }

  // A home agent serves only home addresses inside its home prefixes.
  if (local === 'home-agent' && iface !== undefined && iface.homePrefixes.length > 0) {
    for (const d of drafts) {
      for (const id of d.identities ?? []) {
        if (!iface.homePrefixes.some((p) => prefixContains(p, id.addr))) {
          c.add(
            d.sec.lineOf(d.identityKey),
            `Peer.${d.identityKey}`,
            `home address ${formatPrefix({ addr: id.addr, len: id.addr.length * 8 })} is outside every HomePrefix ` +
              `of this home agent (${iface.homePrefixes.map(formatPrefix).join(', ')})`,
          );
        }
      }
    }
  }

  // SPIs: the SPIs of one peer are pairwise distinct; inbound SPIs are unique in the file
  // because inbound lookup is by SPI alone (RFC 4303 §2.1, PROTOCOL F.9).
  const inbound = new Map<number, SpiUse>();
  for (const d of drafts) {
    const { outs, ins } = spiUses(d);
    const own: SpiUse[] = [];
    for (const u of [...outs, ...ins]) {
      const clash = own.find((o) => o.spi === u.spi);
      if (clash) {
        const [blame, other] = blamed(u, clash);
        c.add(
          blame.line,
          `Peer.${blame.key}`,
          `${describeSpi(blame)} equals ${describeSpi(other)} of the same peer (line ${other.line}); ` +
            `the SPIs of a peer must differ${fixHint(blame)}`,
        );
      }
      own.push(u);
    }
    for (const u of ins) {
      const first = inbound.get(u.spi);
      if (first && !own.includes(first)) {
        const [blame, other] = blamed(u, first);
        c.add(
          blame.line,
          `Peer.${blame.key}`,
          `${describeSpi(blame)} is also the inbound ${describeSpi(other)} on line ${other.line}; inbound SAs ` +
            `are found by SPI alone (RFC 4303 §2.1), so inbound SPIs must be unique${fixHint(blame)}`,
        );
      } else if (!first) inbound.set(u.spi, u);
    }
  }
}

/** Two SAs must never share KEYMAT: independent sequence counters would repeat nonces (RFC 4106 §8.1). */
function checkDistinctKeys(c: Collector, drafts: readonly PeerDraft[]): void {
  const seen: { keymat: Keymat; key: string; line: number }[] = [];
  for (const { peer: p, sec } of drafts) {
    if (p === undefined) continue;
    const candidates: [string, Keymat | undefined][] = [
      ['KeyOut', p.sa.out.keymat],
      ['KeyIn', p.sa.in.keymat],
      ['SignalKeyOut', sec.has('SignalKeyOut') ? p.signalSa?.out.keymat : undefined],
      ['SignalKeyIn', sec.has('SignalKeyIn') ? p.signalSa?.in.keymat : undefined],
    ];
    for (const [key, keymat] of candidates) {
      if (keymat === undefined) continue;
      const line = sec.lineOf(key);
      const same = seen.find((s) => s.keymat.equals(keymat));
      if (same) {
        c.add(
          line,
          `Peer.${key}`,
          `is the same key as ${same.key} on line ${same.line}; every SA needs its own key, ` +
            'or AES-GCM/ChaCha20-Poly1305 nonces repeat (RFC 4106 §8.1)',
        );
      } else seen.push({ keymat, key, line });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

/** The interface name a config file gives (wg-quick: the base name without `.conf`). */
export function interfaceNameOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  return base.endsWith('.conf') ? base.slice(0, -'.conf'.length) : base;
}

/**
 * Parses and validates config text. `fileName` appears in every issue and gives the interface
 * name; `readKeyFile` resolves `file:` keys (use `noKeyFiles` when there are none).
 * Throws ConfigError (code ERR_CONFIG) listing every problem found; throws nothing else.
 */
export function parseConfig(text: string, fileName: string, readKeyFile: KeyFileReader): IroConfig {
  const c = new Collector(fileName);
  const ini = parseIni(text, fileName);
  c.issues.push(...ini.issues);

  const interfaceName = interfaceNameOf(fileName);
  const ifname = parseInterfaceName(interfaceName);
  if (!ifname.ok) c.add(0, FILE_FIELD, `the file name gives the interface name: ${ifname.message}`);

  let interfaceSection: SectionFields | undefined;
  const peerSections: SectionFields[] = [];
  for (const s of ini.sections) {
    const kind = SECTION_NAMES.find((k) => k.toLowerCase() === s.name.toLowerCase());
    if (kind === undefined) {
      const guess = closest(s.name, SECTION_NAMES);
      c.add(
        s.line,
        s.name,
        `unknown section [${s.name}]; ${guess !== undefined ? `did you mean [${guess}]?` : 'expected [Interface] or [Peer]'}`,
      );
      continue;
    }
    const fields = collectFields(c, kind, s);
    if (kind === 'Peer') peerSections.push(fields);
    else if (interfaceSection) {
      c.add(s.line, 'Interface', `a second [Interface] section; the first is on line ${interfaceSection.line}`);
    }
    else interfaceSection = fields;
  }

  let iface: InterfaceConfig | undefined;
  if (!interfaceSection) c.add(0, 'Interface', 'the [Interface] section is missing');
  else iface = readInterface(c, interfaceSection);
  const local = iface?.role;

  let hasInlineKeys = false;
  const drafts: PeerDraft[] = [];
  for (const sec of peerSections) {
    const d = readPeer(c, sec, local, readKeyFile);
    hasInlineKeys ||= d.inlineKeys;
    drafts.push(d);
  }
  crossCheck(c, local, iface, drafts, interfaceSection?.line ?? 0);
  const peers = drafts.map((d) => d.peer).filter((p): p is PeerConfig => p !== undefined);
  checkDistinctKeys(c, drafts);

  if (c.issues.length > 0 || iface === undefined) {
    for (const p of peers) {
      p.sa.out.keymat.wipe();
      p.sa.in.keymat.wipe();
      p.signalSa?.out.keymat.wipe();
      p.signalSa?.in.keymat.wipe();
    }
    const sorted = c.issues.map((issue, i) => ({ issue, i })).sort((a, b) => a.issue.line - b.issue.line || a.i - b.i);
    throw new ConfigError(sorted.map((s) => s.issue));
  }
  return { file: fileName, interfaceName, interface: iface, peers, hasInlineKeys, warnings: [] };
}
