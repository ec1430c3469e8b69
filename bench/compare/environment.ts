/**
 * The machine a run happened on, recorded in every result file: numbers from different kernels,
 * CPUs or commits are not comparable, and run-to-run noise (~30 %) makes even same-machine
 * numbers comparable only inside one run.
 */
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem, version } from 'node:os';
import type { Session } from './session.js';
import type { Environment } from './types.js';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

async function firstLine(session: Session, cmd: string, args: readonly string[]): Promise<string | null> {
  try {
    const r = await session.run(cmd, args, { timeoutMs: 10_000, check: false });
    const line = (r.stdout + '\n' + r.stderr).split('\n').find((l) => l.trim() !== '');
    return line?.trim() ?? null;
  } catch {
    return null;
  }
}

export async function environment(session: Session, repoRoot: string): Promise<Environment> {
  const cpuModel = readOr('/proc/cpuinfo', '').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const osName = readOr('/etc/os-release', '').match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1] ?? 'unknown';
  const gitCommit = await firstLine(session, 'git', ['-C', repoRoot, 'rev-parse', 'HEAD']);
  let gitDirty: boolean | null = null;
  if (gitCommit !== null && /^[0-9a-f]{40}$/.test(gitCommit)) {
    const r = await session.run('git', ['-C', repoRoot, 'status', '--porcelain'], { timeoutMs: 10_000, check: false });
    gitDirty = r.code === 0 ? r.stdout.trim() !== '' : null;
  }
  const tools: Record<string, string> = {};
  for (const [name, cmd, args] of [
    ['iproute2', 'ip', ['-V']],
    ['iperf3', 'iperf3', ['--version']],
    ['ping', 'ping', ['-V']],
  ] as const) {
    const v = await firstLine(session, cmd, args);
    if (v !== null) tools[name] = v;
  }
  return {
    hostname: hostname(),
    kernel: `${release()} ${version()}`,
    os: osName,
    cpuModel,
    cpuCount: cpus().length,
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    gitCommit: gitCommit !== null && /^[0-9a-f]{40}$/.test(gitCommit) ? gitCommit : null,
    gitDirty,
    tools,
  };
}
