/**
 * Every `iro` command, in the order `iro --help` lists them. A new command is one file beside
 * this one and one entry here.
 */
import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { genkeyCommand } from './genkey.js';
import { genpairCommand } from './genpair.js';

export const COMMANDS: readonly Command[] = [checkCommand, genkeyCommand, genpairCommand];
