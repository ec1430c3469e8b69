/**
 * Running programs for the lab: one-shot commands (`runSync`, `run`) and long-running children
 * (`LabProcess`). Never through a shell: the program and its arguments are passed as a vector.
 * Every wait is bounded; a command that outlives its timeout is killed and reported.
 *
 * Failures are IroError 'ERR_IO' whose message names the command line, the exit status and the
 * tail of its stderr, so a failing lab step explains itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { IroError } from '../util/errors.js';

/** Default bound on a one-shot command. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** How much of a child's stdout/stderr a LabProcess keeps (the tail), in characters. */
const OUTPUT_TAIL_CHARS = 64 * 1024;
/** How many complete lines a LabProcess keeps (the most recent). */
const MAX_LINES = 10_000;
/** How much of stderr an error message quotes. */
const MESSAGE_TAIL_CHARS = 2000;
const MAX_BUFFER = 256 * 1024 * 1024;

export interface RunOptions {
  /** Kill the command after this long (default DEFAULT_COMMAND_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string | Uint8Array;
  /** Added to (not replacing) this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Return a non-zero exit instead of throwing (timeouts still throw). */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  /** Exit status, or null when a signal ended the command. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `cmd args...` as one line for messages (arguments with spaces quoted). */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function tail(text: string, chars: number): string {
  const t = text.trim();
  return t.length > chars ? '...' + t.slice(-chars) : t;
}

function outcomeText(status: number | null, signal: NodeJS.Signals | null): string {
  return status !== null ? `exit status ${status}` : `signal ${signal ?? 'unknown'}`;
}

function failure(cmd: string, args: readonly string[], r: RunResult): IroError {
  const err = tail(r.stderr, MESSAGE_TAIL_CHARS);
  return new IroError('ERR_IO', `${commandLine(cmd, args)} failed (${outcomeText(r.status, r.signal)})${err ? `: ${err}` : ''}`);
}

function envWith(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  return extra ? { ...process.env, ...extra } : process.env;
}

/**
 * Runs a command to completion, blocking the event loop (meant for quick setup steps such as
 * `ip`). Returns its result; throws IroError 'ERR_IO' on a missing program, a timeout, or (unless
 * `allowFailure`) a non-zero exit.
 */
export function runSync(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: options.input,
    env: envWith(options.env),
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_BUFFER,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    const why = code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : code === 'ENOENT' ? `${cmd} is not installed` : r.error.message;
    throw new IroError('ERR_IO', `${commandLine(cmd, args)}: ${why}`, { cause: r.error });
  }
  const result: RunResult = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  if (result.status !== 0 && !options.allowFailure) throw failure(cmd, args, result);
  return result;
}

/**
 * Runs a command to completion without blocking the event loop. Same contract as runSync. The
 * child is killed (SIGKILL) when the timeout passes.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: envWith(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' ? `${cmd} is not installed` : err.message;
      reject(new IroError('ERR_IO', `${commandLine(cmd, args)}: ${why}`, { cause: err }));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new IroError('ERR_IO', `${commandLine(cmd, args)}: timed out after ${timeoutMs} ms; stderr: ${tail(stderr, MESSAGE_TAIL_CHARS)}`));
        return;
      }
      const result: RunResult = { status, signal, stdout, stderr };
      if (status !== 0 && !options.allowFailure) reject(failure(cmd, args, result));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export interface ExitStatus {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** A short name for messages (default: the program name). */
  readonly label?: string;
  /** The signal that asks it to finish (teardown sends it first; default SIGTERM). */
  readonly stopSignal?: NodeJS.Signals;
}

interface LineWaiter {
  readonly match: (line: string) => boolean;
  readonly resolve: (line: string) => void;
}

/**
 * A child process the lab started. Its stdout and stderr are read continuously (so it never
 * blocks on a full pipe) and kept as a bounded tail; complete lines can be awaited. The child
 * is ended only through this object, by its PID.
 */
export class LabProcess {
  readonly pid: number;
  readonly label: string;
  readonly commandLine: string;
  readonly stopSignal: NodeJS.Signals;
  readonly #child: ChildProcess;
  #stdout = '';
  #stderr = '';
  readonly #partial = { stdout: '', stderr: '' };
  readonly #lines: string[] = [];
  readonly #waiters = new Set<LineWaiter>();
  #exit: ExitStatus | null = null;
  readonly #exited: Promise<ExitStatus>;

  /** Starts `cmd args`; throws IroError 'ERR_IO' when it cannot be started. */
  constructor(cmd: string, args: readonly string[], options: SpawnOptions = {}) {
    this.commandLine = commandLine(cmd, args);
    this.label = options.label ?? cmd;
    this.stopSignal = options.stopSignal ?? 'SIGTERM';
    this.#child = spawn(cmd, args, { env: envWith(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    this.#exited = new Promise((resolve) => {
      this.#child.on('close', (status, signal) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (this.#partial[stream] !== '') this.#onLine(this.#partial[stream]);
          this.#partial[stream] = '';
        }
        this.#exit = { status, signal };
        resolve(this.#exit);
      });
    });
    this.#child.on('error', () => undefined);
    if (this.#child.pid === undefined) {
      throw new IroError('ERR_IO', `${this.commandLine}: could not be started`);
    }
    this.pid = this.#child.pid;
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => this.#onData('stdout', d));
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => this.#onData('stderr', d));
  }

  /** The tail of everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** The tail of everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The most recent complete lines (stdout and stderr interleaved as they arrived). */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** The exit status once the child has ended (and its output has been read), else null. */
  get exitStatus(): ExitStatus | null {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** Resolves with the exit status when the child has ended; never rejects. */
  get exited(): Promise<ExitStatus> {
    return this.#exited;
  }

  /** Writes to the child's stdin. */
  write(text: string): void {
    this.#child.stdin!.write(text);
  }

  /**
   * Resolves with the first line (stdout or stderr, already written or to come) for which
   * `match` is true. Rejects with IroError 'ERR_IO' when the child exits first or `timeoutMs`
   * passes; the message quotes the end of its output.
   */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what = 'the expected line'): Promise<string> {
    const seen = this.#lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: LineWaiter = {
        match,
        resolve: (line) => {
          cleanup();
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.#error(`did not write ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (s: ExitStatus): void => {
        // Output read after 'close' is complete: a matching last line has been delivered already.
        if (!this.#waiters.has(waiter)) return;
        cleanup();
        reject(this.#error(`ended (${outcomeText(s.status, s.signal)}) before writing ${what}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
      void this.#exited.then(onExit);
    });
  }

  /**
   * Resolves with the exit status once the child has ended. Rejects with IroError 'ERR_IO' after
   * `timeoutMs` (the child keeps running; end it with signal()).
   */
  wait(timeoutMs: number): Promise<ExitStatus> {
    if (this.#exit) return Promise.resolve(this.#exit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.#error(`did not exit within ${timeoutMs} ms`)), timeoutMs);
      void this.#exited.then((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  /** Sends `signal` to the child's PID if it is still running. */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /**
   * Ends the child: `signal` (default its stopSignal), then SIGKILL if it has not exited after
   * `graceMs`. Resolves with its exit status.
   */
  async stop(signal: NodeJS.Signals = this.stopSignal, graceMs = 5000): Promise<ExitStatus> {
    if (this.#exit) return this.#exit;
    this.signal(signal);
    try {
      return await this.wait(graceMs);
    } catch {
      this.signal('SIGKILL');
      return this.wait(graceMs);
    }
  }

  /** Everything the child wrote, for assertion messages. */
  describe(): string {
    const status = this.#exit ? outcomeText(this.#exit.status, this.#exit.signal) : 'running';
    return `${this.label} (pid ${this.pid}, ${status}): ${this.commandLine}\n--- stdout\n${tail(this.#stdout, MESSAGE_TAIL_CHARS)}\n--- stderr\n${tail(this.#stderr, MESSAGE_TAIL_CHARS)}`;
  }

  #error(what: string): IroError {
    return new IroError('ERR_IO', `${this.label} (pid ${this.pid}) ${what}\n${this.describe()}`);
  }

  #onData(stream: 'stdout' | 'stderr', data: string): void {
    if (stream === 'stdout') this.#stdout = (this.#stdout + data).slice(-OUTPUT_TAIL_CHARS);
    else this.#stderr = (this.#stderr + data).slice(-OUTPUT_TAIL_CHARS);
    const parts = (this.#partial[stream] + data).split('\n');
    this.#partial[stream] = parts.pop()!;
    for (const line of parts) this.#onLine(line);
  }

  #onLine(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > MAX_LINES) this.#lines.splice(0, this.#lines.length - MAX_LINES);
    for (const w of [...this.#waiters]) if (w.match(line)) w.resolve(line);
  }
}
