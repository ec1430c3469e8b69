/**
 * Small network-namespace helpers for the native-free tests (LAB.md "Namespaces"): one namespace
 * per test, named with the PID so parallel or crashed runs never collide, deleted in the test's
 * `finally` and, as a last resort, by a process 'exit' hook.
 *
 * A Node process cannot enter a namespace itself, so code that must run inside one runs in an
 * agent child started with `ip netns exec NS node AGENT`, spoken to in JSON lines: each request
 * carries an `id`, each reply echoes it. Every call has a timeout; agents are killed at cleanup.
 *
 * Needs root. Addresses used with these helpers: documentation ranges only.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const COMMAND_TIMEOUT_MS = 20_000;
const DEFAULT_CALL_TIMEOUT_MS = 15_000;
const AGENT_EXIT_TIMEOUT_MS = 5_000;

let serial = 0;
const liveNamespaces = new Set<string>();
const liveAgents = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of liveAgents) child.kill('SIGKILL');
  for (const ns of liveNamespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

/** Runs a command and returns stdout; throws an Error carrying stderr on a non-zero exit. */
export function sh(cmd: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Whether this process can make namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    sh('ip', ['-V']);
    return true;
  } catch {
    return false;
  }
}

export interface Netns {
  readonly name: string;
  /** Runs `cmd args` inside the namespace; returns stdout. */
  exec(cmd: string, args: readonly string[], timeoutMs?: number): string;
  /** Names of the interfaces in the namespace (from `ip -j link`). */
  links(): string[];
  /** Deletes the namespace (idempotent). */
  destroy(): void;
}

/** Creates namespace `nf<pid><tag><n>` with `lo` up. */
export function createNetns(tag: string): Netns {
  const name = `nf${process.pid}${tag}${serial++}`;
  sh('ip', ['netns', 'add', name]);
  liveNamespaces.add(name);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: (cmd, args, timeoutMs) => sh('ip', ['netns', 'exec', name, cmd, ...args], timeoutMs),
    links: () => (JSON.parse(sh('ip', ['-n', name, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname),
    destroy: () => {
      if (!liveNamespaces.delete(name)) return;
      sh('ip', ['netns', 'del', name]);
    },
  };
}

/** A JSON-lines agent running in a namespace. */
export interface Agent {
  /** Sends `{ id, ...request }` and resolves with the reply (rejects on `error` or timeout). */
  call<T = Record<string, unknown>>(request: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Resolves with the exit code (or signal name) once the agent has exited, within a bound. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** What the agent wrote to stderr so far (for assertion messages). */
  stderr(): string;
  kill(): void;
}

/**
 * Starts `node script` in namespace `ns`, with `env` added and `prefix` (e.g. a setpriv command
 * line) in front of node. The agent replies one JSON object per line on stdout.
 */
export function startAgent(ns: string, script: string, env: Record<string, string>, prefix: readonly string[] = []): Agent {
  const child = spawn('ip', ['netns', 'exec', ns, ...prefix, process.execPath, script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  liveAgents.add(child);
  let errText = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errText += d));
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let exitResult: number | string | null = null;
  const exitWaiters: Array<(v: number | string) => void> = [];
  child.on('exit', (code, signal) => {
    liveAgents.delete(child);
    exitResult = code ?? signal ?? -1;
    for (const w of exitWaiters) w(exitResult);
    for (const [, p] of waiting) {
      clearTimeout(p.timer);
      p.reject(new Error(`agent exited (${exitResult}) before replying; stderr: ${errText}`));
    }
    waiting.clear();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: { id?: number; error?: string };
    try {
      msg = JSON.parse(line) as { id?: number; error?: string };
    } catch {
      return;
    }
    const p = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (!p) return;
    waiting.delete(msg.id!);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new Error(`agent: ${msg.error}`));
    else p.resolve(msg);
  });
  return {
    call<T>(request: Record<string, unknown>, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`agent call ${JSON.stringify(request)} timed out after ${timeoutMs} ms; stderr: ${errText}`));
        }, timeoutMs);
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        child.stdin!.write(JSON.stringify({ id, ...request }) + '\n');
      });
    },
    exited(timeoutMs = AGENT_EXIT_TIMEOUT_MS): Promise<number | string> {
      if (exitResult !== null) return Promise.resolve(exitResult);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent did not exit within ${timeoutMs} ms`)), timeoutMs);
        exitWaiters.push((v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    stderr: () => errText,
    kill: () => {
      if (exitResult === null) child.kill('SIGKILL');
    },
  };
}
