/**
 * Running the host tools iro integrates with (resolvectl, resolvconf, ip, timedatectl):
 * synchronously, with a timeout, never through a shell, and never throwing for a tool that is
 * missing or fails: the caller gets the exit status and output and decides what that means.
 * Synchronous on purpose: these run at start-up, at shutdown and in exit handlers, where an
 * await may never resume.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** How long one host tool may run before it is killed. */
export const COMMAND_TIMEOUT_MS = 10_000;

export interface CommandResult {
  /** Exit status; null when the tool could not be started or was killed. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it did not run to completion (ENOENT: not installed, ETIMEDOUT: killed after the timeout). */
  readonly errorCode: string | null;
}

export interface CommandOptions {
  /** Text written to the tool's standard input. */
  readonly input?: string;
  /** The environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** Runs `cmd args`; `cmd` is looked up on the PATH of `options.env`. */
export function runCommand(cmd: string, args: readonly string[], options: CommandOptions = {}): CommandResult {
  const r = spawnSync(cmd, args, {
    input: options.input ?? '',
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const errorCode = r.error ? ((r.error as NodeJS.ErrnoException).code ?? 'error') : r.signal ? `killed by ${r.signal}` : null;
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', errorCode };
}

/** One line saying why a command failed: its stderr, else its exit status or error. */
export function failureText(r: CommandResult): string {
  const err = r.stderr.trim().split('\n').filter((l) => l !== '').pop();
  if (err !== undefined) return err;
  if (r.errorCode !== null) return r.errorCode;
  return `exit status ${r.status}`;
}

/** The absolute path of executable `cmd` on `pathValue` (default $PATH), or null. */
export function findOnPath(cmd: string, pathValue: string | undefined = process.env['PATH']): string | null {
  for (const dir of (pathValue ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}
