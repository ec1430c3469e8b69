/**
 * Dropping root after start-up (the gateway container): `iro up` opens /dev/net/tun, its UDP/raw
 * sockets, the metrics listener and the control socket as root, hands its state directory to an
 * unprivileged user, then calls dropPrivileges(): supplementary groups, gid, then uid (that
 * order: after setuid the process may no longer change its groups). A setuid from root to
 * another user clears the permitted and effective capability sets (capabilities(7), "Effect of
 * user ID changes on capabilities"), so nothing privileged can be done afterwards: the TUN is
 * never reopened, routes are not changed again. glibc applies set*id to every thread of the
 * process, worker threads included.
 */
import { chownSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IroError, PrivilegeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { ownCapabilities } from './caps.js';
import { detectRuntime, type Runtime } from './findings.js';

/** Environment variable naming the user to drop to (the container image sets IRO_USER=iro). */
export const DROP_USER_ENV = 'IRO_USER';

export interface TargetUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The user to drop to: the command-line option if given, else $IRO_USER, else null (stay as
 * started). An empty value means "do not drop".
 */
export function dropTarget(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const v = option ?? env[DROP_USER_ENV];
  return v === undefined || v === '' ? null : v;
}

/**
 * Resolves a user name, or `UID` / `UID:GID`, through `passwdPath` (default /etc/passwd).
 * Throws IroError 'ERR_USAGE' for an unknown name or a malformed id.
 */
export function lookupUser(spec: string, passwdPath = '/etc/passwd'): TargetUser {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    const gid = numeric[2] !== undefined ? Number(numeric[2]) : uid;
    if (uid > 0xfffffffe || gid > 0xfffffffe) throw new IroError('ERR_USAGE', `user id ${spec} is out of range`);
    return { name: spec, uid, gid };
  }
  let text = '';
  try {
    text = readFileSync(passwdPath, 'utf8');
  } catch (err) {
    throw new IroError('ERR_USAGE', `cannot read ${passwdPath} to find user ${spec}`, { cause: err });
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === spec && f.length >= 4) {
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { name: spec, uid, gid };
    }
  }
  throw new IroError(
    'ERR_USAGE',
    `user ${JSON.stringify(spec)} does not exist; create it ` +
      `(useradd --system --no-create-home --shell /usr/sbin/nologin ${spec}) or give a numeric UID:GID`,
  );
}

/** Depth limit of handOver's walk: iro's directories are flat. */
const HAND_OVER_DEPTH = 4;

/**
 * Gives `paths` (directories and what is in them, symbolic links excluded) to `user`, so the
 * unprivileged process can keep writing its state (atomic renames in the state directory) and
 * remove its control socket. Missing paths are skipped. Needs CAP_CHOWN; throws PrivilegeError.
 */
export function handOver(paths: readonly string[], user: TargetUser, runtime: Runtime = detectRuntime()): void {
  const visit = (p: string, depth: number): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    if (st.uid !== user.uid || st.gid !== user.gid) {
      try {
        chownSync(p, user.uid, user.gid);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPERM') {
          throw new PrivilegeError(
            `cannot give ${p} to user ${user.name} (uid ${user.uid}): CAP_CHOWN is missing`,
            runtime === 'container' ? 'do not --cap-drop CHOWN (it is in the default set)' : 'run iro up as root',
            { cause: err },
          );
        }
        if (code === 'EROFS') {
          const why = 'read-only file system; mount a writable volume there';
          throw new IroError('ERR_STATE', `cannot give ${p} to user ${user.name}: ${why}`, { cause: err });
        }
        throw new IroError('ERR_STATE', `cannot give ${p} to user ${user.name}: ${code ?? (err as Error).message}`, { cause: err });
      }
    }
    if (st.isDirectory() && depth < HAND_OVER_DEPTH) {
      for (const name of readdirSync(p)) visit(join(p, name), depth + 1);
    }
  };
  for (const p of paths) visit(p, 0);
}

export interface DropResult {
  readonly uid: number;
  readonly gid: number;
  /** False when the process already ran as the target user (nothing changed). */
  readonly changed: boolean;
}

/**
 * Switches this process to `user` for good: setgroups([gid]), setgid, setuid. Then verifies that
 * the switch is complete and irreversible: real/effective ids are the user's, no effective
 * capability is left, and setuid(0) fails. Throws PrivilegeError when the process may not switch
 * (no CAP_SETUID/CAP_SETGID), IroError 'ERR_STATE' when the result is not what was asked.
 * Call it after every privileged open, never before.
 */
export function dropPrivileges(user: TargetUser, log: Logger, runtime: Runtime = detectRuntime()): DropResult {
  type IdCalls = 'getuid' | 'geteuid' | 'getgid' | 'getegid' | 'setuid' | 'setgid' | 'setgroups';
  const p = process as NodeJS.Process & Required<Pick<NodeJS.Process, IdCalls>>;
  if (typeof p.setuid !== 'function' || typeof p.setgroups !== 'function') {
    throw new IroError('ERR_STATE', 'this platform cannot change the process user');
  }
  if (p.getuid() === user.uid && p.geteuid() === user.uid && p.getgid() === user.gid && p.getegid() === user.gid) {
    log.info('already running as the unprivileged user', { user: user.name, uid: user.uid, gid: user.gid });
    return { uid: user.uid, gid: user.gid, changed: false };
  }
  if (p.geteuid() !== 0) {
    throw new PrivilegeError(
      `cannot switch to user ${user.name} (uid ${user.uid}): iro runs as uid ${p.geteuid()}, and only root may switch`,
      `start iro as root (it drops to ${user.name} itself), or start it as ${user.name} and do not ask for a user`,
    );
  }
  try {
    p.setgroups([user.gid]);
    p.setgid(user.gid);
    p.setuid(user.uid);
  } catch (err) {
    throw new PrivilegeError(
      `cannot switch to user ${user.name} (uid ${user.uid}, gid ${user.gid}): ${(err as Error).message}`,
      runtime === 'container'
        ? 'do not --cap-drop SETUID or SETGID (they are in the default set)'
        : 'run iro up as root with CAP_SETUID and CAP_SETGID',
      { cause: err },
    );
  }
  const ids = [p.getuid(), p.geteuid(), p.getgid(), p.getegid()];
  if (ids[0] !== user.uid || ids[1] !== user.uid || ids[2] !== user.gid || ids[3] !== user.gid) {
    throw new IroError('ERR_STATE', `after switching to ${user.name} the process ids are ${ids.join('/')}, not ${user.uid}/${user.gid}`);
  }
  if (user.uid !== 0) {
    const caps = ownCapabilities();
    if (caps.effective !== 0n || caps.permitted !== 0n) {
      throw new IroError('ERR_STATE', `after switching to ${user.name} capabilities remain (CapEff ${caps.effective.toString(16)})`);
    }
    let regained = true;
    try {
      p.setuid(0);
    } catch {
      regained = false;
    }
    if (regained) throw new IroError('ERR_STATE', `after switching to ${user.name} the process could become root again`);
  }
  log.info('dropped privileges', { user: user.name, uid: user.uid, gid: user.gid });
  return { uid: user.uid, gid: user.gid, changed: true };
}
