/**
 * `iro down NAME|FILE`: asks the daemon to stop over its control socket and waits until it has
 * (its socket disappears). The daemon removes its interface, routes and sockets itself.
 */
import { existsSync } from 'node:fs';
import { controlRequest } from '../../control/index.js';
import { ExitCode, IroError } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';
import { interfaceNameOf, onlyRunning, socketOf } from './control-target.js';

const STOP_WAIT_MS = 10_000;
const POLL_MS = 50;

const USAGE = `usage: iro down [NAME|FILE]

Stops the iro interface NAME (or the one started from FILE; with neither, the only one
running): its dataplane stops, state is saved, the interface and its routes are removed.
`;

export const downCommand: Command = {
  name: 'down',
  summary: 'stop a running interface',
  usage: USAGE,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, 0, 1);
    const name = positionals[0] === undefined ? onlyRunning() : interfaceNameOf(positionals[0]);
    const path = socketOf(name);
    await controlRequest(path, 'down');
    const deadline = Date.now() + STOP_WAIT_MS;
    while (existsSync(path)) {
      if (Date.now() > deadline) throw new IroError('ERR_CONTROL', `${name} did not stop within ${STOP_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    io.out(`${name}: down\n`);
    return ExitCode.OK;
  },
};
