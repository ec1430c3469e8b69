/**
 * What every CLI command is: a name, a one-line summary, its usage text and an async `run` that
 * returns the exit code. Adding a command = one file under commands/ plus one line in
 * commands/index.ts. Commands write through `CliIo` (never to process.stdout directly) so tests
 * can run them in-process.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { IroError } from '../util/errors.js';

export interface CliIo {
  /** Writes to standard output (text as given; include the newline). */
  readonly out: (text: string) => void;
  /** Writes to standard error. */
  readonly err: (text: string) => void;
}

export interface Command {
  readonly name: string;
  /** One line for `iro --help`. */
  readonly summary: string;
  /** The full text of `iro help NAME`, starting with "usage: iro NAME ...". */
  readonly usage: string;
  /** Runs with the arguments after the command name; returns the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Wrong arguments: main prints the message and the command's usage and exits 2. */
export class UsageError extends IroError {
  constructor(message: string) {
    super('ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/**
 * node:util parseArgs in strict mode, with its errors turned into UsageErrors and the number of
 * positional arguments checked (`min`..`max`).
 */
export function parseCommandArgs(args: string[], options: Options, min: number, max: number): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const n = parsed.positionals.length;
  if (n < min) {
    const count = `${min} argument${min === 1 ? '' : 's'}`;
    throw new UsageError(min === max ? `expected ${count}` : `expected at least ${count}`);
  }
  if (n > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`);
  return parsed;
}

/** A string option's value, or `fallback` when absent. */
export function stringOption(parsed: ParsedArgs, name: string, fallback: string): string {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : fallback;
}
