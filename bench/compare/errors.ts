/**
 * Errors of the comparison benchmark, with stable codes (STYLE habit 8). Callers and tests match
 * on `code`, never on the message. A contender that fails is not an exception of the run: it is
 * recorded in the report as "failed: <reason>" and the run goes on; only problems that make the
 * whole run impossible (usage, privilege, interruption) escape runCompare().
 */

export type BenchErrorCode =
  /** Bad options or command-line arguments. */
  | 'ERR_BENCH_USAGE'
  /** Not root, or /dev/net/tun missing: namespaces and TUN devices cannot be made. */
  | 'ERR_BENCH_PRIVILEGE'
  /** A needed program is missing and could not be installed; the message has the command to run. */
  | 'ERR_BENCH_INSTALL'
  /** A command exited with a failure status. */
  | 'ERR_BENCH_COMMAND'
  /** A command or a wait ran past its time bound. */
  | 'ERR_BENCH_TIMEOUT'
  /** A tunnel could not be brought up (or stopped passing traffic before measuring). */
  | 'ERR_BENCH_SETUP'
  /** A measurement tool gave no usable result. */
  | 'ERR_BENCH_MEASURE'
  /** SIGINT or SIGTERM arrived; everything was torn down. */
  | 'ERR_BENCH_INTERRUPTED';

export class BenchError extends Error {
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
    this.code = code;
  }
}

/** The run was interrupted by a signal; everything it started has been stopped and removed. */
export class InterruptedError extends BenchError {
  readonly signal: 'SIGINT' | 'SIGTERM';

  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super('ERR_BENCH_INTERRUPTED', `interrupted by ${signal}`);
    this.name = 'InterruptedError';
    this.signal = signal;
  }
}

/** The message of any thrown value, for "failed: <reason>" lines. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
