/**
 * How commands that talk to a running daemon name it: an interface name (`mn0`) or the config
 * file it was started from (`/etc/iro/mn0.conf`, whose base name is the interface name).
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { controlSocketPath, DEFAULT_RUN_DIR } from '../../control/index.js';
import { IroError } from '../../util/errors.js';

export function interfaceNameOf(target: string): string {
  return basename(target).replace(/\.conf$/, '');
}

export function socketOf(target: string): string {
  return controlSocketPath(interfaceNameOf(target));
}

/** Interface names with a control socket in the run directory. */
export function runningInterfaces(): string[] {
  const dir = process.env['IRO_RUN_DIR'] ?? DEFAULT_RUN_DIR;
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sock'))
      .map((f) => f.slice(0, -'.sock'.length))
      .sort();
  } catch {
    return [];
  }
}

/** The single running interface, for commands whose NAME may be left out. */
export function onlyRunning(): string {
  const names = runningInterfaces();
  if (names.length === 1) return names[0]!;
  if (names.length === 0) throw new IroError('ERR_CONTROL', 'no iro interface is running (start one with iro up FILE)');
  throw new IroError('ERR_CONTROL', `several iro interfaces are running (${names.join(', ')}): name one`);
}
