/**
 * `iro check FILE...`: validates config files exactly as `iro up` would load them (key files,
 * their modes and owners included) and starts nothing. Exit 0 when every file is valid, 78
 * otherwise, with every problem on stderr as FILE:LINE: FIELD: MESSAGE.
 */
import { loadConfig } from '../../config/index.js';
import { ConfigError, ExitCode, formatConfigIssue } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';

const USAGE = `usage: iro check FILE...

Validates each config file without starting anything: syntax, every key and value, roles,
SPIs, key lengths, and that key files exist with mode 0600.

Prints "FILE: ok (ROLE, N peers)" for each valid file (warnings go to stderr). Otherwise lists
every problem on stderr, one per line as FILE:LINE: FIELD: MESSAGE, and exits 78.
`;

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate config files (exit 78 listing every problem)',
  usage: USAGE,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, 1, Infinity);
    let failed = false;
    for (const file of positionals) {
      try {
        const config = loadConfig(file);
        for (const w of config.warnings) io.err(`warning: ${formatConfigIssue(w)}\n`);
        const n = config.peers.length;
        io.out(`${file}: ok (${config.interface.role}, ${n} peer${n === 1 ? '' : 's'})\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        io.err(err.issues.map((i) => formatConfigIssue(i) + '\n').join(''));
        failed = true;
      }
    }
    return failed ? ExitCode.CONFIG : ExitCode.OK;
  },
};
