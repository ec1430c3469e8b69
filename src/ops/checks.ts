/**
 * Host checks shared by `iro up` (start-up, startup.ts) and `iro doctor`: the TUN device,
 * capabilities, IP forwarding on a gateway, the UDP port (RFC 3948 NAT-T port 4500 by default)
 * and who holds it, clock sanity, and config/key file permissions. Each returns Findings whose
 * fix is the exact command or setting; none of them changes anything.
 */
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { createSocket, type SocketType } from 'node:dgram';
import { join } from 'node:path';
import { ConfigError, formatConfigIssue, type ConfigIssue } from '../util/errors.js';
import { diskKeyFileReader, parseConfig, secretModeProblem, type IroConfig, type KeyFileReader } from '../config/index.js';
import { hasCapability, ownCapabilities, type CapabilitySets, type CapName } from './caps.js';
import { fail, ok, warn, type Finding, type Runtime } from './findings.js';
import { runCommand } from './exec.js';

export const TUN_DEVICE = '/dev/net/tun';
/** Major and minor number of /dev/net/tun (Documentation/admin-guide/devices.txt: 10,200). */
const TUN_MAJOR = 10;
const TUN_MINOR = 200;

// ---------------------------------------------------------------------------------------------
// TUN device

export interface TunCheckOptions {
  readonly runtime: Runtime;
  readonly devicePath?: string;
}

function tunFix(runtime: Runtime): string {
  switch (runtime) {
    case 'container':
      return 'run the container with --device /dev/net/tun (compose: devices: ["/dev/net/tun:/dev/net/tun"])';
    case 'systemd':
      return 'modprobe tun, and do not set PrivateDevices= or DevicePolicy=closed in the unit (or add DeviceAllow=/dev/net/tun rw)';
    case 'host':
      return 'modprobe tun (and if /dev/net/tun is still missing: mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun)';
  }
}

/** /dev/net/tun exists, is the TUN character device, and opens read-write. */
export function checkTun(options: TunCheckOptions): Finding {
  const path = options.devicePath ?? TUN_DEVICE;
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return fail('tun', `${path} does not exist: iro cannot create its tunnel interface`, tunFix(options.runtime));
  }
  if (!st.isCharacterDevice()) {
    return fail('tun', `${path} is not a character device`, tunFix(options.runtime));
  }
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  if (major !== TUN_MAJOR || minor !== TUN_MINOR) {
    return fail('tun', `${path} is device ${major},${minor}, not the TUN device ${TUN_MAJOR},${TUN_MINOR}`, tunFix(options.runtime));
  }
  try {
    closeSync(openSync(path, constants.O_RDWR));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return fail('tun', `${path} exists but cannot be opened (${code})`, tunFix(options.runtime));
  }
  return ok('tun', `${path} is present and opens read-write`);
}

// ---------------------------------------------------------------------------------------------
// Capabilities

export interface CapabilityNeed {
  readonly cap: CapName;
  /** Why iro needs it, completing "needed to ...". */
  readonly why: string;
}

function capabilityFix(missing: readonly CapName[], runtime: Runtime): string {
  switch (runtime) {
    case 'container':
      return `run the container with ${missing.map((c) => `--cap-add ${c}`).join(' ')} (compose: cap_add: [${missing.join(', ')}])`;
    case 'systemd':
      return (
        `add ${missing.map((c) => `CAP_${c}`).join(' ')} to CapabilityBoundingSet= in the unit ` +
        '(systemctl edit iro@NAME), and run it as root (no User= line)'
      );
    case 'host':
      return 'run iro as root (sudo iro ...)';
  }
}

/** Every needed capability is in this process's effective set. */
export function checkCapabilities(needs: readonly CapabilityNeed[], runtime: Runtime, sets?: CapabilitySets): Finding {
  let caps: CapabilitySets;
  try {
    caps = sets ?? ownCapabilities();
  } catch (err) {
    return warn('capabilities', `cannot read this process's capabilities: ${(err as Error).message}`, null);
  }
  const missing = needs.filter((n) => !hasCapability(caps.effective, n.cap));
  if (missing.length === 0) {
    return ok('capabilities', `has ${needs.map((n) => `CAP_${n.cap}`).join(', ')}`);
  }
  const what = missing.map((n) => `CAP_${n.cap} (needed to ${n.why})`).join(', ');
  const unreachable = missing.filter((n) => !hasCapability(caps.bounding, n.cap)).map((n) => `CAP_${n.cap}`);
  const bounded = unreachable.length > 0 ? `; ${unreachable.join(', ')} is not even in the bounding set` : '';
  return fail('capabilities', `missing ${what}${bounded}`, capabilityFix(missing.map((n) => n.cap), runtime));
}

/** The capabilities `config` needs at start-up; `dropUser` adds what the privilege drop needs. */
export function neededCapabilities(config: IroConfig | null, dropUser: boolean): CapabilityNeed[] {
  const needs: CapabilityNeed[] = [{ cap: 'NET_ADMIN', why: 'create the TUN interface and set its addresses and routes' }];
  if (config === null) return needs;
  if (config.peers.some((p) => p.encapsulation === 'esp')) {
    needs.push({ cap: 'NET_RAW', why: 'open the raw ESP socket of Encapsulation = esp' });
  }
  const ports = [config.interface.listenPort, config.interface.metrics?.port ?? 0].filter((p) => p > 0 && p < 1024);
  if (ports.length > 0) {
    needs.push({ cap: 'NET_BIND_SERVICE', why: `listen on port ${ports.join(' and ')}` });
  }
  if (dropUser) {
    needs.push({ cap: 'SETUID', why: 'drop to the unprivileged user' });
    needs.push({ cap: 'SETGID', why: 'drop to the unprivileged group' });
    needs.push({ cap: 'CHOWN', why: 'hand the state directory to the unprivileged user' });
  }
  return needs;
}

// ---------------------------------------------------------------------------------------------
// IP forwarding (a home agent forwards decrypted traffic between its TUN and the home network)

export interface ForwardingOptions {
  readonly runtime: Runtime;
  /** Root of the sysctl tree (default /proc/sys). */
  readonly procSys?: string;
}

const FORWARDING = {
  4: { id: 'forwarding.ipv4', key: 'net.ipv4.ip_forward', file: 'net/ipv4/ip_forward' },
  6: { id: 'forwarding.ipv6', key: 'net.ipv6.conf.all.forwarding', file: 'net/ipv6/conf/all/forwarding' },
} as const;

function forwardingFix(key: string, runtime: Runtime): string {
  if (runtime === 'container') {
    return `run the container with --sysctl ${key}=1 (compose: sysctls: [${key}=1]); the container cannot set it itself`;
  }
  return `sysctl -w ${key}=1 && echo '${key} = 1' > /etc/sysctl.d/90-iro.conf`;
}

/** Forwarding is on for each family in `families`. */
export function checkForwarding(families: readonly (4 | 6)[], options: ForwardingOptions): Finding[] {
  const root = options.procSys ?? '/proc/sys';
  return [...new Set(families)].sort().map((family) => {
    const f = FORWARDING[family];
    let value: string;
    try {
      value = readFileSync(join(root, f.file), 'utf8').trim();
    } catch {
      const disabled = family === 6 ? ' (IPv6 is disabled in this network namespace)' : '';
      return fail(f.id, `${f.key} cannot be read${disabled}; a home agent must forward IPv${family}`, forwardingFix(f.key, options.runtime));
    }
    if (value === '1') return ok(f.id, `${f.key} = 1`);
    return fail(
      f.id,
      `${f.key} = ${value}: this home agent would drop the IPv${family} traffic it decrypts instead of forwarding it to the home network`,
      forwardingFix(f.key, options.runtime),
    );
  });
}

/** The families a home agent forwards: those of its home prefixes, IPv4 first. */
export function forwardingFamilies(config: IroConfig): (4 | 6)[] {
  if (config.interface.role !== 'home-agent') return [];
  return [...new Set(config.interface.homePrefixes.map((p) => (p.addr.length === 4 ? 4 : 6) as 4 | 6))].sort();
}

// ---------------------------------------------------------------------------------------------
// UDP port

/** A process holding a socket. */
export interface SocketHolder {
  readonly pid: number;
  /** /proc/PID/comm: the executable's name. */
  readonly comm: string;
  /** /proc/PID/cmdline with NULs as spaces. */
  readonly cmdline: string;
}

/** IKE/IPsec daemons that bind UDP 4500, and how to stop each (Debian service names). */
const IPSEC_DAEMONS: Readonly<Record<string, { readonly name: string; readonly stop: string }>> = {
  charon: { name: 'strongSwan (charon)', stop: 'systemctl disable --now strongswan-starter.service' },
  'charon-systemd': { name: 'strongSwan (charon-systemd)', stop: 'systemctl disable --now strongswan.service' },
  starter: { name: 'strongSwan (starter)', stop: 'systemctl disable --now strongswan-starter.service' },
  'charon-nm': { name: 'NetworkManager strongSwan VPN', stop: 'nmcli connection down <the IPsec VPN connection>' },
  pluto: { name: 'Libreswan (pluto)', stop: 'systemctl disable --now ipsec.service' },
  racoon: { name: 'racoon', stop: 'systemctl disable --now racoon.service' },
  iked: { name: 'OpenIKED', stop: 'systemctl disable --now iked.service' },
};

/** Socket inodes bound to local UDP `port`, from /proc/net/udp and udp6 (this network namespace). */
export function udpSocketInodes(port: number, procRoot = '/proc'): Set<string> {
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['net/udp', 'net/udp6']) {
    let text: string;
    try {
      text = readFileSync(join(procRoot, table), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const inode = cols[9];
      if (local === undefined || inode === undefined) continue;
      if (local.slice(local.lastIndexOf(':') + 1).toUpperCase() === portHex && inode !== '0') inodes.add(inode);
    }
  }
  return inodes;
}

/** The processes with a descriptor on one of the socket `inodes` (needs root to see others'). */
export function socketHolders(inodes: ReadonlySet<string>, procRoot = '/proc'): SocketHolder[] {
  if (inodes.size === 0) return [];
  const holders: SocketHolder[] = [];
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((n) => /^\d+$/.test(n));
  } catch {
    return holders;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(join(procRoot, pid, 'fd'));
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(procRoot, pid, 'fd', fd)));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    const read = (name: string): string => {
      try {
        return readFileSync(join(procRoot, pid, name), 'utf8');
      } catch {
        return '';
      }
    };
    holders.push({ pid: Number(pid), comm: read('comm').trim(), cmdline: read('cmdline').split('\0').join(' ').trim() });
  }
  return holders;
}

function tryBind(type: SocketType, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = createSocket({ type, ipv6Only: type === 'udp6' });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.close();
      resolve(err.code ?? 'error');
    });
    sock.bind({ port, address: type === 'udp6' ? '::' : '0.0.0.0', exclusive: true }, () => {
      sock.close();
      resolve(null);
    });
  });
}

export interface PortCheckOptions {
  readonly procRoot?: string;
  /** The config file: a holder whose command line names it is this interface's own `iro up`. */
  readonly configFile?: string;
  /**
   * True when this interface's control socket exists: its daemon holds the port even if this
   * process cannot see whose socket it is (another user's process without CAP_SYS_PTRACE).
   */
  readonly interfaceRunning?: boolean;
}

/**
 * UDP `port` is free for iro to bind (IPv4 and IPv6), or is held by this very interface's
 * `iro up`. Names the process holding it otherwise, with how to stop an IKE daemon.
 */
export async function checkUdpPort(port: number, options: PortCheckOptions = {}): Promise<Finding> {
  const results = await Promise.all([tryBind('udp4', port), tryBind('udp6', port)]);
  const inUse = results.includes('EADDRINUSE');
  const denied = results.find((r) => r === 'EACCES' || r === 'EPERM');
  if (!inUse) {
    if (denied !== undefined) {
      return fail('port', `UDP port ${port} cannot be bound here (${denied})`, 'run iro as root, or choose ListenPort >= 1024');
    }
    return ok('port', `UDP port ${port} is free`);
  }
  const holders = socketHolders(udpSocketInodes(port, options.procRoot), options.procRoot);
  const own =
    options.configFile !== undefined
      ? holders.find((h) => / up( |$)/.test(h.cmdline) && h.cmdline.includes(options.configFile!))
      : undefined;
  if (own) return ok('port', `UDP port ${port} is held by this interface's own iro (pid ${own.pid}): it is up`);
  if (holders.length === 0 && options.interfaceRunning === true) {
    return ok('port', `UDP port ${port} is in use, and this interface is up (its control socket exists)`);
  }
  const change = `or give this interface another port (ListenPort = ${port + 1} in [Interface], and the same port in the peers' Endpoint)`;
  if (holders.length === 0) {
    const find = `find it with: ss -ulpn 'sport = :${port}'; stop it, ${change}`;
    return fail('port', `UDP port ${port} is already in use by a process iro cannot see`, find);
  }
  const ipsec = holders.find((h) => IPSEC_DAEMONS[h.comm] !== undefined);
  if (ipsec) {
    const daemon = IPSEC_DAEMONS[ipsec.comm]!;
    return fail(
      'port',
      `UDP port ${port} is held by another IPsec daemon: ${daemon.name}, pid ${ipsec.pid}; it would receive iro's ESP-in-UDP packets`,
      `${daemon.stop} (or kill ${ipsec.pid}), ${change}`,
    );
  }
  const list = holders.map((h) => `${h.comm || '?'} (pid ${h.pid})`).join(', ');
  const kill = `kill ${holders.map((h) => h.pid).join(' ')}`;
  return fail('port', `UDP port ${port} is already in use by ${list}`, `stop ${holders.length === 1 ? 'it' : 'them'} (${kill}), ${change}`);
}

// ---------------------------------------------------------------------------------------------
// Clock

/** Earliest plausible wall-clock time: iro did not exist before 2025. */
export const CLOCK_FLOOR_MS = Date.UTC(2025, 0, 1);
/** A state file written further than this in the future means the clock went back. */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60 * 1000;

export interface ClockCheckOptions {
  readonly now?: number;
  /** Where iro persists state; files dated in the future there reveal a clock that went back. */
  readonly stateDir?: string;
  /** Environment for timedatectl (tests put a fake one on PATH). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The wall clock is plausible (not before 2025), has not gone back behind iro's own state files,
 * and NTP says it is synchronized when timedatectl can tell. SA and binding lifetimes run on the
 * monotonic clock, but the times iro exports (last authenticated packet), its logs and any
 * certificate-based keying read the wall clock.
 */
export function checkClock(options: ClockCheckOptions = {}): Finding {
  const now = options.now ?? Date.now();
  const fix = 'timedatectl set-ntp true (or start chrony/ntpsec); set it once by hand with date -s';
  if (now < CLOCK_FLOOR_MS) {
    const says = `the system clock says ${new Date(now).toISOString()}, before iro existed`;
    return fail('clock', `${says}; lifetimes, exported timestamps and logs will be wrong`, fix);
  }
  if (options.stateDir !== undefined) {
    let names: string[] = [];
    try {
      names = readdirSync(options.stateDir);
    } catch {
      // no state yet
    }
    for (const name of names) {
      try {
        const mtime = statSync(join(options.stateDir, name)).mtimeMs;
        if (mtime > now + CLOCK_SKEW_TOLERANCE_MS) {
          return warn(
            'clock',
            `the clock went back: ${join(options.stateDir, name)} was written at ${new Date(mtime).toISOString()}, ` +
              `after now (${new Date(now).toISOString()})`,
            fix,
          );
        }
      } catch {
        // vanished meanwhile
      }
    }
  }
  const r = runCommand('timedatectl', ['show', '--property=NTPSynchronized', '--value'], { env: options.env ?? process.env, timeoutMs: 5000 });
  if (r.status === 0 && r.stdout.trim() === 'no') {
    return warn('clock', `the system clock (${new Date(now).toISOString()}) is not synchronized by NTP`, fix);
  }
  const synced = r.status === 0 && r.stdout.trim() === 'yes' ? ', NTP-synchronized' : '';
  return ok('clock', `the system clock is plausible (${new Date(now).toISOString()}${synced})`);
}

// ---------------------------------------------------------------------------------------------
// Config and key files

/** The fix part of a config/ message ("...; fix: chmod 600 /x"), split off. */
function splitFix(message: string): { message: string; fix: string | null } {
  const i = message.lastIndexOf('; fix: ');
  if (i < 0) return { message, fix: null };
  return { message: message.slice(0, i), fix: message.slice(i + '; fix: '.length) };
}

function issueFinding(issue: ConfigIssue): Finding {
  const { message, fix } = splitFix(issue.message);
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return fail('config', `${where}: ${issue.field}: ${message}`, fix ?? `edit ${where} (check it with: iro check ${issue.file})`);
}

/** Reads a key file's text whatever its permissions (doctor reports them separately). */
function lenientKeyReader(configPath: string): KeyFileReader {
  const strict = diskKeyFileReader(configPath);
  return (path) => {
    const r = strict(path);
    if (r.ok) return r;
    const base = configPath.slice(0, configPath.lastIndexOf('/') + 1);
    const abs = path.startsWith('/') ? path : base + path;
    try {
      return { ok: true, value: readFileSync(abs, 'utf8') };
    } catch {
      return r;
    }
  };
}

function wipeKeys(config: IroConfig): void {
  for (const p of config.peers) {
    for (const pair of [p.sa, p.signalSa]) {
      pair?.in.keymat.wipe();
      pair?.out.keymat.wipe();
    }
  }
}

export interface ConfigCheckResult {
  readonly findings: Finding[];
  /**
   * The config as far as it could be read (key files read whatever their mode, so the other
   * checks can run); null when it is invalid. Key material is wiped: use it for settings only.
   */
  readonly config: IroConfig | null;
}

/**
 * The config file and its key files: loadable exactly as `iro up` loads them, key files and a
 * config holding inline keys readable only by their owner, and the config not writable by
 * group or others (anyone who can edit it can redirect traffic).
 */
export function checkConfigFile(path: string): ConfigCheckResult {
  const findings: Finding[] = [];
  let st: Stats;
  let text: string;
  try {
    st = statSync(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const fix = `check the path, or run as root: sudo iro doctor ${path}`;
    return { findings: [fail('config', `${path} cannot be read (${code})`, fix)], config: null };
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = `mode 0${(st.mode & 0o777).toString(8)}`;
    findings.push(fail('config', `${path} is writable by group or others (${mode}): anyone in them can redirect the tunnel`, `chmod 600 ${path}`));
  }
  let strictIssues: readonly ConfigIssue[] = [];
  try {
    const strict = parseConfig(text, path, diskKeyFileReader(path));
    wipeKeys(strict);
    if (strict.hasInlineKeys) {
      const problem = secretModeProblem(st);
      if (problem) findings.push(fail('config', `${path} holds inline keys and is ${problem}`, `chmod 600 ${path}`));
    }
    for (const w of strict.warnings) findings.push(warn('config', formatConfigIssue(w), splitFix(w.message).fix));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    strictIssues = err.issues;
    for (const issue of err.issues) findings.push(issueFinding(issue));
  }
  let config: IroConfig | null = null;
  try {
    config = parseConfig(text, path, lenientKeyReader(path));
    wipeKeys(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  if (findings.every((f) => f.severity === 'ok') && strictIssues.length === 0) {
    const n = config?.peers.length ?? 0;
    const what = `${config?.interface.role}, ${n} peer${n === 1 ? '' : 's'}`;
    findings.push(ok('config', `${path} is valid (${what}) and its keys are readable only by their owner`));
  }
  return { findings, config };
}
