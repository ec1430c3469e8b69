/**
 * Start-up checks of `iro up`: run before anything is opened, so a missing device, capability
 * or forwarding sysctl stops iro at once with the exact fix instead of a bare EPERM later.
 * `iro doctor` runs the same checks and more.
 */
import type { IroConfig } from '../config/index.js';
import { IroError, PrivilegeError } from '../util/errors.js';
import type { CapabilitySets } from './caps.js';
import { checkCapabilities, checkForwarding, checkTun, forwardingFamilies, neededCapabilities } from './checks.js';
import { detectRuntime, type Finding, type Runtime } from './findings.js';

export interface StartupCheckOptions {
  /** True when iro will drop to an unprivileged user after start-up. */
  readonly dropUser?: boolean;
  readonly runtime?: Runtime;
  readonly tunPath?: string;
  readonly procSys?: string;
  readonly capabilities?: CapabilitySets;
}

/** The findings for `config`: TUN device, capabilities, and forwarding when it is a home agent. */
export function startupChecks(config: IroConfig, options: StartupCheckOptions = {}): Finding[] {
  const runtime = options.runtime ?? detectRuntime();
  const tun = checkTun({ runtime, ...(options.tunPath !== undefined ? { devicePath: options.tunPath } : {}) });
  const caps = checkCapabilities(neededCapabilities(config, options.dropUser ?? false), runtime, options.capabilities);
  const forwarding = checkForwarding(forwardingFamilies(config), {
    runtime,
    ...(options.procSys !== undefined ? { procSys: options.procSys } : {}),
  });
  return [tun, caps, ...forwarding];
}

/** Finding ids whose failure is a missing privilege (exit 77) rather than a host setting. */
const PRIVILEGE_IDS = new Set(['tun', 'capabilities']);

/** A host setting that keeps iro from working (e.g. forwarding off on a home agent). */
export class HostSetupError extends IroError {
  readonly fix: string;
  readonly findings: readonly Finding[];

  constructor(findings: readonly Finding[]) {
    const fix = findings.map((f) => f.fix).join('\n     ');
    super('ERR_STATE', `${findings.map((f) => f.message).join('\n')}\nfix: ${fix}`);
    this.name = 'HostSetupError';
    this.fix = fix;
    this.findings = findings;
  }
}

/**
 * Throws when a finding failed: PrivilegeError (exit 77) naming every missing device and
 * capability with its fix, else HostSetupError ('ERR_STATE', exit 1) with every fix.
 */
export function assertStartup(findings: readonly Finding[]): void {
  const failed = findings.filter((f) => f.severity === 'fail');
  if (failed.length === 0) return;
  const privilege = failed.filter((f) => PRIVILEGE_IDS.has(f.id));
  if (privilege.length > 0) {
    throw new PrivilegeError(privilege.map((f) => f.message).join('\n'), privilege.map((f) => f.fix).join('\n     '));
  }
  throw new HostSetupError(failed);
}
