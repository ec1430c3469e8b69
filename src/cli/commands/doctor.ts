/**
 * `iro doctor [--json] [FILE]`: checks the host for what iro needs (ops/ checks plus the path
 * MTU of each peer, measured the way `iro up` derives it) and explains every problem with the
 * command that fixes it. Changes nothing. Exit 0 when no check failed (warnings allowed), 1
 * otherwise.
 */
import { existsSync } from 'node:fs';
import type { IroConfig } from '../../config/index.js';
import { controlSocketPath } from '../../control/index.js';
import {
  allPassed,
  checkCapabilities,
  checkClock,
  checkConfigFile,
  checkForwarding,
  checkTun,
  checkUdpPort,
  detectRuntime,
  dropTarget,
  forwardingFamilies,
  neededCapabilities,
  type Finding,
  type Severity,
} from '../../ops/index.js';
import { formatIp } from '../../util/addr.js';
import { ExitCode } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';
import { innerMtu, pathMtu } from '../daemon/netsetup.js';

const DEFAULT_PORT = 4500;
const DEFAULT_STATE_DIR = '/var/lib/iro';
/** RFC 8200 §5: the IPv6 minimum link MTU. */
const IPV6_MIN_MTU = 1280;
/** RFC 791: every IPv4 host accepts 576-byte datagrams. */
const IPV4_MIN_MTU = 576;

const USAGE = `usage: iro doctor [--json] [FILE]

Checks this host for what iro needs and explains each problem with the command that fixes it.
Changes nothing. With FILE, checks what that interface needs; without, the defaults.

checks (finding ids):
  config          FILE and its key files are valid, and readable only by their owner
  tun             /dev/net/tun exists and opens
  capabilities    CAP_NET_ADMIN (plus CAP_NET_RAW for Encapsulation = esp, CAP_SETUID/SETGID/CHOWN
                  when IRO_USER asks for a privilege drop)
  forwarding.*    IPv4/IPv6 forwarding, on a home agent (gateway)
  port            the UDP port (ListenPort, default ${DEFAULT_PORT}) is free, or held by this interface's
                  own iro; names an IPsec daemon (strongSwan, Libreswan, ...) that holds it
  mtu.PEER        the configured MTU fits the path to each peer with a fixed Endpoint
  clock           the clock is plausible, has not gone back, and is NTP-synchronized

options:
  --json   print {"ok": BOOL, "findings": [{"id", "severity", "message", "fix"}]}

exit codes: 0 nothing failed (warnings allowed), 1 some check failed, 2 usage
`;

async function checkMtu(config: IroConfig, file: string): Promise<Finding[]> {
  const iface = config.interface;
  const identities = iface.role === 'mobile-node' ? iface.homeAddresses : iface.addresses;
  const floor = identities.some((p) => p.addr.length === 16) ? IPV6_MIN_MTU : IPV4_MIN_MTU;
  const findings: Finding[] = [];
  for (const peer of config.peers) {
    const dest = peer.endpoint?.address ?? null;
    if (dest === null) continue;
    const id = `mtu.${peer.name}`;
    const path = await pathMtu(dest);
    const idFamily = (peer.identities[0]?.length ?? 16) === 4 ? 4 : 6;
    const max = innerMtu(path, peer, dest.length === 4 ? 4 : 6, idFamily);
    const where = `the path to ${peer.name} (${formatIp(dest)}, MTU ${path})`;
    if (iface.mtu !== 'auto' && iface.mtu > max) {
      findings.push({
        id,
        severity: 'fail',
        message: `MTU = ${iface.mtu}, but ${where} carries at most ${max} bytes inside ESP: larger packets are dropped or fragmented`,
        fix: `set MTU = ${Math.max(max, floor)} (or MTU = auto) in [Interface] of ${file}`,
      });
    } else if (max < floor) {
      findings.push({
        id,
        severity: 'warn',
        message: `${where} leaves ${max} bytes inside ESP, less than the ${floor} the tunnel needs: outer packets will be fragmented`,
        fix:
          `raise the MTU of the outgoing interface (ip link set dev DEV mtu N; see ip route get ${formatIp(dest)}), ` +
          'or use Encapsulation = esp to save the UDP header',
      });
    } else {
      const mtu = iface.mtu === 'auto' ? `MTU = auto gives ${max}` : `MTU = ${iface.mtu} fits (at most ${max})`;
      findings.push({ id, severity: 'ok', message: `${mtu} over ${where}`, fix: null });
    }
  }
  return findings;
}

/** Runs every check; `file` is the config to check against, or null for the defaults. */
export async function runDoctor(file: string | null): Promise<Finding[]> {
  const runtime = detectRuntime();
  const findings: Finding[] = [];
  let config: IroConfig | null = null;
  if (file !== null) {
    const checked = checkConfigFile(file);
    findings.push(...checked.findings);
    config = checked.config;
  }
  findings.push(checkTun({ runtime }));
  findings.push(checkCapabilities(neededCapabilities(config, dropTarget(undefined) !== null), runtime));
  if (config !== null) findings.push(...checkForwarding(forwardingFamilies(config), { runtime }));
  const running = config !== null && existsSync(controlSocketPath(config.interfaceName));
  findings.push(
    await checkUdpPort(config?.interface.listenPort ?? DEFAULT_PORT, file !== null ? { configFile: file, interfaceRunning: running } : {}),
  );
  if (config !== null && file !== null) findings.push(...(await checkMtu(config, file)));
  findings.push(checkClock({ stateDir: config?.interface.stateDir ?? DEFAULT_STATE_DIR }));
  return findings;
}

const LABEL: Record<Severity, string> = { fail: 'FAIL', warn: 'warn', ok: 'ok  ' };
const ORDER: Record<Severity, number> = { fail: 0, warn: 1, ok: 2 };

/** The human report: problems first, each with its fix. */
export function formatFindings(findings: readonly Finding[]): string {
  const count = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  const fails = count('fail');
  const warns = count('warn');
  const head =
    fails + warns === 0
      ? `iro doctor: all ${findings.length} checks passed`
      : `iro doctor: ${fails} problem${fails === 1 ? '' : 's'}, ${warns} warning${warns === 1 ? '' : 's'}, ${count('ok')} passed`;
  const lines = [head, ''];
  const sorted = [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  for (const f of sorted) {
    lines.push(`${LABEL[f.severity]} ${f.id}: ${f.message}`);
    if (f.fix !== null) lines.push(`     fix: ${f.fix}`);
  }
  return lines.join('\n') + '\n';
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check this host for what iro needs; explain each problem with its fix',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { json: { type: 'boolean' } }, 0, 1);
    const findings = await runDoctor(parsed.positionals[0] ?? null);
    const passed = allPassed(findings);
    if (parsed.values.json === true) io.out(JSON.stringify({ ok: passed, findings }, null, 2) + '\n');
    else io.out(formatFindings(findings));
    return passed ? ExitCode.OK : ExitCode.FAILURE;
  },
};
