/**
 * The namespace lab: network namespaces, veth pairs, addresses, routes, sysctls, NAT, and the
 * processes run inside them, all owned by one `Lab` and undone by `teardown()` (see index.ts for
 * the module overview and an example).
 *
 * Names: a lab's id is `<prefix>-<pid>-<n>` and each namespace is `<lab id>-<tag>`, so parallel
 * runs never collide and a crashed run's leftovers say which PID made them (sweepStaleNamespaces
 * removes those whose PID is gone). Veth ends are created directly inside their namespaces
 * (`ip link add ... netns A type veth peer ... netns B`), so they never exist in the host
 * namespace; their default names also carry the PID.
 *
 * Every namespace gets `lo` up, IPv6 duplicate address detection off (`accept_dad=0`, and
 * addresses added with `nodad`, so they are usable at once) and reverse-path filtering off;
 * forwarding is off unless `forwarding: true` turns on IPv4 and IPv6 forwarding.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IroError, PrivilegeError } from '../util/errors.js';
import { CleanupRegistry } from './cleanup.js';
import { LabProcess, run, runSync, type ExitStatus, type RunOptions, type RunResult, type SpawnOptions } from './process.js';

/** Namespace name prefix of labs made without one. */
export const DEFAULT_PREFIX = 'iro';
/** How long teardown waits for a process after SIGTERM (or a capture after SIGINT). */
const STOP_GRACE_MS = 5000;
const IFNAMSIZ = 16;
const TAG_RE = /^[a-z][a-z0-9]{0,11}$/;
const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;

/** sysctls every lab namespace gets. */
const BASE_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv6.conf.all.accept_dad': '0',
  'net.ipv6.conf.default.accept_dad': '0',
  'net.ipv6.conf.all.disable_ipv6': '0',
  'net.ipv6.conf.default.disable_ipv6': '0',
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
};
/** Forwarding on or off, explicitly: a new namespace may inherit the host's IPv4 setting. */
const FORWARDING_SYSCTLS = (on: boolean): Readonly<Record<string, string>> => ({
  'net.ipv4.ip_forward': on ? '1' : '0',
  'net.ipv6.conf.all.forwarding': on ? '1' : '0',
});

let labSerial = 0;

/** Throws PrivilegeError unless this process can create namespaces (root, iproute2 present). */
export function assertLabPrivileges(): void {
  if (process.getuid?.() !== 0) {
    throw new PrivilegeError('the network lab creates namespaces and interfaces, which needs root', 'run the tests as root (sudo)');
  }
  runSync('ip', ['-V']);
}

export interface LabOptions {
  /** Namespace name prefix: 1-8 of [a-z0-9], starting with a letter (default 'iro'). */
  readonly prefix?: string;
  /**
   * Remove the lab on SIGINT / SIGTERM (default true). Pass false when the program stops
   * gracefully on those signals itself and calls teardown() then.
   */
  readonly signals?: boolean;
}

export interface NetnsOptions {
  /** Turn on IPv4 and IPv6 forwarding (routers, gateways). */
  readonly forwarding?: boolean;
  /** More sysctls to set, applied after the lab's own. */
  readonly sysctls?: Readonly<Record<string, string>>;
}

export interface VethOptions {
  /** Interface name of the end in `a` (default `v<pid>n<k>a`). */
  readonly nameA?: string;
  /** Interface name of the end in `b` (default `v<pid>n<k>b`). */
  readonly nameB?: string;
  readonly mtu?: number;
  /**
   * Make both ends send wire-size packets (`gso_max_segs 1`): the kernel segments GSO
   * super-packets (UDP GSO from iro, TSO from TCP) where they leave the namespace, as a link
   * without segmentation offload would, so captures and counters see the packets a real link
   * carries.
   */
  readonly wireSize?: boolean;
}

/** One end of a veth pair. */
export interface LinkEnd {
  readonly ns: Netns;
  readonly dev: string;
}

export interface VethPair {
  readonly a: LinkEnd;
  readonly b: LinkEnd;
}

export interface RouteOptions {
  readonly via?: string;
  readonly dev?: string;
  readonly src?: string;
}

export interface PingOptions {
  /** Echo requests that must be answered (default 3). */
  readonly count?: number;
  /** Source address or interface (`ping -I`). */
  readonly source?: string;
  /** Deadline in seconds for all replies (default 10). */
  readonly deadlineSeconds?: number;
  /** ICMP payload bytes (`ping -s`). */
  readonly size?: number;
  /** Payload fill pattern, up to 16 bytes in hex (`ping -p`). */
  readonly pattern?: string;
}

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  /** ping's exit status: 0 when `count` replies arrived before the deadline. */
  readonly status: number | null;
  readonly output: string;
}

function validName(name: string, what: string): string {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/:]/.test(name)) {
    throw new RangeError(`${what} ${JSON.stringify(name)} must be 1-15 bytes without spaces, '/' or ':'`);
  }
  return name;
}

/** A network namespace of a lab; commands run in it via `ip netns exec`. */
export class Netns {
  /** Full namespace name (`ip netns list`). */
  readonly name: string;
  readonly tag: string;
  readonly lab: Lab;

  constructor(lab: Lab, name: string, tag: string) {
    this.lab = lab;
    this.name = name;
    this.tag = tag;
  }

  /** The argument vector that runs `cmd args` in this namespace. */
  argv(cmd: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, cmd, ...args]];
  }

  /** Runs `cmd args` here to completion without blocking; throws IroError 'ERR_IO' on failure. */
  exec(cmd: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    const [c, a] = this.argv(cmd, args);
    return run(c, a, options);
  }

  /** Runs `cmd args` here to completion, blocking (quick setup steps). */
  execSync(cmd: string, args: readonly string[], options?: RunOptions): RunResult {
    const [c, a] = this.argv(cmd, args);
    return runSync(c, a, options);
  }

  /** Starts `cmd args` here as a process the lab tracks and ends at teardown. */
  spawn(cmd: string, args: readonly string[], options?: SpawnOptions): LabProcess {
    return this.lab.spawn(this, cmd, args, options);
  }

  /** `ip -n NS args...` (iproute2 without entering the namespace). */
  ip(args: readonly string[]): RunResult {
    return runSync('ip', ['-n', this.name, ...args]);
  }

  sysctl(key: string, value: string): void {
    this.execSync('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Adds `cidr` (e.g. 192.0.2.1/24, 2001:db8::1/64) to `dev`; IPv6 addresses skip DAD. */
  addAddress(dev: string, cidr: string): void {
    const args = ['addr', 'add', cidr, 'dev', dev];
    if (cidr.includes(':')) args.push('nodad');
    this.ip(args);
  }

  /** Adds a route to `dest` (a prefix or `default`; give `family` 6 for an IPv6 default). */
  addRoute(dest: string, options: RouteOptions, family: 4 | 6 = dest.includes(':') || options.via?.includes(':') ? 6 : 4): void {
    const args = [`-${family}`, 'route', 'add', dest];
    if (options.via !== undefined) args.push('via', options.via);
    if (options.dev !== undefined) args.push('dev', options.dev);
    if (options.src !== undefined) args.push('src', options.src);
    this.ip(args);
  }

  /** Names of the interfaces in this namespace. */
  links(): string[] {
    const out = JSON.parse(this.ip(['-j', 'link', 'show']).stdout) as Array<{ ifname: string }>;
    return out.map((l) => l.ifname);
  }

  /** `ip route` (and `ip -6 route`) output of this namespace. */
  routes(): string {
    return this.ip(['-4', 'route', 'show', 'table', 'all']).stdout + this.ip(['-6', 'route', 'show', 'table', 'all']).stdout;
  }

  /** `ip rule` (IPv4 and IPv6) output of this namespace. */
  rules(): string {
    return this.ip(['-4', 'rule', 'show']).stdout + this.ip(['-6', 'rule', 'show']).stdout;
  }

  /**
   * The namespace's network state as sorted lines (interfaces, routes of every table, policy
   * rules): equal snapshots before and after a program ran mean it left nothing behind.
   */
  snapshot(): string[] {
    const lines = [...this.links().map((l) => `link ${l}`), ...this.routes().split('\n'), ...this.rules().split('\n')];
    return lines.map((l) => l.trim()).filter((l) => l !== '').sort();
  }

  /**
   * Pings `dest` from here. Never throws for lost replies: returns counts and the exit status
   * (0 = `count` replies within the deadline).
   */
  async ping(dest: string, options: PingOptions = {}): Promise<PingResult> {
    const count = options.count ?? 3;
    const deadline = options.deadlineSeconds ?? 10;
    const args = ['-n', '-c', String(count), '-i', '0.2', '-w', String(deadline)];
    if (options.source !== undefined) args.push('-I', options.source);
    if (options.size !== undefined) args.push('-s', String(options.size));
    if (options.pattern !== undefined) args.push('-p', options.pattern);
    args.push(dest);
    const r = await this.exec('ping', args, { allowFailure: true, timeoutMs: (deadline + 5) * 1000 });
    const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
    return {
      transmitted: m ? Number(m[1]) : 0,
      received: m ? Number(m[2]) : 0,
      status: r.status,
      output: r.stdout + r.stderr,
    };
  }
}

/** Everything one test (or demo) builds; `teardown()` removes all of it. */
export class Lab {
  readonly id: string;
  readonly #cleanup: CleanupRegistry;
  readonly #namespaces = new Map<string, Netns>();
  readonly #processes = new Set<LabProcess>();
  #vethSerial = 0;
  #closed = false;

  /** Checks privileges (PrivilegeError when not root) and starts an empty lab. */
  constructor(options: LabOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!PREFIX_RE.test(prefix)) throw new RangeError(`options.prefix must be 1-8 of [a-z0-9] starting with a letter, got ${JSON.stringify(prefix)}`);
    assertLabPrivileges();
    this.id = `${prefix}-${process.pid}-${labSerial++}`;
    this.#cleanup = new CleanupRegistry({ signals: options.signals ?? true });
  }

  /** The namespaces made so far. */
  get namespaces(): readonly Netns[] {
    return [...this.#namespaces.values()];
  }

  /** The processes started so far that are still running. */
  get processes(): readonly LabProcess[] {
    return [...this.#processes].filter((p) => p.running);
  }

  /**
   * Creates namespace `<lab id>-<tag>` with `lo` up and the lab's sysctls. `tag`: 1-12 of
   * [a-z0-9] starting with a letter, unique in this lab.
   */
  netns(tag: string, options: NetnsOptions = {}): Netns {
    this.#assertOpen();
    if (!TAG_RE.test(tag)) throw new RangeError(`namespace tag must be 1-12 of [a-z0-9] starting with a letter, got ${JSON.stringify(tag)}`);
    if (this.#namespaces.has(tag)) throw new RangeError(`this lab already has a namespace tagged ${tag}`);
    const name = `${this.id}-${tag}`;
    runSync('ip', ['netns', 'add', name]);
    this.#cleanup.add(`delete namespace ${name}`, () => void runSync('ip', ['netns', 'delete', name]));
    const ns = new Netns(this, name, tag);
    this.#namespaces.set(tag, ns);
    ns.ip(['link', 'set', 'lo', 'up']);
    const sysctls = { ...BASE_SYSCTLS, ...FORWARDING_SYSCTLS(options.forwarding === true), ...options.sysctls };
    for (const [k, v] of Object.entries(sysctls)) ns.sysctl(k, v);
    return ns;
  }

  /** A veth pair with one end in `a` and the other in `b`, both up. */
  link(a: Netns, b: Netns, options: VethOptions = {}): VethPair {
    this.#assertOpen();
    const k = this.#vethSerial++;
    const nameA = validName(options.nameA ?? `v${process.pid}n${k}a`, 'options.nameA');
    const nameB = validName(options.nameB ?? `v${process.pid}n${k}b`, 'options.nameB');
    runSync('ip', ['link', 'add', nameA, 'netns', a.name, 'type', 'veth', 'peer', 'name', nameB, 'netns', b.name]);
    for (const [ns, dev] of [[a, nameA], [b, nameB]] as const) {
      if (options.mtu !== undefined) ns.ip(['link', 'set', dev, 'mtu', String(options.mtu)]);
      if (options.wireSize === true) ns.ip(['link', 'set', 'dev', dev, 'gso_max_segs', '1']);
      ns.ip(['link', 'set', dev, 'up']);
    }
    return { a: { ns: a, dev: nameA }, b: { ns: b, dev: nameB } };
  }

  /**
   * Makes `router` a NAT: IPv4 forwarding on, and nftables masquerading every packet that leaves
   * through `outDev` (LAB.md "NAT").
   */
  nat(router: Netns, outDev: string): void {
    router.sysctl('net.ipv4.ip_forward', '1');
    const ruleset = [
      'table ip iro_lab_nat {',
      '  chain post {',
      '    type nat hook postrouting priority 100; policy accept;',
      `    oifname ${JSON.stringify(outDev)} masquerade`,
      '  }',
      '}',
      '',
    ].join('\n');
    router.execSync('nft', ['-f', '-'], { input: ruleset });
  }

  /** Forgets every NAT mapping of `router` (`conntrack -F`), forcing new bindings. */
  flushConntrack(router: Netns): void {
    router.execSync('conntrack', ['-F'], { allowFailure: true });
  }

  /** A fresh directory under the system temp dir, removed at teardown. */
  tempDir(tag: string): string {
    this.#assertOpen();
    const dir = mkdtempSync(join(tmpdir(), `${this.id}-${tag}-`));
    this.#cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * Starts `cmd args` in `ns` (or in this process's namespace when `ns` is null). The process is
   * ended by its PID at teardown if it is still running.
   */
  spawn(ns: Netns | null, cmd: string, args: readonly string[], options?: SpawnOptions): LabProcess {
    this.#assertOpen();
    const [c, a] = ns ? ns.argv(cmd, args) : [cmd, [...args]];
    const proc = new LabProcess(c, a, { label: cmd, ...options });
    this.#processes.add(proc);
    const unregister = this.#cleanup.add(`kill ${proc.label} (pid ${proc.pid})`, () => proc.signal('SIGKILL'));
    void proc.exited.then(unregister);
    return proc;
  }

  /**
   * Removes everything: processes still running get their stop signal (SIGTERM; SIGINT for captures, so they flush),
   * then SIGKILL after a grace period; then namespaces (with their interfaces) and temp dirs go,
   * newest first. Never throws; returns one line per problem (empty when all went well).
   * Calling it again does nothing.
   */
  async teardown(): Promise<string[]> {
    if (this.#closed) return [];
    this.#closed = true;
    const problems: string[] = [];
    const stopping: Promise<ExitStatus>[] = [];
    for (const p of this.#processes) {
      if (!p.running) continue;
      stopping.push(
        p.stop(p.stopSignal, STOP_GRACE_MS).catch((err: unknown) => {
          problems.push(`stop ${p.label} (pid ${p.pid}): ${(err as Error).message}`);
          return { status: null, signal: null };
        }),
      );
    }
    await Promise.all(stopping);
    problems.push(...this.#cleanup.runAll());
    return problems;
  }

  #assertOpen(): void {
    if (this.#closed) throw new IroError('ERR_STATE', `lab ${this.id} has been torn down`);
  }
}

/**
 * Deletes namespaces left by labs of `prefix` whose process no longer exists (a run that was
 * killed with SIGKILL cannot clean up). Namespaces of live processes are never touched.
 * Returns the names deleted.
 */
export function sweepStaleNamespaces(prefix = DEFAULT_PREFIX): string[] {
  const listed = runSync('ip', ['netns', 'list']).stdout;
  const re = new RegExp(`^(${prefix}-(\\d+)-\\d+-[a-z0-9]+)\\b`);
  const deleted: string[] = [];
  for (const line of listed.split('\n')) {
    const m = re.exec(line.trim());
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    runSync('ip', ['netns', 'delete', m[1]!], { allowFailure: true });
    deleted.push(m[1]!);
  }
  return deleted;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
