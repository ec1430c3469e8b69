/**
 * Everything one benchmark run starts and must undo: child processes (each known by its PID),
 * and cleanup steps (namespaces, temporary directories) kept on a stack.
 *
 * Rules this module enforces for the rest of the harness:
 * - Every command is bounded in time: `run()` needs a timeout and kills the child (by PID) when
 *   it is exceeded.
 * - Children are spawned in their own session (`detached`), so a Ctrl-C in the terminal reaches
 *   only the harness, which then stops its children in order instead of racing them.
 * - Processes are ended only by the PIDs this session started, never by name.
 * - `abort()` (SIGINT/SIGTERM) makes every pending `run()`, `sleep()` and `waitFor()` reject, so
 *   the run unwinds to its `finally`, where `close()` stops the processes and runs the cleanup
 *   stack. `closeSync()` is the last resort for `process.on('exit')`: SIGKILL by PID and the
 *   synchronous form of each cleanup step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../src/util/log.js';
import { BenchError } from './errors.js';

/** How much of a background process's output is kept (the tail), per stream. */
const BACKGROUND_OUTPUT_LIMIT = 64 * 1024;
/** How much output `run()` keeps; iperf3 -J with -P 4 stays far below this. */
const RUN_OUTPUT_LIMIT = 16 * 1024 * 1024;
/** How many stdout lines of a background process keep their arrival time. */
const TIMED_LINE_LIMIT = 10_000;
/** Time between SIGTERM and SIGKILL when stopping a process. */
export const DEFAULT_STOP_GRACE_MS = 3000;

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Upper bound for the whole command; the child is killed when it is reached. */
  readonly timeoutMs: number;
  /** Variables added to the harness's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  /** Reject with ERR_BENCH_COMMAND unless the exit status is 0 (default true). */
  readonly check?: boolean;
  /**
   * Not killed by abort(), and allowed to start after it (default false): cleanup commands, and
   * commands that must not be cut short (apt-get: a killed dpkg leaves a broken package state).
   */
  readonly survivesAbort?: boolean;
}

export interface StartOptions {
  readonly env?: Readonly<Record<string, string>>;
}

/** A line of a background process's stdout and when the harness read it (Unix ms). */
export interface TimedLine {
  readonly ms: number;
  readonly text: string;
}

/** The last `limit` characters of a growing text. */
class Tail {
  #text = '';
  constructor(private readonly limit: number) {}

  push(chunk: string): void {
    this.#text += chunk;
    if (this.#text.length > this.limit) this.#text = this.#text.slice(this.#text.length - this.limit);
  }

  get text(): string {
    return this.#text;
  }
}

/** `cmd args...` quoted for messages. */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The gist of a command's output on one line: all of it when short, else the first line (usually
 * the error) and the last `tail` lines.
 */
export function outputGist(text: string, tail = 2): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length <= tail + 1) return lines.join(' | ');
  return [lines[0], '…', ...lines.slice(-tail)].join(' | ');
}

/**
 * A process started in the background (a tunnel daemon, an iperf3 server, Prometheus). Owned by
 * the Session that started it; `stop()` ends it by PID.
 */
export class Proc {
  readonly name: string;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<RunResult>;
  readonly #child: ChildProcess;
  readonly #stdout = new Tail(BACKGROUND_OUTPUT_LIMIT);
  readonly #stderr = new Tail(BACKGROUND_OUTPUT_LIMIT);
  readonly #signal: AbortSignal;
  #result: RunResult | null = null;
  readonly #listeners = new Set<() => void>();
  readonly #lines: TimedLine[] = [];
  #partial = '';

  constructor(name: string, child: ChildProcess, signal: AbortSignal) {
    if (child.pid === undefined) throw new BenchError('ERR_BENCH_COMMAND', `${name}: the process could not be started`);
    this.name = name;
    this.pid = child.pid;
    this.#child = child;
    this.#signal = signal;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.#timeLines(d);
      this.#output(this.#stdout, d);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.#output(this.#stderr, d));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, sig) => {
        this.#result = { code, signal: sig, stdout: this.#stdout.text, stderr: this.#stderr.text };
        for (const l of this.#listeners) l();
        resolve(this.#result);
      });
    });
  }

  #timeLines(chunk: string): void {
    const ms = Date.now();
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const text of parts) {
      if (this.#lines.length < TIMED_LINE_LIMIT) this.#lines.push({ ms, text });
    }
  }

  /**
   * Complete stdout lines with the time each was read, for processes that print progress in
   * real time (the first TIMED_LINE_LIMIT lines).
   */
  get timedLines(): readonly TimedLine[] {
    return this.#lines;
  }

  #output(tail: Tail, chunk: string): void {
    tail.push(chunk);
    for (const l of this.#listeners) l();
  }

  /** True until the process has exited and been reaped. */
  get running(): boolean {
    return this.#result === null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get stdout(): string {
    return this.#stdout.text;
  }

  get stderr(): string {
    return this.#stderr.text;
  }

  /** `still running`, `exited with status N` or `killed by SIGNAL`. */
  get status(): string {
    const r = this.#result;
    return r === null ? 'still running' : r.signal !== null ? `killed by ${r.signal}` : `exited with status ${r.code}`;
  }

  /** Why the process is gone, for failure messages: exit status and the gist of its output. */
  describeExit(): string {
    const out = outputGist(this.stderr + '\n' + this.stdout);
    return `${this.name} ${this.status}${out !== '' ? `: ${out}` : ''}`;
  }

  /**
   * Resolves with the first match of `pattern` in the process's stdout+stderr, checked as output
   * arrives. Rejects with ERR_BENCH_SETUP if the process exits first, ERR_BENCH_TIMEOUT after
   * `timeoutMs`, or the session's abort reason.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        this.#signal.removeEventListener('abort', onAbort);
        fn();
      };
      const check = (): void => {
        const m = (this.stdout + '\n' + this.stderr).match(pattern);
        if (m) done(() => resolve(m));
        else if (this.#result !== null) {
          done(() => reject(new BenchError('ERR_BENCH_SETUP', `${this.describeExit()} (before printing ${pattern})`)));
        }
      };
      const onAbort = (): void => done(() => reject(this.#signal.reason));
      const timer = setTimeout(
        () => done(() => reject(new BenchError('ERR_BENCH_TIMEOUT', `${this.name} did not print ${pattern} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      if (this.#signal.aborted) return onAbort();
      this.#signal.addEventListener('abort', onAbort, { once: true });
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends `sig` to this process by PID if it is still running. */
  kill(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** SIGTERM by PID, SIGKILL after `graceMs` if it is still there; resolves once it has exited. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<RunResult> {
    if (this.running) {
      this.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.kill('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([this.exited, killed]);
      clearTimeout(timer);
    }
    return this.exited;
  }
}

interface CleanupStep {
  readonly name: string;
  readonly run: () => Promise<void>;
  readonly runSync: () => void;
}

export class Session {
  readonly log: Logger;
  readonly #abort = new AbortController();
  readonly #procs = new Set<Proc>();
  readonly #cleanup: CleanupStep[] = [];

  constructor(log: Logger) {
    this.log = log;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get aborted(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Makes every pending wait of this session reject with `reason`. */
  abort(reason: BenchError): void {
    this.#abort.abort(reason);
  }

  /** Throws the abort reason if the session was aborted. */
  throwIfAborted(): void {
    if (this.aborted) throw this.#abort.signal.reason;
  }

  /**
   * Runs a command to completion, bounded by `timeoutMs`. Resolves with its output; rejects
   * with ERR_BENCH_TIMEOUT (the child is SIGKILLed by PID), ERR_BENCH_COMMAND (non-zero status,
   * unless `check: false`) or the abort reason.
   */
  run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    if (options.survivesAbort !== true) this.throwIfAborted();
    const line = commandLine(cmd, args);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        detached: true,
        env: options.env ? { ...process.env, ...options.env } : process.env,
        stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      const stdout = new Tail(RUN_OUTPUT_LIMIT);
      const stderr = new Tail(RUN_OUTPUT_LIMIT);
      let failure: unknown = null;
      const killNow = (why: unknown): void => {
        failure ??= why;
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
          }
        }
      };
      const onAbort = (): void => killNow(this.#abort.signal.reason);
      const timer = setTimeout(
        () => killNow(new BenchError('ERR_BENCH_TIMEOUT', `${line} did not finish within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      if (options.survivesAbort !== true) this.#abort.signal.addEventListener('abort', onAbort, { once: true });
      child.stdout?.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
      if (options.input !== undefined) child.stdin?.end(options.input);
      child.on('error', (err) => {
        failure ??= new BenchError('ERR_BENCH_COMMAND', `${line}: ${err.message}`, { cause: err });
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        this.#abort.signal.removeEventListener('abort', onAbort);
        const result: RunResult = { code, signal: sig, stdout: stdout.text, stderr: stderr.text };
        if (failure !== null) return reject(failure);
        if (options.check !== false && code !== 0) {
          const why = sig !== null ? `killed by ${sig}` : `exit status ${code}`;
          const out = outputGist(result.stderr + '\n' + result.stdout);
          return reject(new BenchError('ERR_BENCH_COMMAND', `${line}: ${why}${out !== '' ? `: ${out}` : ''}`));
        }
        resolve(result);
      });
    });
  }

  /**
   * Starts a background process, owned by this session until `stop()`/`close()`. Its stdout and
   * stderr tails are kept for `waitFor()` and failure messages.
   */
  start(name: string, cmd: string, args: readonly string[], options: StartOptions = {}): Proc {
    this.throwIfAborted();
    const child = spawn(cmd, args, {
      detached: true,
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.on('error', (err) => this.log.warn('process error', { name, error: err }));
    const proc = new Proc(name, child, this.#abort.signal);
    this.#procs.add(proc);
    void proc.exited.then(() => this.#procs.delete(proc));
    this.log.debug('started', { name, pid: proc.pid, command: commandLine(cmd, args) });
    return proc;
  }

  /** Resolves after `ms`, or rejects with the abort reason. */
  sleep(ms: number): Promise<void> {
    this.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(this.#abort.signal.reason);
      };
      const timer = setTimeout(() => {
        this.#abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Pushes a cleanup step. `close()` runs the steps last-in first-out after stopping every
   * process; `closeSync()` runs `runSync` instead. Returns a function that runs the step now
   * (async form) and removes it from the stack.
   */
  defer(name: string, run: () => Promise<void>, runSync: () => void): () => Promise<void> {
    const step: CleanupStep = { name, run, runSync };
    this.#cleanup.push(step);
    return async () => {
      const i = this.#cleanup.indexOf(step);
      if (i < 0) return;
      this.#cleanup.splice(i, 1);
      await step.run();
    };
  }

  /** Stops every process still running (by PID), then runs the cleanup stack. Never throws. */
  async close(): Promise<void> {
    await Promise.all([...this.#procs].map((p) => p.stop().catch(() => undefined)));
    while (this.#cleanup.length > 0) {
      const step = this.#cleanup.pop()!;
      try {
        await step.run();
      } catch (err) {
        this.log.warn('cleanup step failed', { step: step.name, error: err });
      }
    }
  }

  /** Last resort on process exit: SIGKILL by PID and the synchronous cleanup steps. */
  closeSync(): void {
    for (const p of this.#procs) {
      try {
        p.kill('SIGKILL');
      } catch {
        // The process is already gone; nothing left to end.
      }
    }
    this.#procs.clear();
    while (this.#cleanup.length > 0) {
      const step = this.#cleanup.pop()!;
      try {
        step.runSync();
      } catch {
        // Best effort at exit: the remaining steps still run.
      }
    }
  }
}
