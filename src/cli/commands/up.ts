/**
 * `iro up FILE`: validates the config, brings the interface up and runs the dataplane in the
 * foreground until SIGTERM/SIGINT or `iro down`. Logs JSON lines on stderr. Exit codes: 0 after
 * a clean stop, 78 for a config error, 77 for a missing privilege (with the exact fix), 1 for a
 * runtime failure.
 */
import { loadConfig } from '../../config/index.js';
import { loadNative } from '../../native/index.js';
import { ExitCode, IroError } from '../../util/errors.js';
import { createJsonLogger, type LogLevel } from '../../util/log.js';
import { parseCommandArgs, stringOption, UsageError, type Command } from '../command.js';
import { Daemon } from '../daemon/daemon.js';
import { dropTarget } from '../../ops/index.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const USAGE = `usage: iro up FILE [--native-free] [--log-level LEVEL] [--user NAME]

Brings up the iro interface described by FILE (its name is the file name without .conf):
creates the TUN device, assigns the identity addresses, routes the peers' AllowedIPs into it,
derives the MTU from the path (unless MTU is set), and runs the dataplane, the control socket
and the metrics server in the foreground. Stop it with Ctrl-C, SIGTERM or \`iro down NAME\`.

options:
  --native-free       use the back-end without compiled code (macvtap + node:dgram), as
                      \`Backend = native-free\` does
  --log-level LEVEL   ${LEVELS.join(' | ')} (default: the config's LogLevel)
  --user NAME         after opening the TUN and sockets as root, switch to this unprivileged
                      user for good (default: $IRO_USER; the container image sets iro)

exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage, 77 missing privilege, 78 config error
`;

export const upCommand: Command = {
  name: 'up',
  summary: 'bring an interface up and run its dataplane in the foreground',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(
      args,
      { 'native-free': { type: 'boolean' }, 'log-level': { type: 'string' }, user: { type: 'string' } },
      1,
      1,
    );
    const config = loadConfig(parsed.positionals[0]!);
    const levelText = stringOption(parsed, 'log-level', config.interface.logLevel);
    if (!(LEVELS as readonly string[]).includes(levelText)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
    const log = createJsonLogger({ level: levelText as LogLevel, write: (line) => io.err(line) });
    for (const w of config.warnings) log.warn('config warning', { file: w.file, line: w.line, field: w.field, message: w.message });
    const nativeFree = parsed.values['native-free'] === true || config.interface.backend === 'native-free';
    if (!nativeFree && loadNative() === null) {
      throw new IroError(
        'ERR_NATIVE',
        'the native addon is not built (run `npm rebuild` in the iro directory), or use the native-free back-end: iro up FILE --native-free',
      );
    }
    const user = dropTarget(typeof parsed.values['user'] === 'string' ? parsed.values['user'] : undefined);
    const daemon = await Daemon.start({ config, nativeFree, log, user });
    const onSignal = (signal: NodeJS.Signals): void => void daemon.stop(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await daemon.stopped;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return ExitCode.OK;
  },
};
