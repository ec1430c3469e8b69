/**
 * `iro roam [NAME] COA|auto`: forces a mobile node's care-of address (for scripts and tests), or
 * returns it to movement detection. The mobile node registers the new CoA with its home agent
 * (and its correspondents) at once, exactly as after a detected move.
 */
import { controlRequest } from '../../control/index.js';
import { ExitCode } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';
import { interfaceNameOf, onlyRunning, socketOf } from './control-target.js';

const USAGE = `usage: iro roam [NAME] COA|auto

Makes the mobile node NAME use care-of address COA (an address of one of its interfaces) and
register it, as if it had just moved there; \`auto\` returns to movement detection.
`;

export const roamCommand: Command = {
  name: 'roam',
  summary: "force a mobile node's care-of address (or auto)",
  usage: USAGE,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, 1, 2);
    const name = positionals.length === 2 ? interfaceNameOf(positionals[0]!) : onlyRunning();
    const result = await controlRequest(socketOf(name), 'roam', { coa: positionals[positionals.length - 1] });
    io.out(JSON.stringify(result) + '\n');
    return ExitCode.OK;
  },
};
