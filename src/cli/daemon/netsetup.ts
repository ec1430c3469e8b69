/**
 * Host integration of `iro up` through iproute2 (DESIGN.md: addresses, routes and MTU are set
 * with `ip`, not hand-written netlink): the identity addresses and routes on the tunnel
 * interface, and the MTU derived from the path and the SA overhead (PROTOCOL.md C.2, F.22).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { IroConfig, PeerConfig } from '../../config/types.js';
import {
  IPPROTO_ESP,
  IPPROTO_UDP,
  ESP_ALIGN,
  ESP_HDR_LEN,
  ESP_ICV_LEN,
  ESP_IV_LEN,
  ESP_TRAILER_LEN,
  IPV4_MIN_HDR_LEN,
  IPV6_HDR_LEN,
  IPV6_MIN_MTU,
  UDP_HDR_LEN,
} from '../../packet/constants.js';
import { formatIp, formatPrefix, type Prefix } from '../../util/addr.js';
import { IroError, PrivilegeError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';

const run = promisify(execFile);
/** Used when no route says otherwise (Ethernet). */
const DEFAULT_PATH_MTU = 1500;
/** The smallest TUN MTU accepted for IPv4-only identities (RFC 791 minimum reassembly size). */
const MIN_IPV4_MTU = 576;

/** Runs `ip ARGS`; a permission failure becomes a PrivilegeError, anything else IroError ERR_IO. */
export async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args as string[], { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    if (/Operation not permitted|Permission denied/.test(stderr)) {
      throw new PrivilegeError(`ip ${args.join(' ')}: ${stderr}`, 'run as root or grant CAP_NET_ADMIN (in a container: --cap-add NET_ADMIN)', { cause: err });
    }
    throw new IroError('ERR_IO', `ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** First rule priority iro uses; each interface takes PRIORITY_SPAN consecutive priorities. */
const PRIORITY_BASE = 5000;
const PRIORITY_SPAN = 4;
/** Routing tables iro uses: TABLE_BASE + a hash of the interface name. */
const TABLE_BASE = 10000;
const TABLE_SLOTS = 5000;

/** The routing table of interface `name` (stable across restarts, so stale rules can be found). */
export function routingTable(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return TABLE_BASE + (h % TABLE_SLOTS);
}

export interface PolicyRouting {
  readonly table: number;
  readonly priority: number;
  /** Removes the rules (the routes in the table vanish with the interface). */
  remove(): Promise<void>;
}

async function deleteRules(priority: number): Promise<void> {
  for (const family of ['-4', '-6']) {
    for (let p = priority; p < priority + PRIORITY_SPAN; p++) {
      // `ip rule del` removes one matching rule per call; stop at the first failure (none left).
      for (;;) {
        try {
          await ip([family, 'rule', 'del', 'priority', String(p)]);
        } catch {
          break;
        }
      }
    }
  }
}

/** Records how to undo a host change before it is made (ops/journal.ts fits), so a crashed
 * run can be cleaned up by the next `iro up` or `iro down FILE`. */
export interface UndoRecorder {
  add(undo: { kind: 'ip'; args: readonly string[]; what: string }): void;
  remove(undo: { kind: 'ip'; args: readonly string[]; what: string }): void;
}

/**
 * Policy routing so the tunnel's routes never capture iro's own packets (wg-quick's approach,
 * keyed on the packet instead of a firewall mark so that the native-free back-end, whose
 * node:dgram sockets cannot set SO_MARK, works the same):
 *   priority P    iif lo ipproto udp sport LISTENPORT lookup main   (our ESP-in-UDP)
 *   priority P    iif lo ipproto esp lookup main                    (our raw ESP)
 *   priority P+1  lookup main suppress_prefixlength 0               (full tunnel: LAN stays local)
 *   priority P+2  lookup TABLE                                      (the peers' AllowedIPs)
 * `iif lo` matches only locally generated packets, so ESP another host sends through a gateway
 * is still routed into the tunnel. Protocols are numbers (17, 50): a minimal container has no
 * /etc/protocols. Rules left by a crashed run at the same priorities are replaced.
 */
export async function installPolicyRouting(
  name: string,
  options: { listenPort: number; raw: boolean; fullTunnel: boolean },
  undo: UndoRecorder,
  log: Logger,
): Promise<PolicyRouting> {
  const table = routingTable(name);
  const priority = PRIORITY_BASE + (table - TABLE_BASE) * PRIORITY_SPAN;
  await deleteRules(priority);
  const p = (k: number): string => String(priority + k);
  const specs: string[][] = [];
  for (const family of ['-4', '-6']) {
    specs.push([family, 'priority', p(0), 'iif', 'lo', 'ipproto', String(IPPROTO_UDP), 'sport', String(options.listenPort), 'lookup', 'main']);
    if (options.raw) specs.push([family, 'priority', p(0), 'iif', 'lo', 'ipproto', String(IPPROTO_ESP), 'lookup', 'main']);
    if (options.fullTunnel) specs.push([family, 'priority', p(1), 'lookup', 'main', 'suppress_prefixlength', '0']);
    specs.push([family, 'priority', p(2), 'lookup', String(table)]);
  }
  const entry = (spec: string[]): { kind: 'ip'; args: string[]; what: string } => ({
    kind: 'ip',
    args: [spec[0]!, 'rule', 'del', ...spec.slice(1)],
    what: `policy rule of ${name}`,
  });
  for (const spec of specs) {
    undo.add(entry(spec));
    await ip([spec[0]!, 'rule', 'add', ...spec.slice(1)]);
  }
  log.info('policy routing installed', { interface: name, table, priority });
  return {
    table,
    priority,
    remove: async () => {
      for (const spec of specs) {
        try {
          await ip(entry(spec).args);
          undo.remove(entry(spec));
        } catch (err) {
          log.warn('could not remove a policy rule; the next start or `iro down FILE` removes it', { err });
        }
      }
    },
  };
}

/** Puts the identity addresses on a TUN interface, sets its MTU and brings it up. */
export async function configureTun(name: string, addresses: readonly Prefix[], mtu: number): Promise<void> {
  // No IPv6 link-local address: the TUN is point to point, and with one the kernel would send
  // router solicitations and MLD reports into the tunnel, where the peer can only drop them.
  await ip(['link', 'set', 'dev', name, 'mtu', String(mtu), 'addrgenmode', 'none']);
  for (const a of addresses) {
    const args = ['addr', 'add', formatPrefix(a), 'dev', name];
    // The address is ours by configuration: duplicate address detection would only delay it.
    if (a.addr.length === 16) args.push('nodad');
    await ip(args);
  }
  await ip(['link', 'set', 'dev', name, 'up']);
}

/** Routes the peers' allowed prefixes into the tunnel interface, in `table` (they vanish with
 * the interface). */
export async function addRoutes(name: string, routes: readonly Prefix[], table: number, log: Logger): Promise<void> {
  for (const r of routes) {
    await ip(['route', 'replace', formatPrefix(r), 'dev', name, 'table', String(table)]);
  }
  log.info('routes installed', { interface: name, table, routes: routes.map(formatPrefix) });
}

/** MTU of the device the kernel would use to reach `dest` (or the default route), else 1500. */
export async function pathMtu(dest: Uint8Array | null): Promise<number> {
  try {
    const args = dest === null ? ['-j', 'route', 'show', 'default'] : ['-j', 'route', 'get', formatIp(dest)];
    const routes = JSON.parse(await ip(args)) as { dev?: string; metrics?: { mtu?: number }[] }[];
    const r = routes[0];
    if (r === undefined || r.dev === undefined) return DEFAULT_PATH_MTU;
    const routeMtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
    if (routeMtu !== undefined) return routeMtu;
    return Number(readFileSync(`/sys/class/net/${r.dev}/mtu`, 'utf8').trim()) || DEFAULT_PATH_MTU;
  } catch {
    return DEFAULT_PATH_MTU;
  }
}

/**
 * The largest inner packet one peer's SA carries within `path` bytes on the wire (PROTOCOL.md
 * C.3 "MTU for the TUN"): outer IP, UDP when encapsulated, ESP header, IV, payload padded so
 * that pad length and next header end on 4 bytes (RFC 4303 §2.4), ICV. In transport mode the
 * inner IP header is not carried, so it adds back. An unknown outer family counts as IPv6.
 */
export function innerMtu(
  path: number,
  peer: Pick<PeerConfig, 'mode' | 'encapsulation'>,
  outerFamily: 4 | 6,
  identityFamily: 4 | 6,
): number {
  const outer = outerFamily === 4 ? IPV4_MIN_HDR_LEN : IPV6_HDR_LEN;
  const udp = peer.encapsulation === 'udp' ? UDP_HDR_LEN : 0;
  const avail = path - outer - udp - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN;
  const payload = Math.floor(avail / ESP_ALIGN) * ESP_ALIGN - ESP_TRAILER_LEN;
  if (peer.mode === 'tunnel') return payload;
  return payload + (identityFamily === 4 ? IPV4_MIN_HDR_LEN : IPV6_HDR_LEN);
}

/** The TUN MTU for `config`: configured, or the smallest any peer's path allows. */
export async function deriveMtu(config: IroConfig, identities: readonly Uint8Array[], log: Logger): Promise<number> {
  const hasV6 = identities.some((a) => a.length === 16);
  const floor = hasV6 ? IPV6_MIN_MTU : MIN_IPV4_MTU;
  if (config.interface.mtu !== 'auto') return config.interface.mtu;
  let mtu = Number.POSITIVE_INFINITY;
  const role = config.interface.role;
  for (const peer of config.peers) {
    const dest = peer.endpoint?.address ?? null;
    let path = await pathMtu(dest);
    let outer: 4 | 6 = dest !== null && dest.length === 4 ? 4 : 6;
    const idFamily: 4 | 6 = (peer.identities[0]?.length ?? 16) === 4 ? 4 : 6;
    // Mobile node <-> correspondent ESP travels through the home agent's tunnel until the
    // correspondent verified the CoA ("safe by default"), so it must also fit inside that
    // tunnel: the worst case is ESP-in-UDP over IPv6 on the same path.
    const mobilePair = peer.mode === 'transport' && (role === 'mobile-node' || peer.role === 'mobile-node');
    if (mobilePair) {
      path = innerMtu(path, { mode: 'tunnel', encapsulation: 'udp' }, 6, idFamily);
      outer = 6;
    }
    mtu = Math.min(mtu, innerMtu(path, peer, outer, idFamily));
  }
  if (!Number.isFinite(mtu)) mtu = DEFAULT_PATH_MTU;
  if (mtu < floor) {
    log.warn('the path MTU leaves less than the minimum for the tunnel; using the minimum (outer packets will be fragmented)', {
      derived: mtu,
      used: floor,
    });
    return floor;
  }
  return mtu;
}
