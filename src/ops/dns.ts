/**
 * The `DNS =` key: resolvers used while the interface is up, applied the way the host manages
 * /etc/resolv.conf, and restored afterwards:
 *   1. systemd-resolved (resolvectl answers): `resolvectl dns IF S...` and `resolvectl domain IF ~.`
 *      (the link becomes the route for every lookup); restore: `resolvectl revert IF`.
 *   2. resolvconf (Debian's or openresolv): `resolvconf -a [PREFIX.]IF -m 0 -x` with
 *      "nameserver S" lines on stdin, PREFIX from /etc/resolvconf/interface-order as wg-quick
 *      does ("tun." on Debian); restore: `resolvconf -d [PREFIX.]IF -f`.
 *   3. neither: a warning with the fix; iro runs on with the host's resolvers. DNS never stops
 *      the tunnel from coming up.
 * Each change is recorded in the restore journal (journal.ts) before it is made, so a crash is
 * repaired by the next `iro up` or `iro down`.
 */
import { readFileSync } from 'node:fs';
import { formatIp } from '../util/addr.js';
import type { Logger } from '../util/log.js';
import { failureText, findOnPath, runCommand } from './exec.js';
import { undoEntry, type HostJournal, type RestoreEntry } from './journal.js';

export type DnsManager = 'resolvectl' | 'resolvconf' | 'none';

export const INTERFACE_ORDER_FILE = '/etc/resolvconf/interface-order';

export interface DnsOptions {
  /** Records each change before it is made (crash safety). Without it nothing survives a crash. */
  readonly journal?: HostJournal;
  /** Environment of resolvectl/resolvconf, and the PATH they are found on. */
  readonly env?: NodeJS.ProcessEnv;
  /** Debian resolvconf's interface-order file (default /etc/resolvconf/interface-order). */
  readonly interfaceOrderFile?: string;
}

export interface DnsHandle {
  /** How the resolvers were applied; 'none' when they were not. */
  readonly manager: DnsManager;
  /** True while the resolvers are in force. */
  readonly applied: boolean;
  /** Puts the host's resolver configuration back. Idempotent; never throws. */
  restore(): void;
}

export const NO_DNS_FIX =
  'install systemd-resolved (apt-get install systemd-resolved) or resolvconf (apt-get install resolvconf), ' +
  'or put the servers into /etc/resolv.conf by hand while the tunnel is up';

/** Which resolver manager this host has: systemd-resolved if it answers, else resolvconf, else none. */
export function detectDnsManager(env: NodeJS.ProcessEnv = process.env): DnsManager {
  if (findOnPath('resolvectl', env['PATH']) !== null && runCommand('resolvectl', ['status'], { env, timeoutMs: 5000 }).status === 0) {
    return 'resolvectl';
  }
  if (findOnPath('resolvconf', env['PATH']) !== null) return 'resolvconf';
  return 'none';
}

/**
 * The record name resolvconf files the interface under: Debian's resolvconf orders records by
 * the patterns in interface-order, so like wg-quick the first plain `NAME*` pattern becomes the
 * prefix ("tun." with Debian's file); openresolv has no such file and takes the name as it is.
 */
export function resolvconfRecord(ifname: string, interfaceOrderFile = INTERFACE_ORDER_FILE): string {
  let text: string;
  try {
    text = readFileSync(interfaceOrderFile, 'utf8');
  } catch {
    return ifname;
  }
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.${ifname}`;
  }
  return ifname;
}

const NOTHING: DnsHandle = { manager: 'none', applied: false, restore: () => undefined };

/**
 * Applies `servers` as the resolvers of interface `ifname` (which must exist: call after the
 * TUN is up). Returns the handle that restores them. Never throws: when no manager exists or
 * applying fails, it logs a warning with the fix and returns a handle with `applied = false`.
 */
export function applyDns(ifname: string, servers: readonly Uint8Array[], log: Logger, options: DnsOptions = {}): DnsHandle {
  if (servers.length === 0) return NOTHING;
  const env = options.env ?? process.env;
  const text = servers.map((s) => formatIp(s));
  const manager = detectDnsManager(env);
  if (manager === 'none') {
    log.warn('DNS servers not applied: neither systemd-resolved (resolvectl) nor resolvconf is available; the host keeps its resolvers', {
      interface: ifname,
      servers: text,
      fix: NO_DNS_FIX,
    });
    return NOTHING;
  }

  const entry: RestoreEntry =
    manager === 'resolvectl'
      ? { kind: 'resolvectl', link: ifname }
      : { kind: 'resolvconf', record: resolvconfRecord(ifname, options.interfaceOrderFile) };
  const journal = options.journal;
  journal?.add(entry);

  const steps: [cmd: string, args: string[], input?: string][] = [];
  switch (entry.kind) {
    case 'resolvectl':
      steps.push(['resolvectl', ['dns', ifname, ...text]], ['resolvectl', ['domain', ifname, '~.']]);
      break;
    case 'resolvconf':
      steps.push(['resolvconf', ['-a', entry.record, '-m', '0', '-x'], text.map((s) => `nameserver ${s}\n`).join('')]);
      break;
  }
  for (const [cmd, args, input] of steps) {
    const r = runCommand(cmd, args, { env, ...(input !== undefined ? { input } : {}) });
    if (r.status !== 0) {
      log.warn('DNS servers not applied: the resolver manager refused them; the host keeps its resolvers', {
        interface: ifname,
        servers: text,
        command: `${cmd} ${args.join(' ')}`,
        error: failureText(r),
        fix: `check that ${manager === 'resolvectl' ? 'systemd-resolved runs (systemctl status systemd-resolved)' : 'resolvconf works'}, or ${NO_DNS_FIX}`,
      });
      undo(entry, journal, env, log);
      return { manager, applied: false, restore: () => undefined };
    }
  }
  log.info('DNS servers applied', { interface: ifname, servers: text, via: manager });

  let applied = true;
  return {
    manager,
    get applied() {
      return applied;
    },
    restore() {
      if (!applied) return;
      applied = false;
      undo(entry, journal, env, log);
    },
  };
}

function undo(entry: RestoreEntry, journal: HostJournal | undefined, env: NodeJS.ProcessEnv, log: Logger): void {
  if (journal === undefined) {
    undoEntry(entry, log, { env });
  } else if (journal.undo(entry)) {
    journal.remove(entry);
  }
}
