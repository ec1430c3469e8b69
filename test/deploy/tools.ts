/**
 * Host tools the deploy tests need (promtool, systemd-analyze, podman, debootstrap), installed
 * from Debian with apt-get when missing, as CI machines start without them. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { findOnPath } from '../../src/ops/index.js';

let updated = false;

/** The path of `cmd`, installing Debian `packages` first if it is not on PATH. */
export function ensureTool(cmd: string, packages: readonly string[]): string {
  const found = findOnPath(cmd);
  if (found !== null) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 });
    updated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
    timeout: 600_000,
  });
  const installed = findOnPath(cmd);
  if (installed === null) throw new Error(`installing ${packages.join(' ')} did not provide ${cmd}`);
  return installed;
}
