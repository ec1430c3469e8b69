/**
 * loadConfig: the only part of config/ that touches the disk. Reads the config file, checks key
 * files (regular file, mode, owner) and hands everything to the pure parseConfig.
 *
 * Key files must not be readable or writable by group or others, and must belong to root or to
 * the user running iro (as ssh does for private keys); each problem names the exact fix.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../util/errors.js';
import { FILE_FIELD } from './ini.js';
import type { KeyFileReader } from './keys.js';
import type { IroConfig } from './types.js';
import { parseConfig } from './validate.js';
import { bad, ok, type Parsed } from './values.js';

const GROUP_OTHER_READ = 0o044;
const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_ANY = 0o077;

function modeText(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

/** What is wrong with a secret file's permissions ("readable by group or others ..."), or null. */
export function secretModeProblem(st: Stats): string | null {
  if ((st.mode & GROUP_OTHER_ANY) === 0) return null;
  const how: string[] = [];
  if (st.mode & GROUP_OTHER_READ) how.push('readable');
  if (st.mode & GROUP_OTHER_WRITE) how.push('writable');
  if (how.length === 0) how.push('accessible');
  return `${how.join(' and ')} by group or others (mode ${modeText(st.mode)})`;
}

function errnoCode(err: unknown): string {
  return (err as { code?: unknown }).code === undefined ? 'error' : String((err as { code?: unknown }).code);
}

/**
 * The reader loadConfig uses: relative paths are relative to the config file's directory.
 * Messages name the resolved path and the exact fix; they never contain the file's content.
 */
export function diskKeyFileReader(configPath: string): KeyFileReader {
  const base = dirname(resolve(configPath));
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  return (path: string): Parsed<string> => {
    const abs = resolve(base, path);
    let st: Stats;
    try {
      st = statSync(abs);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return bad(`key file ${abs} does not exist`);
      if (code === 'EACCES') return bad(`key file ${abs} cannot be reached: permission denied`);
      return bad(`key file ${abs} cannot be read (${code})`);
    }
    if (!st.isFile()) return bad(`key file ${abs} is not a regular file`);
    const modeProblem = secretModeProblem(st);
    if (modeProblem) return bad(`key file ${abs} is ${modeProblem}; fix: chmod 600 ${abs}`);
    if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
      return bad(
        `key file ${abs} belongs to uid ${st.uid}, not to root or the user running iro (uid ${euid}); ` +
          `fix: chown ${euid} ${abs}`,
      );
    }
    try {
      return ok(readFileSync(abs, 'utf8'));
    } catch (err) {
      const code = errnoCode(err);
      const why = code === 'EACCES' ? ': permission denied' : ` (${code})`;
      return bad(`key file ${abs} cannot be read${why}`);
    }
  };
}

/**
 * Reads and validates the config at `path`. Throws ConfigError (ERR_CONFIG) listing every
 * problem, including an unreadable file. Adds a warning when the file holds inline keys and is
 * readable by group or others.
 */
export function loadConfig(path: string): IroConfig {
  const unreadable = (why: string): ConfigError =>
    new ConfigError([{ file: path, line: 0, field: FILE_FIELD, message: `cannot read the config file: ${why}` }]);
  let text: string;
  let st: Stats;
  try {
    st = statSync(path);
    text = st.isFile() ? readFileSync(path, 'utf8') : '';
  } catch (err) {
    const code = errnoCode(err);
    throw unreadable(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code);
  }
  if (!st.isFile()) throw unreadable('not a regular file');
  const config = parseConfig(text, path, diskKeyFileReader(path));
  const modeProblem = config.hasInlineKeys ? secretModeProblem(st) : null;
  if (!modeProblem) return config;
  const message = `holds inline keys and is ${modeProblem}; fix: chmod 600 ${path}`;
  const warning: ConfigIssue = { file: path, line: 0, field: FILE_FIELD, message };
  return { ...config, warnings: [...config.warnings, warning] };
}
