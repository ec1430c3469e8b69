/**
 * The roaming lab: a mobile node (MN) with two access networks, A and B, an "internet" router, a
 * home agent (HA) whose home prefix the router routes to it, a correspondent (CN), optionally a
 * NAT router in front of access B and an attacker on a network of its own. Documentation
 * addresses only (RFC 3849, RFC 5737); every address is in `ROAMING`.
 *
 *                  a0 ═══ wa0 ─┐
 *   internet ──────             MN (iro: HoA on its TUN; CoA = its address on wa0 or wb0)
 *   (router)       b0 ═══ wb0 ─┘               (nat: b0 ═══ out0 [NAT] in0 ═══ wb0)
 *      ├─ ha0 ═══ wan0  HA  (locator 2001:db8:1::2 / 203.0.113.2; home prefixes routed here)
 *      ├─ cn0 ═══ wan0  CN  (its identity is its own address: 2001:db8:2::2 / 203.0.113.18)
 *      └─ atk0 ══ wan0  attacker (attacker: true)
 *
 * The home prefixes (2001:db8:100::/64, 198.51.100.0/24) are routed by the internet router to the
 * HA, so traffic to the MN's home address reaches it only through the HA (and the tunnel). With
 * `nat`, access B is an IPv4 network behind an nftables masquerade (the internet has no route to
 * it; IPv6 is routed through the NAT router unchanged), as on most Wi-Fi.
 *
 * Every link carries wire-size packets (no GSO super-packets; see `wire`), so what a capture shows
 * is what a real link would carry, packet for packet.
 *
 * `move(to)` changes the MN's attachment the way a laptop moving between two Wi-Fi networks does:
 * it joins the new network (its addresses, link up, which announces them to the router as a host
 * doing DAD and DHCP would, default routes via that network's router) and then leaves the old one
 * (link down, which also drops the old IPv6 address and routes). iro's movement detection (`ip
 * monitor`) sees exactly that, with `CareOf = auto` (the source address towards the HA follows the
 * default route) or `CareOf = wa0, wb0` (the first interface that is up and routes to the HA).
 * `accessMbit` shapes both access links like Wi-Fi, so transfers take a predictable time.
 *
 * `writeRoamingConfigs` writes matching configs for the MN, the HA and (when the CN runs iro)
 * the CN, with fresh random keys, mode 0600; `startRoamingLab` builds the lab, writes the configs
 * and starts the daemons (HA, CN, MN) until the HA holds the MN's binding; `waitForBinding`
 * follows bindings through `iro show --json`; `tsharkFields` reads any tshark fields of a capture.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IroError } from '../util/errors.js';
import { espSaArgs, type EspSaKey } from './capture.js';
import { IroDaemon, METRICS_PORT, type ShowJson } from './daemon.js';
import type { Lab, Netns } from './lab.js';
import { run } from './process.js';
import type { Transfer } from './transfer.js';

/** Every address of the roaming lab (one place, so configs, tests and the demo agree). */
export const ROAMING = {
  /** Access network A: the internet router is its router. */
  accessA: { router4: '192.0.2.1', mn4: '192.0.2.10', len4: 27, router6: '2001:db8:a::1', mn6: '2001:db8:a::10', len6: 64 },
  /** Access network B: the internet router's, or the NAT router's inside with `nat`. */
  accessB: { router4: '192.0.2.33', mn4: '192.0.2.42', len4: 27, router6: '2001:db8:b::1', mn6: '2001:db8:b::10', len6: 64, prefix6: '2001:db8:b::/64' },
  /** Between the internet router and the NAT router's outside (`nat`). */
  natOutside: { inet4: '203.0.113.49', nat4: '203.0.113.50', len4: 28, inet6: '2001:db8:f::1', nat6: '2001:db8:f::2', len6: 64 },
  /** The HA's link: its locator. */
  ha: { inet4: '203.0.113.1', ha4: '203.0.113.2', len4: 28, inet6: '2001:db8:1::1', ha6: '2001:db8:1::2', len6: 64 },
  /** The CN's link: its address is its identity. */
  cn: { inet4: '203.0.113.17', cn4: '203.0.113.18', len4: 28, inet6: '2001:db8:2::1', cn6: '2001:db8:2::2', len6: 64 },
  /** The attacker's link. */
  attacker: { inet4: '203.0.113.33', attacker4: '203.0.113.34', len4: 28, inet6: '2001:db8:3::1', attacker6: '2001:db8:3::2', len6: 64 },
  /** Identities: the MN's home addresses in the home prefixes, and the HA's own. */
  identity: {
    hoa6: '2001:db8:100::10',
    hoa4: '198.51.100.10',
    ha6: '2001:db8:100::1',
    ha4: '198.51.100.1',
    homePrefix6: '2001:db8:100::/64',
    homePrefix4: '198.51.100.0/24',
  },
} as const;

export type Access = 'A' | 'B';

/** One access network as the MN and its router see it. */
export interface AccessNetwork {
  readonly name: Access;
  /** The MN's interface on it. */
  readonly dev: string;
  /** The router's namespace and interface (capture here: it stays up while the MN is away). */
  readonly router: Netns;
  readonly routerDev: string;
  readonly mn4: string;
  readonly mn6: string;
  readonly router4: string;
  readonly router6: string;
  readonly len4: number;
  readonly len6: number;
  /** IPv4 leaves this network through a NAT. */
  readonly natted: boolean;
}

export interface RoamingOptions {
  /** Put access B behind an IPv4 NAT router. */
  readonly nat?: boolean;
  /** Add the attacker namespace. */
  readonly attacker?: boolean;
  /** Where the MN is attached after the build (default A). */
  readonly start?: Access;
  /**
   * Shape both access links, both ways, to this many Mbit/s (a token bucket, `tc qdisc ... tbf`),
   * as a Wi-Fi link would be: transfers then take a predictable time, so moves land mid-transfer
   * on fast and slow machines alike. Default: unshaped.
   */
  readonly accessMbit?: number;
}

/** The roaming lab (see the module header); build it with `buildRoamingTopology`. */
export class RoamingTopology {
  readonly lab: Lab;
  readonly mn: Netns;
  readonly inet: Netns;
  readonly ha: Netns;
  readonly cn: Netns;
  readonly nat: Netns | null;
  readonly attacker: Netns | null;
  readonly access: Readonly<Record<Access, AccessNetwork>>;
  /** The HA's, the CN's and the attacker's interface towards the internet router. */
  readonly wanDev = 'wan0';
  /**
   * The internet router's interfaces to the HA, the CN, the attacker and access B (B's NAT router
   * with `nat`: the outside of the NAT); capture points.
   */
  readonly inetDev = { ha: 'ha0', cn: 'cn0', attacker: 'atk0', accessB: 'b0' } as const;
  #at: Access;

  constructor(lab: Lab, parts: { mn: Netns; inet: Netns; ha: Netns; cn: Netns; nat: Netns | null; attacker: Netns | null; access: Record<Access, AccessNetwork>; at: Access }) {
    this.lab = lab;
    this.mn = parts.mn;
    this.inet = parts.inet;
    this.ha = parts.ha;
    this.cn = parts.cn;
    this.nat = parts.nat;
    this.attacker = parts.attacker;
    this.access = parts.access;
    this.#at = parts.at;
  }

  /** The access network the MN is attached to. */
  get at(): Access {
    return this.#at;
  }

  /** The MN's care-of address of `family` on access network `on` (default: the current one). */
  careOf(family: 4 | 6, on: Access = this.#at): string {
    const a = this.access[on];
    return family === 4 ? a.mn4 : a.mn6;
  }

  /** The MN's care-of address as the HA and the CN see it on the wire (the NAT's outside address behind the NAT). */
  seenCareOf(family: 4 | 6, on: Access = this.#at): string {
    const a = this.access[on];
    if (family === 4 && a.natted) return ROAMING.natOutside.nat4;
    return this.careOf(family, on);
  }

  /** The HA's locator of `family`. */
  haLocator(family: 4 | 6): string {
    return family === 4 ? ROAMING.ha.ha4 : ROAMING.ha.ha6;
  }

  /** The CN's address (its identity and its locator) of `family`. */
  cnAddress(family: 4 | 6): string {
    return family === 4 ? ROAMING.cn.cn4 : ROAMING.cn.cn6;
  }

  /**
   * Moves the MN to access network `to`: joins it (addresses, link up, default routes via its
   * router), then leaves the other one (link down). Moving to where it is re-asserts the state.
   * Synchronous: when it returns the kernel holds the new state; iro hears of it through its
   * `ip monitor` (a move by `iro roam` is never needed).
   */
  move(to: Access): void {
    if (to !== 'A' && to !== 'B') throw new RangeError(`to must be 'A' or 'B', got ${JSON.stringify(to)}`);
    const next = this.access[to];
    const prev = this.access[to === 'A' ? 'B' : 'A'];
    attach(this.mn, next);
    this.mn.ip(['link', 'set', 'dev', prev.dev, 'down']);
    this.#at = to;
  }
}

/**
 * Joins `a`: the addresses its DHCP / SLAAC would give, link up (which announces them: the MN's
 * access interfaces have ndisc_notify and arp_notify on), default routes via its router.
 */
function attach(mn: Netns, a: AccessNetwork): void {
  mn.ip(['addr', 'replace', `${a.mn4}/${a.len4}`, 'dev', a.dev]);
  mn.ip(['addr', 'replace', `${a.mn6}/${a.len6}`, 'dev', a.dev, 'nodad']);
  mn.ip(['link', 'set', 'dev', a.dev, 'up']);
  mn.ip(['-4', 'route', 'replace', 'default', 'via', a.router4, 'dev', a.dev]);
  mn.ip(['-6', 'route', 'replace', 'default', 'via', a.router6, 'dev', a.dev]);
}

function addBoth(ns: Netns, dev: string, a4: string, len4: number, a6: string, len6: number): void {
  ns.addAddress(dev, `${a4}/${len4}`);
  ns.addAddress(dev, `${a6}/${len6}`);
}

function defaults(ns: Netns, via4: string, via6: string): void {
  ns.addRoute('default', { via: via4 }, 4);
  ns.addRoute('default', { via: via6 }, 6);
}

type AccessPlan = Pick<AccessNetwork, 'mn4' | 'mn6' | 'router4' | 'router6' | 'len4' | 'len6'>;

function fields(p: AccessPlan): AccessPlan {
  return { mn4: p.mn4, mn6: p.mn6, router4: p.router4, router6: p.router6, len4: p.len4, len6: p.len6 };
}

/** Bytes a token bucket may burst, and how long a packet may wait in it. */
const SHAPER_BURST = '256kb';
const SHAPER_LATENCY = '50ms';

/** Limits what `dev` in `ns` sends to `mbit` Mbit/s. */
function shape(ns: Netns, dev: string, mbit: number): void {
  if (!Number.isFinite(mbit) || mbit <= 0) throw new RangeError(`options.accessMbit must be a positive number, got ${mbit}`);
  ns.execSync('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', SHAPER_BURST, 'latency', SHAPER_LATENCY]);
}

/** Builds the roaming lab in `lab` (namespaces mn, inet, ha, cn[, nat][, attacker]). Needs root. */
export function buildRoamingTopology(lab: Lab, options: RoamingOptions = {}): RoamingTopology {
  const R = ROAMING;
  const mn = lab.netns('mn');
  const inet = lab.netns('inet', { forwarding: true });
  const ha = lab.netns('ha', { forwarding: true });
  const cn = lab.netns('cn');

  // The HA and its home prefixes.
  lab.link(inet, ha, { nameA: 'ha0', nameB: 'wan0', wireSize: true });
  addBoth(inet, 'ha0', R.ha.inet4, R.ha.len4, R.ha.inet6, R.ha.len6);
  addBoth(ha, 'wan0', R.ha.ha4, R.ha.len4, R.ha.ha6, R.ha.len6);
  defaults(ha, R.ha.inet4, R.ha.inet6);
  inet.addRoute(R.identity.homePrefix4, { via: R.ha.ha4 }, 4);
  inet.addRoute(R.identity.homePrefix6, { via: R.ha.ha6 }, 6);

  // The CN.
  lab.link(inet, cn, { nameA: 'cn0', nameB: 'wan0', wireSize: true });
  addBoth(inet, 'cn0', R.cn.inet4, R.cn.len4, R.cn.inet6, R.cn.len6);
  addBoth(cn, 'wan0', R.cn.cn4, R.cn.len4, R.cn.cn6, R.cn.len6);
  defaults(cn, R.cn.inet4, R.cn.inet6);

  // Access A: the internet router is its router.
  lab.link(inet, mn, { nameA: 'a0', nameB: 'wa0', wireSize: true });
  addBoth(inet, 'a0', R.accessA.router4, R.accessA.len4, R.accessA.router6, R.accessA.len6);
  const accessA: AccessNetwork = { name: 'A', dev: 'wa0', router: inet, routerDev: 'a0', ...fields(R.accessA), natted: false };

  // Access B: directly on the internet router, or behind the NAT router.
  let nat: Netns | null = null;
  let accessB: AccessNetwork;
  if (options.nat) {
    nat = lab.netns('nat', { forwarding: true });
    lab.link(inet, nat, { nameA: 'b0', nameB: 'out0', wireSize: true });
    addBoth(inet, 'b0', R.natOutside.inet4, R.natOutside.len4, R.natOutside.inet6, R.natOutside.len6);
    addBoth(nat, 'out0', R.natOutside.nat4, R.natOutside.len4, R.natOutside.nat6, R.natOutside.len6);
    defaults(nat, R.natOutside.inet4, R.natOutside.inet6);
    lab.link(nat, mn, { nameA: 'in0', nameB: 'wb0', wireSize: true });
    addBoth(nat, 'in0', R.accessB.router4, R.accessB.len4, R.accessB.router6, R.accessB.len6);
    // IPv6 is routed to access B through the NAT router; IPv4 behind it is not reachable at all.
    inet.addRoute(R.accessB.prefix6, { via: R.natOutside.nat6 }, 6);
    lab.nat(nat, 'out0');
    accessB = { name: 'B', dev: 'wb0', router: nat, routerDev: 'in0', ...fields(R.accessB), natted: true };
  } else {
    lab.link(inet, mn, { nameA: 'b0', nameB: 'wb0', wireSize: true });
    addBoth(inet, 'b0', R.accessB.router4, R.accessB.len4, R.accessB.router6, R.accessB.len6);
    accessB = { name: 'B', dev: 'wb0', router: inet, routerDev: 'b0', ...fields(R.accessB), natted: false };
  }

  let attacker: Netns | null = null;
  if (options.attacker) {
    attacker = lab.netns('attacker');
    lab.link(inet, attacker, { nameA: 'atk0', nameB: 'wan0', wireSize: true });
    addBoth(inet, 'atk0', R.attacker.inet4, R.attacker.len4, R.attacker.inet6, R.attacker.len6);
    addBoth(attacker, 'wan0', R.attacker.attacker4, R.attacker.len4, R.attacker.attacker6, R.attacker.len6);
    defaults(attacker, R.attacker.inet4, R.attacker.inet6);
  }

  if (options.accessMbit !== undefined) {
    for (const a of [accessA, accessB]) {
      shape(a.router, a.routerDev, options.accessMbit);
      shape(mn, a.dev, options.accessMbit);
    }
  }

  // A host joining a link announces its addresses (unsolicited neighbour advertisement, gratuitous
  // ARP), as hosts running DAD and DHCP effectively do: without it the router keeps the neighbour
  // entry it gave up on while the MN was away, and holds traffic to the returning care-of address
  // until its next solicitation, up to a second later (RFC 4861 RetransTimer).
  for (const a of [accessA, accessB]) {
    mn.sysctl(`net.ipv6.conf.${a.dev}.ndisc_notify`, '1');
    mn.sysctl(`net.ipv4.conf.${a.dev}.arp_notify`, '1');
  }

  const at = options.start ?? 'A';
  const topo = new RoamingTopology(lab, { mn, inet, ha, cn, nat, attacker, access: { A: accessA, B: accessB }, at });
  // Not attached anywhere yet: both MN interfaces down, then join the starting network.
  for (const dev of ['wa0', 'wb0']) mn.ip(['link', 'set', 'dev', dev, 'down']);
  topo.move(at);
  return topo;
}

// ---------------------------------------------------------------------------------------------
// Configs

export type RoamingCipher = 'aes128gcm16' | 'aes256gcm16' | 'chacha20poly1305';

const KEYMAT_LENGTH: Readonly<Record<RoamingCipher, number>> = { aes128gcm16: 20, aes256gcm16: 36, chacha20poly1305: 36 };

/** SPIs of the roaming configs: data and signalling pairs MN <-> HA, the transport pair MN <-> CN. */
export const ROAMING_SPI = {
  mnToHa: 0x0000_1001,
  haToMn: 0x0000_2001,
  mnToHaSignal: 0x0000_1002,
  haToMnSignal: 0x0000_2002,
  mnToCn: 0x0000_3001,
  cnToMn: 0x0000_4001,
} as const;

/** One direction's SA as both ends configure it. */
export interface SaSecret {
  readonly spi: number;
  /** key || salt. */
  readonly keymat: Buffer;
}

export interface RoamingConfigOptions {
  /** Family of the care-of addresses and of the HA's endpoint (the locators). */
  readonly family: 4 | 6;
  /**
   * Whether the CN runs iro with an SA to the MN's home address, and route optimization on both
   * ends ('on') or off ('off'); null (default): the CN is a plain host, reached through the HA.
   */
  readonly correspondent?: 'on' | 'off' | null;
  /** `CareOf = auto` (default) or the two access interfaces in order (`wa0, wb0`). */
  readonly careOf?: 'auto' | 'interfaces';
  readonly cipher?: RoamingCipher;
  /** 64-bit sequence numbers (default yes; tshark and Scapy checks want no). */
  readonly esn?: boolean;
  /** The HA's `NAT =` for the MN (default: allow when access B is behind a NAT, else deny). */
  readonly natPolicy?: 'allow' | 'deny';
  /** The MN's `PersistentKeepalive =` towards the HA in seconds (default off). */
  readonly keepaliveS?: number | null;
  /** `LogLevel =` of every daemon (default info). */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface RoamingConfigs {
  readonly dir: string;
  readonly mn: string;
  readonly ha: string;
  /** Null when the CN runs no iro. */
  readonly cn: string | null;
  readonly mnToHa: SaSecret;
  readonly haToMn: SaSecret;
  readonly mnToHaSignal: SaSecret;
  readonly haToMnSignal: SaSecret;
  /** Null when the CN runs no iro. */
  readonly mnToCn: SaSecret | null;
  readonly cnToMn: SaSecret | null;
  readonly cipher: RoamingCipher;
  /** Peer names: the HA in the MN's config, the MN in the HA's and CN's, the CN in the MN's. */
  readonly peerNames: { readonly ha: 'home'; readonly mn: 'laptop'; readonly cn: 'cn' };
}

function spiText(spi: number): string {
  return '0x' + spi.toString(16).padStart(8, '0');
}

function secret(spi: number, cipher: RoamingCipher): SaSecret {
  return { spi, keymat: randomBytes(KEYMAT_LENGTH[cipher]) };
}

function writeConfig(path: string, lines: readonly string[]): void {
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}

function endpoint(addr: string): string {
  return addr.includes(':') ? `[${addr}]:4500` : `${addr}:4500`;
}

function keyLines(out: SaSecret, inn: SaSecret): string[] {
  return [`SPIOut = ${spiText(out.spi)}`, `SPIIn = ${spiText(inn.spi)}`, `KeyOut = ${out.keymat.toString('hex')}`, `KeyIn = ${inn.keymat.toString('hex')}`];
}

/**
 * Writes mn0.conf, ha0.conf (and cn0.conf when the CN runs iro) into `dir` with fresh random keys
 * (inline, so the files are mode 0600) and state directories beside them. The MN sends
 * everything through the HA (AllowedIPs = ::/0, 0.0.0.0/0, a full tunnel like a laptop's);
 * with a correspondent, the MN-CN transport SA carries what the MN and the CN exchange.
 */
export function writeRoamingConfigs(dir: string, topo: RoamingTopology, options: RoamingConfigOptions): RoamingConfigs {
  const { identity } = ROAMING;
  const cipher = options.cipher ?? 'aes128gcm16';
  if (!(cipher in KEYMAT_LENGTH)) throw new RangeError(`options.cipher must be one of ${Object.keys(KEYMAT_LENGTH).join(', ')}`);
  if (options.family !== 4 && options.family !== 6) throw new RangeError('options.family must be 4 or 6');
  const correspondent = options.correspondent ?? null;
  if (correspondent !== null && options.family !== 6) {
    throw new IroError('ERR_USAGE', 'route optimization needs IPv6 care-of addresses (RFC 5555 keeps IPv4 care-of addresses to the home agent)');
  }
  const esn = options.esn === false ? 'no' : 'yes';
  const logLevel = options.logLevel ?? 'info';
  const natPolicy = options.natPolicy ?? (topo.access.B.natted ? 'allow' : 'deny');
  const mnToHa = secret(ROAMING_SPI.mnToHa, cipher);
  const haToMn = secret(ROAMING_SPI.haToMn, cipher);
  const mnToHaSignal = secret(ROAMING_SPI.mnToHaSignal, cipher);
  const haToMnSignal = secret(ROAMING_SPI.haToMnSignal, cipher);
  const mnToCn = correspondent === null ? null : secret(ROAMING_SPI.mnToCn, cipher);
  const cnToMn = correspondent === null ? null : secret(ROAMING_SPI.cnToMn, cipher);
  const state = (name: string): string => {
    const p = join(dir, `state-${name}`);
    mkdirSync(p, { mode: 0o700 });
    return p;
  };
  const iface = (role: string, name: string, extra: readonly string[]): string[] => [
    `# ${name}: roaming lab ${role} (generated by iro's lab; keys are fresh and random)`,
    '[Interface]',
    `Role = ${role}`,
    ...extra,
    'ListenPort = 4500',
    `Metrics = 127.0.0.1:${METRICS_PORT}`,
    `StateDir = ${state(name)}`,
    `LogLevel = ${logLevel}`,
  ];
  const careOf = options.careOf === 'interfaces' ? `${topo.access.A.dev}, ${topo.access.B.dev}` : 'auto';
  const ro = correspondent === 'on' ? 'on' : 'off';

  const mn = join(dir, 'mn0.conf');
  writeConfig(mn, [
    ...iface('mobile-node', 'mn0', [`HomeAddress = ${identity.hoa6}/128, ${identity.hoa4}/32`, `CareOf = ${careOf}`]),
    '',
    '[Peer]',
    'Name = home',
    'Role = home-agent',
    `Identity = ${identity.ha6}, ${identity.ha4}`,
    `Endpoint = ${endpoint(topo.haLocator(options.family))}`,
    'Mode = tunnel',
    'AllowedIPs = ::/0, 0.0.0.0/0',
    `Cipher = ${cipher}`,
    ...keyLines(mnToHa, haToMn),
    `SignalSPIOut = ${spiText(mnToHaSignal.spi)}`,
    `SignalSPIIn = ${spiText(haToMnSignal.spi)}`,
    `SignalKeyOut = ${mnToHaSignal.keymat.toString('hex')}`,
    `SignalKeyIn = ${haToMnSignal.keymat.toString('hex')}`,
    `ESN = ${esn}`,
    ...(options.keepaliveS ? [`PersistentKeepalive = ${options.keepaliveS}`] : []),
    ...(mnToCn && cnToMn
      ? [
          '',
          '[Peer]',
          'Name = cn',
          'Role = correspondent',
          `Identity = ${topo.cnAddress(6)}`,
          `Endpoint = ${endpoint(topo.cnAddress(6))}`,
          'Mode = transport',
          `RouteOptimization = ${ro}`,
          `Cipher = ${cipher}`,
          ...keyLines(mnToCn, cnToMn),
          `ESN = ${esn}`,
        ]
      : []),
  ]);

  const ha = join(dir, 'ha0.conf');
  writeConfig(ha, [
    ...iface('home-agent', 'ha0', [`Address = ${identity.ha6}/128, ${identity.ha4}/32`, `HomePrefix = ${identity.homePrefix6}, ${identity.homePrefix4}`]),
    '',
    '[Peer]',
    'Name = laptop',
    'Role = mobile-node',
    `HomeAddress = ${identity.hoa6}, ${identity.hoa4}`,
    'Mode = tunnel',
    `NAT = ${natPolicy}`,
    `Cipher = ${cipher}`,
    ...keyLines(haToMn, mnToHa),
    `SignalSPIOut = ${spiText(haToMnSignal.spi)}`,
    `SignalSPIIn = ${spiText(mnToHaSignal.spi)}`,
    `SignalKeyOut = ${haToMnSignal.keymat.toString('hex')}`,
    `SignalKeyIn = ${mnToHaSignal.keymat.toString('hex')}`,
    `ESN = ${esn}`,
  ]);

  let cn: string | null = null;
  if (mnToCn && cnToMn) {
    cn = join(dir, 'cn0.conf');
    writeConfig(cn, [
      ...iface('correspondent', 'cn0', [`Address = ${topo.cnAddress(6)}/128`]),
      '',
      '[Peer]',
      'Name = laptop',
      'Role = mobile-node',
      `HomeAddress = ${identity.hoa6}`,
      'Mode = transport',
      `RouteOptimization = ${ro}`,
      `Cipher = ${cipher}`,
      ...keyLines(cnToMn, mnToCn),
      `ESN = ${esn}`,
    ]);
  }
  return { dir, mn, ha, cn, mnToHa, haToMn, mnToHaSignal, haToMnSignal, mnToCn, cnToMn, cipher, peerNames: { ha: 'home', mn: 'laptop', cn: 'cn' } };
}

// ---------------------------------------------------------------------------------------------
// Running it

/** How often bindings are polled (each poll is one `iro show`, a short node process). */
const POLL_MS = 200;
const BINDING_TIMEOUT_MS = 20_000;
const TSHARK_TIMEOUT_MS = 300_000;

export interface RoamingDaemons {
  readonly ha: IroDaemon;
  /** Null when the CN runs no iro. */
  readonly cn: IroDaemon | null;
  readonly mn: IroDaemon;
}

export interface RoamingLab {
  readonly topo: RoamingTopology;
  readonly cfg: RoamingConfigs;
  readonly daemons: RoamingDaemons;
  /** Every daemon's command line and output tail, for failure messages. */
  diag(): string;
}

/**
 * Builds the roaming lab in `lab`, writes the configs into a lab temp dir (which is also the
 * control-socket dir), starts iro in the HA, the CN (when it runs iro) and the MN, each ready
 * before the next, and waits until the HA holds the MN's binding at its care-of address (and a
 * correspondent with route optimization has verified it). Everything is removed by
 * `lab.teardown()`, also when this throws.
 */
export async function startRoamingLab(lab: Lab, options: RoamingOptions & RoamingConfigOptions): Promise<RoamingLab> {
  const topo = buildRoamingTopology(lab, options);
  const dir = lab.tempDir('iro');
  const cfg = writeRoamingConfigs(dir, topo, options);
  const ha = IroDaemon.start(topo.ha, cfg.ha, { runDir: dir });
  await ha.ready();
  const cn = cfg.cn === null ? null : IroDaemon.start(topo.cn, cfg.cn, { runDir: dir });
  await cn?.ready();
  const mn = IroDaemon.start(topo.mn, cfg.mn, { runDir: dir });
  await mn.ready();
  const daemons = { ha, cn, mn };
  const diag = (): string => [ha, cn, mn].filter((d): d is IroDaemon => d !== null).map((d) => d.proc.describe()).join('\n');
  try {
    await waitForBinding(ha, cfg.peerNames.mn, topo.seenCareOf(options.family));
    if (cn !== null && options.correspondent === 'on') await waitForBinding(cn, cfg.peerNames.mn, topo.careOf(6), { verified: true });
  } catch (err) {
    throw new IroError('ERR_STATE', `${(err as Error).message}\n${diag()}`, { cause: err });
  }
  return { topo, cfg, daemons, diag };
}

/**
 * Polls `probe` until it returns something other than null / undefined / false and returns that;
 * throws IroError 'ERR_STATE' naming `what` (and the last value seen) after `timeoutMs`.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() >= end) throw new IroError('ERR_STATE', `${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** True when a binding's `coa` as `iro show` prints it ("ADDR:PORT" or "ADDR") is the address `addr`. */
export function coaIs(coa: unknown, addr: string): boolean {
  if (typeof coa !== 'string') return false;
  return coa === addr || (coa.startsWith(addr + ':') && /^\d+$/.test(coa.slice(addr.length + 1)));
}

/** The binding `iro show --json` reports for `peer` on `d`, or null. */
export function bindingIn(show: ShowJson, peer: string): Readonly<Record<string, unknown>> | null {
  return show.peers?.find((p) => p.name === peer)?.binding ?? null;
}

/**
 * Waits until `d` (a home agent or a correspondent) binds `peer` to care-of address `addr` (and,
 * with `verified`, a correspondent has verified it); returns that binding. IroError 'ERR_STATE'
 * with the last binding seen after `timeoutMs` (default 20 s).
 */
export async function waitForBinding(
  d: IroDaemon,
  peer: string,
  addr: string,
  options: { verified?: boolean; timeoutMs?: number } = {},
): Promise<Readonly<Record<string, unknown>>> {
  let last: unknown = null;
  try {
    return await waitUntil(
      `${d.name}: binding of ${peer} at ${addr}${options.verified ? ' (verified)' : ''}`,
      async () => {
        const b = bindingIn(await d.show(), peer);
        last = b;
        return b !== null && coaIs(b['coa'], addr) && (!options.verified || b['verified'] === true) ? b : null;
      },
      options.timeoutMs ?? BINDING_TIMEOUT_MS,
    );
  } catch (err) {
    throw new IroError('ERR_STATE', `${(err as Error).message}; last binding: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** Bytes the receiver of `tr` has reported so far (its progress lines come every MiB, and at the end). */
export function receivedSoFar(tr: Transfer): number {
  let bytes = 0;
  for (const l of tr.receiver.lines) {
    if (!l.startsWith('{')) continue;
    const e = JSON.parse(l) as { event?: string; bytes?: unknown };
    if ((e.event === 'progress' || e.event === 'done') && typeof e.bytes === 'number') bytes = Math.max(bytes, e.bytes);
  }
  return bytes;
}

export interface FieldsOptions {
  /** SAs tshark should decrypt (AES-GCM, no ESN). */
  readonly sas?: readonly EspSaKey[];
  /** A display filter limiting the frames. */
  readonly displayFilter?: string;
}

/**
 * Reads `fields` of every frame of `file` with tshark (`-T fields`): one record per frame, each
 * field's occurrences in order (empty when absent). Rejects with IroError 'ERR_IO' when tshark fails.
 */
export async function tsharkFields(file: string, fields: readonly string[], options: FieldsOptions = {}): Promise<Record<string, string[]>[]> {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  if (options.sas && options.sas.length > 0) args.push(...espSaArgs(options.sas));
  if (options.displayFilter !== undefined) args.push('-Y', options.displayFilter);
  for (const f of fields) args.push('-e', f);
  const r = await run('tshark', args, { timeoutMs: TSHARK_TIMEOUT_MS });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, cols[i] ? cols[i]!.split(',') : []]));
    });
}
