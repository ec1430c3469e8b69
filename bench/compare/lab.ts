/**
 * The lab: two network namespaces joined by a veth pair (MTU 1500), named after the harness's PID
 * so parallel or crashed runs never collide, plus a private temporary directory.
 *
 *   ns A "iro-bench-<pid>-a"                     ns B "iro-bench-<pid>-b"
 *   ib<pid>a 198.51.100.1/24, 2001:db8:1::1/64 <-> ib<pid>b 198.51.100.2/24, 2001:db8:1::2/64
 *
 * A is always the sending side (iperf3 client, ping source), B the receiving side. Tunnels put
 * their inner addresses on top: 192.0.2.1 in A and 203.0.113.1 in B (INNER_A/INNER_B). Only
 * documentation addresses are used, and only inside these namespaces.
 *
 * Teardown order matters: a namespace outlives the processes inside it only as an empty shell,
 * but processes are not killed by deleting it, so the Session stops processes before the lab's
 * cleanup step deletes the namespaces; the temporary directory goes last.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Proc, RunOptions, RunResult, Session, StartOptions } from './session.js';

export type Side = 'a' | 'b';
export const SIDES: readonly Side[] = ['a', 'b'];

/** Outer (veth) addresses. */
export const OUTER: Readonly<Record<Side, string>> = { a: '198.51.100.1', b: '198.51.100.2' };
export const OUTER6: Readonly<Record<Side, string>> = { a: '2001:db8:1::1', b: '2001:db8:1::2' };
/** Tunnel inner addresses (each tunnel puts these on its own device). */
export const INNER: Readonly<Record<Side, string>> = { a: '192.0.2.1', b: '203.0.113.1' };
export const VETH_MTU = 1500;

const IP_TIMEOUT_MS = 10_000;

export class Lab {
  readonly session: Session;
  /** The run id in every name (the harness's PID by default). */
  readonly id: string;
  /** Namespace names. */
  readonly ns: Readonly<Record<Side, string>>;
  /** veth interface names (inside each namespace). */
  readonly veth: Readonly<Record<Side, string>>;
  /** The run's private temporary directory (mode 0700). */
  readonly dir: string;
  #dirCount = 0;

  private constructor(session: Session, id: string, dir: string) {
    this.session = session;
    this.id = id;
    this.ns = { a: `iro-bench-${id}-a`, b: `iro-bench-${id}-b` };
    this.veth = { a: `ib${id}a`, b: `ib${id}b` };
    this.dir = dir;
  }

  /**
   * Creates the temporary directory, the namespaces and the veth pair; registers their removal
   * with the session before creating each, so an interruption at any point leaves nothing.
   */
  static async create(session: Session, id: string = String(process.pid)): Promise<Lab> {
    const dir = mkdtempSync(join(tmpdir(), `iro-bench-${id}-`));
    session.defer(
      'remove temporary directory',
      async () => rmSync(dir, { recursive: true, force: true }),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const lab = new Lab(session, id, dir);
    for (const side of SIDES) {
      const ns = lab.ns[side];
      session.defer(
        `delete namespace ${ns}`,
        async () => void (await session.run('ip', ['netns', 'del', ns], { timeoutMs: IP_TIMEOUT_MS, check: false, survivesAbort: true })),
        () => void spawnSync('ip', ['netns', 'del', ns], { timeout: IP_TIMEOUT_MS, stdio: 'ignore' }),
      );
      await lab.ip(null, ['netns', 'add', ns]);
    }
    await lab.ip(null, ['link', 'add', lab.veth.a, 'netns', lab.ns.a, 'mtu', String(VETH_MTU), 'type', 'veth',
      'peer', 'name', lab.veth.b, 'netns', lab.ns.b, 'mtu', String(VETH_MTU)]);
    for (const side of SIDES) {
      await lab.ip(side, ['link', 'set', 'lo', 'up']);
      await lab.ip(side, ['addr', 'add', `${OUTER[side]}/24`, 'dev', lab.veth[side]]);
      await lab.ip(side, ['-6', 'addr', 'add', `${OUTER6[side]}/64`, 'dev', lab.veth[side], 'nodad']);
      await lab.ip(side, ['link', 'set', lab.veth[side], 'up']);
    }
    return lab;
  }

  /** Runs `ip ARGS` in a namespace (or in the root namespace for `null`). */
  ip(side: Side | null, args: readonly string[]): Promise<RunResult> {
    const full = side === null ? args : ['-n', this.ns[side], ...args];
    return this.session.run('ip', full, { timeoutMs: IP_TIMEOUT_MS });
  }

  /** Runs a command to completion inside a namespace. */
  exec(side: Side, cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    return this.session.run('ip', ['netns', 'exec', this.ns[side], cmd, ...args], options);
  }

  /**
   * Starts a background process inside a namespace. `ip netns exec` execs the command in place
   * (no fork), so the returned PID is the command's own: CPU accounting and stop() use it.
   */
  start(side: Side, name: string, cmd: string, args: readonly string[], options: StartOptions = {}): Proc {
    return this.session.start(name, 'ip', ['netns', 'exec', this.ns[side], cmd, ...args], options);
  }

  /** A fresh subdirectory of the run's temporary directory (mode 0700), removed with it. */
  mkdir(prefix: string): string {
    const d = join(this.dir, `${prefix}-${++this.#dirCount}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  }
}
