/**
 * The system side of the native-free Link: iproute2 (`ip`) and coreutils (`mknod`) run with
 * execFile (never a shell), their failures mapped to iro's errors with stable codes, and the
 * macvtap character device found or made.
 *
 * Why a device node may have to be made: the kernel names a macvtap's node `/dev/tapN` after
 * the interface's ifindex, but ifindexes are per network namespace while /dev is shared, so two
 * namespaces with a macvtap of the same ifindex race for one name and the loser gets no node
 * (or, worse, the name points at the other namespace's device). The device number in
 * /sys/class/net/<tap>/macvtap/tapN/dev is the truth; `openTapDevice` checks the node it opened
 * against it and makes a private node when they differ.
 */
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IroError, PrivilegeError } from '../src/util/errors.js';

/** The exact remedy for missing privileges (PrivilegeError.fix; the CLI exits 77 with it). */
export const MACVTAP_FIX_PRIVILEGE =
  'run iro as root (sudo), or give it CAP_NET_ADMIN, CAP_MKNOD and CAP_DAC_OVERRIDE as ambient capabilities ' +
  'so that the ip and mknod commands it runs inherit them (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_MKNOD ' +
  'CAP_DAC_OVERRIDE; shell: sudo setpriv --reuid=USER --regid=GROUP --init-groups ' +
  '--inh-caps=+net_admin,+mknod,+dac_override --ambient-caps=+net_admin,+mknod,+dac_override iro up ...)';

/** Bound on any one `ip`/`mknod` run; they normally take milliseconds. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Where private device nodes are made: devtmpfs always allows device nodes (tmpfs is often nodev). */
const PRIVATE_NODE_PARENT = '/dev';
const PRIVATE_NODE_PREFIX = 'iro-macvtap-';
/** Layout of a Linux dev_t as glibc's makedev builds it (what stat's rdev holds). */
const DEV_MINOR_LOW_MASK = 0xffn;
const DEV_MAJOR_LOW_MASK = 0xfffn;
const DEV_MAJOR_SHIFT = 8n;
const DEV_MINOR_HIGH_SHIFT = 12n;
const DEV_MAJOR_HIGH_SHIFT = 32n;

/** A failed `ip`/`mknod` run: what it said on stderr, for mapping to an IroError. */
interface CommandFailure {
  readonly command: string;
  readonly stderr: string;
  readonly code: string | number | undefined;
  readonly cause: unknown;
}

/** `stderr` as execFile's callback passes it; execFileSync puts it on the error instead. */
function failureOf(cmd: string, args: readonly string[], err: unknown, stderrText?: string): CommandFailure {
  const e = err as { stderr?: unknown; code?: unknown };
  const raw = stderrText ?? e.stderr;
  const stderr = typeof raw === 'string' ? raw.trim() : Buffer.isBuffer(raw) ? raw.toString('utf8').trim() : '';
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined;
  return { command: `${cmd} ${args.join(' ')}`, stderr, code, cause: err };
}

/** Maps a failed command to PrivilegeError (EPERM) or IroError 'ERR_IO' saying what `what` was. */
function commandError(what: string, f: CommandFailure): IroError {
  if (f.code === 'ENOENT') {
    const tool = f.command.split(' ')[0]!;
    return new IroError('ERR_IO', `${what}: ${tool} is not installed (native-free needs iproute2 and coreutils)`, {
      cause: f.cause,
    });
  }
  if (/Operation not permitted|Permission denied/i.test(f.stderr)) {
    return new PrivilegeError(`${what}: not permitted (${f.command}: ${f.stderr})`, MACVTAP_FIX_PRIVILEGE, {
      cause: f.cause,
    });
  }
  const detail = f.stderr || (f.cause instanceof Error ? f.cause.message : String(f.cause));
  return new IroError('ERR_IO', `${what}: ${f.command}: ${detail}`, { cause: f.cause });
}

/** Runs `ip args...`; resolves with stdout, rejects with an IroError naming `what`. */
export function ip(what: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(commandError(what, failureOf('ip', args, err, stderr)));
      else resolve(stdout);
    });
  });
}

/** `ip args...` run synchronously (process 'exit' hooks only); failures are returned, not thrown. */
export function ipSync(args: readonly string[]): CommandFailure | null {
  try {
    execFileSync('ip', args, { timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (err) {
    return failureOf('ip', args, err);
  }
}

/**
 * Creates a link with `ip link add ...`, mapping the failures people meet: missing privileges,
 * a kernel without the link type (`kind`, e.g. macvtap), and a name that is taken.
 */
export async function ipLinkAdd(name: string, kind: string, args: readonly string[]): Promise<void> {
  try {
    await ip(`creating ${kind} interface ${name}`, ['link', 'add', ...args]);
  } catch (err) {
    if (err instanceof IroError && err.code === 'ERR_IO') {
      if (/Unknown device type|Operation not supported|not supported/i.test(err.message)) {
        throw new IroError(
          'ERR_IO',
          `this kernel has no ${kind} support (CONFIG_${kind.toUpperCase()}): load it with modprobe ${kind}, ` +
            'or use the native back-end',
          { cause: err },
        );
      }
      if (/File exists/i.test(err.message)) {
        throw new IroError(
          'ERR_IO',
          `interface ${name} already exists; if a previous run left it behind, remove it with: ip link del ${name}`,
          { cause: err },
        );
      }
    }
    throw err;
  }
}

/** What `ip -j link show dev NAME` says about an interface (the fields iro uses). */
export interface LinkInfo {
  readonly ifindex: number;
  readonly mac: string;
  readonly mtu: number;
}

export async function linkInfo(name: string): Promise<LinkInfo> {
  const out = await ip(`reading interface ${name}`, ['-j', 'link', 'show', 'dev', name]);
  const parsed = JSON.parse(out) as Array<{ ifindex?: unknown; address?: unknown; mtu?: unknown }>;
  const rec = parsed[0];
  if (!rec || typeof rec.ifindex !== 'number' || typeof rec.address !== 'string' || typeof rec.mtu !== 'number') {
    throw new IroError('ERR_IO', `reading interface ${name}: unexpected output of ip -j link show: ${out.trim()}`);
  }
  return { ifindex: rec.ifindex, mac: rec.address, mtu: rec.mtu };
}

/** Major and minor numbers of a stat rdev (glibc makedev layout). */
function devNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> DEV_MAJOR_SHIFT) & DEV_MAJOR_LOW_MASK) | ((rdev >> DEV_MAJOR_HIGH_SHIFT) & ~DEV_MAJOR_LOW_MASK);
  const minor = (rdev & DEV_MINOR_LOW_MASK) | ((rdev >> DEV_MINOR_HIGH_SHIFT) & ~DEV_MINOR_LOW_MASK);
  return { major: Number(major), minor: Number(minor) };
}

/** An open macvtap character device. */
export interface TapDevice {
  readonly fd: number;
  /** The node it was opened through; a private node is already removed again. */
  readonly path: string;
  /** Whether iro made a private node (the shared /dev/tapN was missing or another device). */
  readonly privateNode: boolean;
}

/**
 * Opens the character device of macvtap `tapName` (ifindex `ifindex` in this namespace) for
 * reading and writing, blocking mode. Uses /dev/tapN when it is the right device, otherwise
 * makes a private node `/dev/iro-macvtap-XXXXXX/tapN`, opens it and removes it at once (the
 * descriptor stays valid), so nothing is left behind even if the process is killed.
 *
 * Needs /sys mounted for the current network namespace (`ip netns exec` does that); throws
 * IroError 'ERR_IO' when it is not, PrivilegeError when opening or mknod is refused.
 */
export async function openTapDevice(tapName: string, ifindex: number): Promise<TapDevice> {
  const sysDir = `/sys/class/net/${tapName}`;
  let sysIndex: number;
  let devText: string;
  try {
    sysIndex = Number(readFileSync(join(sysDir, 'ifindex'), 'utf8').trim());
    const node = readdirSync(join(sysDir, 'macvtap')).find((n) => n.startsWith('tap'));
    if (!node) throw new Error(`no tap entry under ${sysDir}/macvtap`);
    devText = readFileSync(join(sysDir, 'macvtap', node, 'dev'), 'utf8').trim();
  } catch (err) {
    throw new IroError(
      'ERR_IO',
      `macvtap ${tapName}: cannot read its device number from ${sysDir} (${(err as Error).message}); ` +
        'is /sys mounted for this network namespace? (ip netns exec mounts it)',
      { cause: err },
    );
  }
  if (sysIndex !== ifindex) {
    throw new IroError(
      'ERR_IO',
      `macvtap ${tapName}: /sys shows ifindex ${sysIndex} but ip shows ${ifindex}: /sys belongs to another ` +
        'network namespace; enter the namespace with ip netns exec, which mounts a matching /sys',
    );
  }
  const m = /^(\d+):(\d+)$/.exec(devText);
  if (!m) throw new IroError('ERR_IO', `macvtap ${tapName}: unexpected device number ${JSON.stringify(devText)}`);
  const want = { major: Number(m[1]), minor: Number(m[2]) };
  const shared = `/dev/tap${ifindex}`;
  const fd = tryOpen(shared, want);
  if (fd !== null) return { fd, path: shared, privateNode: false };
  const dir = mkdtempSync(join(PRIVATE_NODE_PARENT, PRIVATE_NODE_PREFIX));
  const path = join(dir, `tap${ifindex}`);
  try {
    await mknod(path, want.major, want.minor);
    const own = tryOpen(path, want);
    if (own === null) throw new IroError('ERR_IO', `macvtap ${tapName}: the node made at ${path} is not device ${devText}`);
    return { fd: own, path, privateNode: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Opens `path` if it is the character device `want`; null when it is missing or another device. */
function tryOpen(path: string, want: { major: number; minor: number }): number | null {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') return null;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PrivilegeError(`cannot open macvtap device ${path}: ${(err as Error).message}`, MACVTAP_FIX_PRIVILEGE, {
        cause: err,
      });
    }
    throw new IroError('ERR_IO', `cannot open macvtap device ${path}: ${(err as Error).message}`, { cause: err });
  }
  const st = fstatSync(fd, { bigint: true });
  const got = devNumbers(st.rdev);
  if (st.isCharacterDevice() && got.major === want.major && got.minor === want.minor) return fd;
  closeSync(fd);
  return null;
}

function mknod(path: string, major: number, minor: number): Promise<void> {
  const args = [path, 'c', String(major), String(minor)];
  return new Promise((resolve, reject) => {
    execFile('mknod', args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) reject(commandError(`making device node ${path}`, failureOf('mknod', args, err, stderr)));
      else resolve();
    });
  });
}
