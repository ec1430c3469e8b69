/**
 * Movement detection on a mobile node, without polling: `ip monitor address route` (iproute2's
 * netlink listener) reports every address and route change; each burst of changes triggers one
 * re-evaluation of the care-of address — the source address the kernel would use towards the
 * home agent now for iro's own ESP (`ip route get ... ipproto udp sport LISTENPORT`), or the first
 * address of the interfaces named in `CareOf`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { formatIp, parseIp } from '../../util/addr.js';
import type { Logger } from '../../util/log.js';
import { ip } from './netsetup.js';

/** Changes closer together than this are one event (a move adds and removes several things). */
const SETTLE_MS = 5;

/**
 * The care-of address to use now: with `careOf = 'auto'`, the kernel's preferred source towards
 * `towards` for a packet of iro's own (UDP from `listenPort`: the policy rules of netsetup.ts
 * route it by the main table, so a full tunnel's default route does not answer with the TUN and
 * the home address); otherwise the first global address of that family on the first listed
 * interface that is up, has one, and is the one iro's packets from that address towards
 * `towards` leave through. The last condition matters while a network is being joined: the new
 * interface has its address before its routes, and a Binding Update sent from it then would
 * leave through the old network (through its NAT, say) and bind the wrong locator, which no
 * later event corrects. Null when there is none (no network).
 */
export async function currentCareOf(
  towards: Uint8Array,
  careOf: 'auto' | readonly string[],
  exclude: readonly Uint8Array[],
  listenPort: number,
): Promise<Uint8Array | null> {
  const isExcluded = (a: Uint8Array): boolean => exclude.some((e) => e.length === a.length && e.every((b, i) => b === a[i]));
  if (careOf === 'auto') {
    const route = await routeOfOwnPacket(towards, null, listenPort);
    const src = route?.prefsrc === undefined ? null : parseIp(route.prefsrc);
    return src !== null && !isExcluded(src) ? src : null;
  }
  const family = towards.length === 4 ? 'inet' : 'inet6';
  for (const dev of careOf) {
    try {
      const [link] = JSON.parse(await ip(['-j', 'addr', 'show', 'dev', dev])) as {
        operstate?: string;
        flags?: string[];
        addr_info?: { family: string; local: string; scope: string }[];
      }[];
      if (link === undefined || !(link.flags ?? []).includes('UP')) continue;
      for (const a of link.addr_info ?? []) {
        if (a.family !== family || a.scope !== 'global') continue;
        const addr = parseIp(a.local);
        if (addr === null || isExcluded(addr)) continue;
        if ((await routeOfOwnPacket(towards, addr, listenPort))?.dev === dev) return addr;
      }
    } catch {
      continue;
    }
  }
  return null;
}

/**
 * `ip route get` for a packet iro itself sends towards `towards` (from `from`, or letting the
 * kernel choose): null when there is no route. Raw ESP takes the same (main) table through its
 * own rule; `ip route get` cannot name protocol 50, so the UDP rule, always installed, stands for both.
 */
async function routeOfOwnPacket(towards: Uint8Array, from: Uint8Array | null, listenPort: number): Promise<{ dev?: string; prefsrc?: string } | null> {
  const args = ['-j', 'route', 'get', formatIp(towards), ...(from === null ? [] : ['from', formatIp(from)]), 'ipproto', 'udp', 'sport', String(listenPort)];
  try {
    const [route] = JSON.parse(await ip(args)) as { dev?: string; prefsrc?: string }[];
    return route ?? null;
  } catch {
    return null;
  }
}

/** Runs `ip monitor address route` and calls `onChange` once per burst of changes. */
export class MovementMonitor {
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly onChange: () => void;
  private readonly log: Logger;

  constructor(onChange: () => void, log: Logger) {
    this.onChange = onChange;
    this.log = log;
  }

  start(): void {
    const child = spawn('ip', ['monitor', 'address', 'route'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', () => this.changed());
    child.on('error', (err) => this.log.error('movement detection failed: cannot run ip monitor', { err }));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.log.warn('ip monitor exited; movement detection stopped', { code, signal });
      this.child = null;
    });
  }

  private changed(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange();
    }, SETTLE_MS);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    this.child = null;
    child?.kill('SIGTERM');
  }
}
