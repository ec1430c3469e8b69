/**
 * Linux capabilities of this process as the kernel reports them in /proc/self/status (the CapEff,
 * CapPrm and CapBnd lines: 64-bit hex masks, capability(7)), and the ones iro needs.
 */
import { readFileSync } from 'node:fs';

/** Capability numbers from linux/capability.h. */
export const CAP = {
  CHOWN: 0,
  SETGID: 6,
  SETUID: 7,
  NET_BIND_SERVICE: 10,
  NET_ADMIN: 12,
  NET_RAW: 13,
} as const;
export type CapName = keyof typeof CAP;

export interface CapabilitySets {
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly bounding: bigint;
}

export const PROC_SELF_STATUS = '/proc/self/status';

function maskOf(status: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)\\s*$`, 'm').exec(status);
  if (!m) throw new RangeError(`no ${field} line in the process status text`);
  return BigInt(`0x${m[1]}`);
}

/** Parses the text of /proc/PID/status. Throws RangeError when a Cap line is missing. */
export function parseCapabilities(status: string): CapabilitySets {
  return { effective: maskOf(status, 'CapEff'), permitted: maskOf(status, 'CapPrm'), bounding: maskOf(status, 'CapBnd') };
}

/** This process's capabilities (reads /proc/self/status). */
export function ownCapabilities(statusPath: string = PROC_SELF_STATUS): CapabilitySets {
  return parseCapabilities(readFileSync(statusPath, 'utf8'));
}

export function hasCapability(mask: bigint, cap: CapName): boolean {
  return ((mask >> BigInt(CAP[cap])) & 1n) === 1n;
}

/** The real, effective, saved and filesystem ids of the Uid: or Gid: line of a status text. */
export function statusIds(status: string, field: 'Uid' | 'Gid'): readonly number[] {
  const m = new RegExp(`^${field}:\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$`, 'm').exec(status);
  if (!m) throw new RangeError(`no ${field} line in the process status text`);
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}
