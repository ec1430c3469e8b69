/**
 * What a host check reports: a Finding with a stable id, a severity, what was found, and the
 * command that fixes it. `iro doctor` prints every finding; `iro up` runs the start-up subset
 * (startup.ts) and refuses to start on a failure. The fix text depends on where iro runs: a
 * container needs run flags, a systemd unit needs unit settings, a plain host needs commands.
 */
import { existsSync, readFileSync } from 'node:fs';

export type Severity = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** Stable identifier for scripts and tests, e.g. `tun`, `forwarding.ipv4`, `port`, `config`. */
  readonly id: string;
  readonly severity: Severity;
  /** What was found, in one or two sentences. */
  readonly message: string;
  /** The command or setting that fixes it; null when there is nothing to fix. */
  readonly fix: string | null;
}

export function ok(id: string, message: string): Finding {
  return { id, severity: 'ok', message, fix: null };
}

export function warn(id: string, message: string, fix: string | null): Finding {
  return { id, severity: 'warn', message, fix };
}

export function fail(id: string, message: string, fix: string): Finding {
  return { id, severity: 'fail', message, fix };
}

/** Where iro runs, which decides how a fix is spelt. */
export type Runtime = 'container' | 'systemd' | 'host';

export interface RuntimeProbe {
  readonly env?: NodeJS.ProcessEnv;
  /** Directory the marker files are looked up in (default `/`). */
  readonly root?: string;
  /** The mount table to read the root file system's type from (default /proc/self/mounts). */
  readonly mounts?: string;
}

function rootIsOverlay(mounts: string): boolean {
  try {
    return readFileSync(mounts, 'utf8')
      .split('\n')
      .some((line) => {
        const f = line.split(' ');
        return f[1] === '/' && f[2] === 'overlay';
      });
  } catch {
    return false;
  }
}

/**
 * A container (podman sets $container and writes /run/.containerenv; Docker writes /.dockerenv
 * and runs on an overlay root, which tells it from a VM image that kept the file), a systemd
 * service ($INVOCATION_ID), or a plain host.
 */
export function detectRuntime(probe: RuntimeProbe = {}): Runtime {
  const env = probe.env ?? process.env;
  const root = probe.root ?? '/';
  if (env['container'] !== undefined || existsSync(`${root}run/.containerenv`)) return 'container';
  if (existsSync(`${root}.dockerenv`) && rootIsOverlay(probe.mounts ?? '/proc/self/mounts')) return 'container';
  if (env['INVOCATION_ID'] !== undefined) return 'systemd';
  return 'host';
}

/** True when no finding failed. */
export function allPassed(findings: readonly Finding[]): boolean {
  return findings.every((f) => f.severity !== 'fail');
}
