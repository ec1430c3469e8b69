/**
 * The `iro` command line: dispatches to one command per file under commands/ and maps errors to
 * exit codes (DESIGN.md "Interfaces people touch"):
 *   0 ok, 1 runtime failure, 2 usage (with the usage text), 77 missing privilege (with the exact
 *   fix), 78 config error (every problem as FILE:LINE: FIELD: MESSAGE).
 * bin/iro.js calls `main(process.argv.slice(2))` and exits with the returned code.
 */
import { ConfigError, ExitCode, IroError, PrivilegeError, formatConfigIssue } from '../util/errors.js';
import { closest } from '../config/suggest.js';
import { UsageError, type CliIo, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { packageVersion } from './version.js';

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

function globalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: iro <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    '  iro help <command>   show a command\'s usage and options',
    '  iro --version        print the version',
    '',
    'exit codes: 0 ok, 1 failure, 2 usage error, 77 missing privilege, 78 config error',
    '',
  ].join('\n');
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function unknownCommand(name: string): UsageError {
  const guess = closest(name, COMMANDS.map((c) => c.name));
  return new UsageError(`unknown command ${JSON.stringify(name)}${guess !== undefined ? ` (did you mean ${guess}?)` : ''}`);
}

/** True when `args` asks for help before any `--` separator. */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** `iro help [COMMAND]`. */
function help(args: string[], io: CliIo): number {
  if (args.length === 0) {
    io.out(globalUsage());
    return ExitCode.OK;
  }
  if (args.length > 1) throw new UsageError('help takes at most one command name');
  const cmd = findCommand(args[0]!);
  if (!cmd) throw unknownCommand(args[0]!);
  io.out(cmd.usage);
  return ExitCode.OK;
}

/** Prints what went wrong and returns the exit code for it. */
function report(err: unknown, cmd: Command | undefined, io: CliIo): number {
  if (err instanceof ConfigError) {
    io.err(err.issues.map((i) => formatConfigIssue(i) + '\n').join(''));
    return ExitCode.CONFIG;
  }
  if (err instanceof IroError && err.code === 'ERR_USAGE') {
    const prefix = cmd ? `iro ${cmd.name}` : 'iro';
    io.err(`${prefix}: ${err.message}\n\n${cmd ? cmd.usage : globalUsage()}`);
    return ExitCode.USAGE;
  }
  if (err instanceof PrivilegeError) {
    io.err(`iro: ${err.message}\n`);
    return ExitCode.NO_PERMISSION;
  }
  if (err instanceof IroError) {
    io.err(`iro: ${err.message}\n`);
    return ExitCode.FAILURE;
  }
  // Anything else is a bug in iro: show where it happened.
  io.err(`iro: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.FAILURE;
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Output goes through `io` (the process's stdout/stderr by default). Never throws.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [first, ...rest] = argv;
  let cmd: Command | undefined;
  try {
    if (first === undefined) throw new UsageError('missing command');
    if (first === '--help' || first === '-h') return help([], io);
    if (first === '--version' || first === '-V') {
      io.out(`iro ${packageVersion()}\n`);
      return ExitCode.OK;
    }
    if (first === 'help') return help(rest, io);
    if (first.startsWith('-')) throw new UsageError(`unknown option ${JSON.stringify(first)}`);
    cmd = findCommand(first);
    if (!cmd) throw unknownCommand(first);
    if (wantsHelp(rest)) {
      io.out(cmd.usage);
      return ExitCode.OK;
    }
    return await cmd.run(rest, io);
  } catch (err) {
    return report(err, cmd, io);
  }
}
