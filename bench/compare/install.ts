/**
 * What the benchmark needs from Debian, and installing it. Each contender lists its programs with
 * the package that provides them; everything missing is installed in one apt-get call
 * (noninteractive, --no-install-recommends; `apt-get update` and one retry when a package is
 * unknown). When installing is impossible or refused (`install: false`), the exact command to run
 * is reported instead. Services the packages ship (strongswan-starter, prometheus) are never
 * started or relied on: the harness starts its own daemons with generated configs.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Session } from './session.js';

/** A program (looked up in PATH plus the sbin directories) or a file, and its Debian package. */
export interface Requirement {
  /** A command name, or an absolute path for files that are not in PATH (plugins, charon). */
  readonly what: string;
  readonly pkg: string;
}

export interface InstallResult {
  /** Requirements that were missing before installing. */
  readonly missing: readonly Requirement[];
  /** Packages apt-get was asked for (empty when nothing was missing or installing was off). */
  readonly packages: readonly string[];
  readonly ok: boolean;
  readonly seconds: number;
  /** The command a person should run when `ok` is false. */
  readonly command: string | null;
  readonly error: string | null;
}

const APT_INSTALL_TIMEOUT_MS = 20 * 60_000;
const APT_UPDATE_TIMEOUT_MS = 10 * 60_000;
/** Waits for a dpkg lock held by someone else instead of failing at once. */
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=300'];
const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of a command, or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SEARCH_DIRS];
  for (const d of dirs) {
    const p = join(d, cmd);
    if (executable(p)) return p;
  }
  return null;
}

export function present(req: Requirement): boolean {
  return req.what.startsWith('/') ? readable(req.what) : which(req.what) !== null;
}

export function missingOf(reqs: readonly Requirement[]): Requirement[] {
  return reqs.filter((r) => !present(r));
}

export function uniquePackages(reqs: readonly Requirement[]): string[] {
  return [...new Set(reqs.map((r) => r.pkg))].sort();
}

/** The command a person runs to install `packages` by hand. */
export function installCommand(packages: readonly string[]): string {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/**
 * Installs whatever of `reqs` is missing. Never throws for apt failures: the result says what is
 * still missing and which command to run (rejects only when the session is aborted).
 */
export async function ensureInstalled(session: Session, reqs: readonly Requirement[], install: boolean): Promise<InstallResult> {
  const missing = missingOf(reqs);
  if (missing.length === 0) return { missing, packages: [], ok: true, seconds: 0, command: null, error: null };
  const packages = uniquePackages(missing);
  const command = installCommand(packages);
  const what = missing.map((r) => r.what).join(', ');
  if (!install) {
    return { missing, packages: [], ok: false, seconds: 0, command, error: `missing ${what} (installing is off)` };
  }
  if (which('apt-get') === null) {
    return { missing, packages: [], ok: false, seconds: 0, command, error: `missing ${what} and apt-get is not available` };
  }
  const started = Date.now();
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // apt-get is never killed on SIGINT/SIGTERM (survivesAbort): an interrupted dpkg leaves the
  // machine's package state broken; the run stops after it instead.
  const aptInstall = (): Promise<string | null> =>
    session
      .run('apt-get', [...APT_LOCK_WAIT, 'install', '-y', '-q', '--no-install-recommends', ...packages], {
        timeoutMs: APT_INSTALL_TIMEOUT_MS,
        env,
        survivesAbort: true,
      })
      .then(
        () => null,
        (err: unknown) => (err as Error).message,
      );
  session.log.info('installing', { packages: packages.join(' ') });
  session.throwIfAborted();
  let error = await aptInstall();
  session.throwIfAborted();
  if (error !== null) {
    session.log.info('apt-get install failed; running apt-get update and retrying', { error });
    await session.run('apt-get', [...APT_LOCK_WAIT, 'update', '-q'], { timeoutMs: APT_UPDATE_TIMEOUT_MS, env, check: false, survivesAbort: true });
    session.throwIfAborted();
    error = await aptInstall();
    session.throwIfAborted();
  }
  const still = missingOf(missing);
  const seconds = (Date.now() - started) / 1000;
  if (error === null && still.length === 0) return { missing, packages, ok: true, seconds, command: null, error: null };
  const why = error ?? `apt-get succeeded but ${still.map((r) => r.what).join(', ')} is still missing`;
  return { missing, packages, ok: false, seconds, command, error: why };
}
