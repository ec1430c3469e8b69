/**
 * The restore journal: what `iro up` changed on the host outside its own TUN (resolver settings,
 * and any route or rule it adds elsewhere), written to the state directory BEFORE each change
 * (write-ahead, fsync'd atomic rename), so that whatever ends the daemon, the next `iro up` or
 * `iro down` of the same interface undoes it. Undoing something that was never applied is
 * harmless for every kind of entry, which is what makes write-ahead safe.
 *
 * File: STATE_DIR/IFNAME.restore.json. It is trusted only if it is a regular file owned by this
 * user or root and writable by nobody else, and only if it was written during the current boot
 * (a reboot already undid everything it lists: /run and routes do not survive one). Entries run
 * only as fixed command shapes (resolvectl revert, resolvconf -d, `ip ... route|rule del ...`),
 * never as arbitrary commands.
 */
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { IroError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { failureText, runCommand } from './exec.js';

/** What to undo. */
export type RestoreEntry =
  /** Per-link DNS set through systemd-resolved: undone with `resolvectl revert LINK`. */
  | { readonly kind: 'resolvectl'; readonly link: string }
  /** A resolvconf record added with `resolvconf -a RECORD`: undone with `resolvconf -d RECORD -f`. */
  | { readonly kind: 'resolvconf'; readonly record: string }
  /**
   * A change made with iproute2, undone by `ip ARGS`; ARGS must delete a route or rule:
   * `[-4|-6] route|rule del|delete ...` (e.g. a host route to the home agent outside the tunnel).
   */
  | { readonly kind: 'ip'; readonly args: readonly string[]; readonly what: string };

interface JournalFile {
  readonly version: 1;
  readonly bootId: string;
  readonly pid: number;
  readonly entries: RestoreEntry[];
}

const VERSION = 1;
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
const SAFE_WORD = /^[A-Za-z0-9][A-Za-z0-9.:/_%@+-]*$/;
const IP_ARG = /^(?:-[46]|[A-Za-z0-9][A-Za-z0-9.:/_%@+-]*)$/;
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;

export interface JournalOptions {
  /** Environment of the undo commands (tests put fakes on its PATH). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where network interfaces are listed (default /sys/class/net). */
  readonly sysClassNet?: string;
  /** The file holding this boot's id (default /proc/sys/kernel/random/boot_id). */
  readonly bootIdPath?: string;
  /** Root of /proc, to tell whether the pid that wrote a journal still runs (default /proc). */
  readonly procRoot?: string;
}

/** Throws RangeError unless `entry` has one of the allowed shapes. */
export function validateEntry(entry: unknown): RestoreEntry {
  const e = entry as Record<string, unknown> | null;
  if (e === null || typeof e !== 'object') throw new RangeError('journal entry must be an object');
  switch (e['kind']) {
    case 'resolvectl':
      if (typeof e['link'] === 'string' && LINK_NAME.test(e['link'])) return { kind: 'resolvectl', link: e['link'] };
      throw new RangeError('resolvectl entry needs a valid interface name in link');
    case 'resolvconf':
      if (typeof e['record'] === 'string' && SAFE_WORD.test(e['record'])) return { kind: 'resolvconf', record: e['record'] };
      throw new RangeError('resolvconf entry needs a record name');
    case 'ip': {
      const args = e['args'];
      if (!Array.isArray(args) || !args.every((a): a is string => typeof a === 'string' && IP_ARG.test(a))) {
        throw new RangeError('ip entry needs args: plain words');
      }
      const rest = args[0] === '-4' || args[0] === '-6' ? args.slice(1) : args;
      if (!(rest[0] === 'route' || rest[0] === 'rule') || !(rest[1] === 'del' || rest[1] === 'delete') || rest.length < 3) {
        throw new RangeError('ip entry must delete a route or a rule: [-4|-6] route|rule del ...');
      }
      return { kind: 'ip', args: [...args], what: typeof e['what'] === 'string' ? e['what'] : 'ip change' };
    }
    default:
      throw new RangeError(`unknown journal entry kind ${JSON.stringify(e['kind'])}`);
  }
}

function sameEntry(a: RestoreEntry, b: RestoreEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describe(e: RestoreEntry): string {
  switch (e.kind) {
    case 'resolvectl':
      return `resolvectl revert ${e.link}`;
    case 'resolvconf':
      return `resolvconf -d ${e.record} -f`;
    case 'ip':
      return `ip ${e.args.join(' ')} (${e.what})`;
  }
}

/**
 * Runs the undo command of `entry`. True when the host is restored or had nothing left to
 * restore (the link is gone, the route was already deleted); false, with a warning naming the
 * command to run by hand, otherwise. Never throws.
 */
export function undoEntry(entry: RestoreEntry, log: Logger, options: JournalOptions = {}): boolean {
  let cmd: string;
  let args: string[];
  switch (entry.kind) {
    case 'resolvectl':
      // systemd-resolved forgets a link's settings when the link goes away.
      if (!existsSync(join(options.sysClassNet ?? '/sys/class/net', entry.link))) return true;
      cmd = 'resolvectl';
      args = ['revert', entry.link];
      break;
    case 'resolvconf':
      cmd = 'resolvconf';
      args = ['-d', entry.record, '-f'];
      break;
    case 'ip':
      cmd = 'ip';
      args = [...entry.args];
      break;
  }
  const r = runCommand(cmd, args, { env: options.env ?? process.env });
  if (r.status === 0) {
    log.info('restored host setting', { undo: describe(entry) });
    return true;
  }
  if (entry.kind === 'ip' && /No such process|No such file|Cannot find device/.test(r.stderr)) return true;
  log.warn('could not restore host setting', { undo: describe(entry), error: failureText(r), fix: `run by hand: ${describe(entry)}` });
  return false;
}

export class HostJournal {
  readonly path: string;
  readonly #log: Logger;
  readonly #options: JournalOptions;
  readonly #stateDir: string;
  #entries: RestoreEntry[] = [];

  private constructor(stateDir: string, ifname: string, log: Logger, options: JournalOptions) {
    if (!LINK_NAME.test(ifname)) throw new RangeError(`interface name ${JSON.stringify(ifname)} is not valid`);
    this.#stateDir = stateDir;
    this.path = join(stateDir, `${ifname}.restore.json`);
    this.#log = log;
    this.#options = options;
  }

  /**
   * The journal of interface `ifname` in `stateDir`. Opening changes nothing; call recover()
   * once before making changes to undo what an earlier run left behind.
   */
  static open(stateDir: string, ifname: string, log: Logger, options: JournalOptions = {}): HostJournal {
    return new HostJournal(stateDir, ifname, log, options);
  }

  #bootId(): string {
    try {
      return readFileSync(this.#options.bootIdPath ?? BOOT_ID_PATH, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  }

  #write(): void {
    if (this.#entries.length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    mkdirSync(this.#stateDir, { recursive: true, mode: 0o700 });
    const body: JournalFile = { version: VERSION, bootId: this.#bootId(), pid: process.pid, entries: this.#entries };
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(body, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(this.#stateDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** Records `entry` durably; call it BEFORE making the change it undoes. */
  add(entry: RestoreEntry): void {
    const valid = validateEntry(entry);
    if (this.#entries.some((e) => sameEntry(e, valid))) return;
    this.#entries.push(valid);
    try {
      this.#write();
    } catch (err) {
      this.#entries.pop();
      throw new IroError('ERR_STATE', `cannot write the restore journal ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Forgets `entry` (after it was undone, or when applying it failed and was rolled back). */
  remove(entry: RestoreEntry): void {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => !sameEntry(e, entry));
    if (this.#entries.length === before) return;
    try {
      this.#write();
    } catch (err) {
      this.#log.warn('cannot update the restore journal', { path: this.path, err });
    }
  }

  /** Runs the undo command of `entry` (see undoEntry); true when the host is restored. */
  undo(entry: RestoreEntry): boolean {
    return undoEntry(entry, this.#log, this.#options);
  }

  /** Undoes every entry of this run, newest first, and removes the journal. Never throws. */
  undoAll(): void {
    for (const e of [...this.#entries].reverse()) this.undo(e);
    this.#entries = [];
    try {
      this.#write();
    } catch (err) {
      this.#log.warn('cannot remove the restore journal', { path: this.path, err });
    }
  }

  /**
   * Undoes what an earlier run of this interface recorded and did not undo (it crashed or was
   * killed), newest first, then removes that journal. Returns the number of entries undone.
   * Skips (and keeps) a journal whose writer still runs; ignores one written before the last
   * boot, and one that is not safe to trust (wrong owner or mode, malformed).
   */
  recover(): number {
    let st;
    try {
      st = lstatSync(this.path);
    } catch {
      return 0;
    }
    const euid = process.geteuid?.() ?? 0;
    if (!st.isFile() || (st.uid !== euid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
      this.#log.warn('ignoring a restore journal that is not a regular file owned by this user or root and writable only by it', {
        path: this.path,
        fix: `inspect and remove it: rm ${this.path}`,
      });
      return 0;
    }
    let file: JournalFile;
    try {
      file = JSON.parse(readFileSync(this.path, 'utf8')) as JournalFile;
      if (file.version !== VERSION || !Array.isArray(file.entries)) throw new RangeError(`unknown journal version ${String(file.version)}`);
    } catch (err) {
      this.#log.warn('ignoring a malformed restore journal', { path: this.path, err, fix: `inspect and remove it: rm ${this.path}` });
      return 0;
    }
    if (Number.isInteger(file.pid) && file.pid !== process.pid && this.#running(file.pid)) {
      this.#log.warn('the restore journal belongs to a running iro; leaving it alone', { path: this.path, pid: file.pid });
      return 0;
    }
    if (file.bootId !== this.#bootId()) {
      this.#log.info('discarding a restore journal from an earlier boot: nothing of it survived the reboot', { path: this.path });
      rmSync(this.path, { force: true });
      return 0;
    }
    let undone = 0;
    for (const raw of [...file.entries].reverse()) {
      let entry: RestoreEntry;
      try {
        entry = validateEntry(raw);
      } catch (err) {
        this.#log.warn('skipping an invalid restore journal entry', { path: this.path, err });
        continue;
      }
      if (this.undo(entry)) undone++;
    }
    rmSync(this.path, { force: true });
    this.#log.info('restored what an earlier run left on the host', { path: this.path, entries: undone });
    return undone;
  }

  #running(pid: number): boolean {
    try {
      const cmdline = readFileSync(join(this.#options.procRoot ?? '/proc', String(pid), 'cmdline'), 'utf8');
      return cmdline.split('\0').includes('up');
    } catch {
      return false;
    }
  }
}
