/**
 * `iro down NAME|FILE`: asks the daemon to stop over its control socket and waits until it has
 * (its socket disappears). The daemon removes its interface, routes and sockets itself.
 */
import { existsSync, rmSync } from 'node:fs';
import { loadConfig } from '../../config/index.js';
import { controlRequest } from '../../control/index.js';
import { HostJournal } from '../../ops/index.js';
import { createJsonLogger } from '../../util/log.js';
import { ExitCode, IroError } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';
import { interfaceNameOf, onlyRunning, socketOf } from './control-target.js';

const STOP_WAIT_MS = 10_000;
const POLL_MS = 50;

const USAGE = `usage: iro down [NAME|FILE]

Stops the iro interface NAME (or the one started from FILE; with neither, the only one
running): its dataplane stops, state is saved, the interface and its routes are removed.
Given FILE while no daemon answers (it crashed or was killed), undoes what that run left on
the host (policy rules, DNS) from the restore journal in its StateDir.
`;

export const downCommand: Command = {
  name: 'down',
  summary: 'stop a running interface',
  usage: USAGE,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, 0, 1);
    const name = positionals[0] === undefined ? onlyRunning() : interfaceNameOf(positionals[0]);
    const path = socketOf(name);
    const file = positionals[0] !== undefined && positionals[0].endsWith('.conf') ? positionals[0] : null;
    try {
      await controlRequest(path, 'down');
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      if (file === null || (cause !== 'ENOENT' && cause !== 'ECONNREFUSED')) throw err;
      // Nothing answers: the daemon crashed or was killed. Undo what it left on the host.
      const config = loadConfig(file);
      const log = createJsonLogger({ level: 'info', write: (line) => io.err(line) });
      const undone = HostJournal.open(config.interface.stateDir, config.interfaceName, log).recover();
      rmSync(path, { force: true });
      io.out(`${name}: not running; ${undone} host setting${undone === 1 ? '' : 's'} restored\n`);
      return ExitCode.OK;
    }
    const deadline = Date.now() + STOP_WAIT_MS;
    while (existsSync(path)) {
      if (Date.now() > deadline) throw new IroError('ERR_CONTROL', `${name} did not stop within ${STOP_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    io.out(`${name}: down\n`);
    return ExitCode.OK;
  },
};
