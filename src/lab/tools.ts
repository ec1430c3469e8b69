/**
 * The external programs the lab drives, and their installation on Debian: each tool is looked up
 * on PATH (plus the sbin directories, where nft and conntrack live); what is missing is installed
 * with apt-get (DEBIAN_FRONTEND=noninteractive) when allowed, or reported in an error that names
 * the exact command to run.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { IroError } from '../util/errors.js';
import { runSync } from './process.js';

/** A program the lab needs and the Debian package that provides it. */
export interface LabTool {
  readonly name: string;
  readonly package: string;
  /** Present when this file exists (default: `name` is an executable on PATH). */
  readonly path?: string;
}

/** Every tool the lab knows. */
export const LAB_TOOLS: Readonly<Record<string, LabTool>> = {
  ping: { name: 'ping', package: 'iputils-ping' },
  tcpdump: { name: 'tcpdump', package: 'tcpdump' },
  iperf3: { name: 'iperf3', package: 'iperf3' },
  tshark: { name: 'tshark', package: 'tshark' },
  nft: { name: 'nft', package: 'nftables' },
  conntrack: { name: 'conntrack', package: 'conntrack' },
  setpriv: { name: 'setpriv', package: 'util-linux' },
  scapy: { name: 'scapy', package: 'python3-scapy', path: '/usr/lib/python3/dist-packages/scapy/__init__.py' },
};

/** What `ensureTools()` checks by default: the brief's set plus Scapy for injection. */
export const DEFAULT_TOOLS: readonly string[] = ['ping', 'tcpdump', 'iperf3', 'tshark', 'nft', 'scapy'];

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const APT_TIMEOUT_MS = 10 * 60_000;

/** The absolute path of executable `name` on PATH (or an sbin directory), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function present(tool: LabTool): boolean {
  if (tool.path === undefined) return findExecutable(tool.name) !== null;
  try {
    accessSync(tool.path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function lookup(names: readonly string[]): LabTool[] {
  return names.map((n) => {
    const tool = LAB_TOOLS[n];
    if (!tool) throw new RangeError(`unknown lab tool ${JSON.stringify(n)}; known: ${Object.keys(LAB_TOOLS).join(', ')}`);
    return tool;
  });
}

/** The tools among `names` that are not installed. */
export function missingTools(names: readonly string[] = DEFAULT_TOOLS): LabTool[] {
  return lookup(names).filter((t) => !present(t));
}

/** The shell command that installs `packages` (what an error tells the user to run). */
export function installCommand(packages: readonly string[]): string {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

export interface EnsureToolsOptions {
  /** Install what is missing with apt-get (default true); false only reports. */
  readonly install?: boolean;
}

/**
 * Makes sure every tool in `names` is installed. Installs the missing packages with apt-get when
 * allowed and possible (root); otherwise throws IroError 'ERR_IO' naming the exact command.
 * Returns the packages it installed.
 */
export function ensureTools(names: readonly string[] = DEFAULT_TOOLS, options: EnsureToolsOptions = {}): string[] {
  const missing = missingTools(names);
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((t) => t.package))];
  const fix = installCommand(packages);
  const what = missing.map((t) => t.name).join(', ');
  if (options.install === false || process.getuid?.() !== 0 || findExecutable('apt-get') === null) {
    throw new IroError('ERR_IO', `the lab needs ${what}, which ${missing.length === 1 ? 'is' : 'are'} not installed; run as root: ${fix}`);
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  try {
    runSync('apt-get', ['update', '-q'], { env, timeoutMs: APT_TIMEOUT_MS });
    runSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, timeoutMs: APT_TIMEOUT_MS });
  } catch (err) {
    throw new IroError('ERR_IO', `installing ${packages.join(' ')} failed (${(err as Error).message}); run as root: ${fix}`, { cause: err });
  }
  const still = missingTools(names);
  if (still.length > 0) {
    throw new IroError('ERR_IO', `${still.map((t) => t.name).join(', ')} still missing after apt-get; run as root: ${fix}`);
  }
  return packages;
}
