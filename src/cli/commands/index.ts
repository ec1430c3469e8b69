/**
 * Every `iro` command, in the order `iro --help` lists them. A new command is one file beside
 * this one and one entry here.
 */
import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { genkeyCommand } from './genkey.js';
import { genpairCommand } from './genpair.js';
import { upCommand } from './up.js';
import { downCommand } from './down.js';
import { showCommand } from './show.js';
import { roamCommand } from './roam.js';
import { doctorCommand } from './doctor.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';

export const COMMANDS: readonly Command[] = [
  upCommand,
  downCommand,
  showCommand,
  roamCommand,
  checkCommand,
  genkeyCommand,
  genpairCommand,
  doctorCommand,
  demoCommand,
  benchCommand,
];
