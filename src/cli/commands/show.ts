/**
 * `iro show [NAME] [--json]`: what a running daemon reports over its control socket: peers with
 * their bindings, SAs with SPIs, locators, packet/byte/drop counters, sequence numbers and
 * replay state. Never key material (the daemon has none in what it sends).
 */
import { controlRequest } from '../../control/index.js';
import { ExitCode } from '../../util/errors.js';
import { parseCommandArgs, type Command } from '../command.js';
import { interfaceNameOf, runningInterfaces, socketOf } from './control-target.js';

const USAGE = `usage: iro show [NAME] [--json]

Shows the running interface NAME (every running one when NAME is left out): peers, bindings,
SAs (SPI, direction, mode, cipher, locators, packets, bytes, drops, sequence numbers, replay
window) and the tunnel counters. --json prints the daemon's answer as JSON.
`;

interface SaView {
  spi: string;
  direction: string;
  mode: string;
  suite: string;
  peer: string;
  encapsulation: string;
  identities: { local: string; peer: string };
  locators: { local: string | null; peer: string | null };
  packets: number;
  bytes: number;
  drops: Record<string, number>;
  sequence: { hi: number; lo: number };
  replayWindow: number | null;
  lastAuthenticatedRx: string | null;
}

interface ShowView {
  interface: string;
  role: string;
  backend: string;
  crypto: string;
  mtu: number;
  workers: number;
  peers: { name: string; role: string; cipher: string; viaHome: boolean; binding: unknown }[];
  sas: SaView[];
  counters: { tunReadPackets: number; tunReadBytes: number; tunWrittenPackets: number; tunWrittenBytes: number } | null;
}

function seq(s: { hi: number; lo: number }): string {
  return s.hi === 0 ? String(s.lo) : `${s.hi}:${s.lo}`;
}

export function formatShow(v: ShowView): string {
  const lines: string[] = [];
  lines.push(`interface ${v.interface}: ${v.role}, backend ${v.backend}, crypto ${v.crypto}, mtu ${v.mtu}, workers ${v.workers}`);
  if (v.counters) {
    const c = v.counters;
    lines.push(`  tunnel: read ${c.tunReadPackets} packets (${c.tunReadBytes} bytes), written ${c.tunWrittenPackets} packets (${c.tunWrittenBytes} bytes)`);
  }
  for (const p of v.peers) {
    lines.push(`  peer ${p.name} (${p.role}, ${p.cipher})${p.viaHome ? ' via home' : ''}`);
    if (p.binding !== null) lines.push(`    binding: ${JSON.stringify(p.binding)}`);
    for (const sa of v.sas.filter((s) => s.peer === p.name)) {
      const loc = `${sa.locators.local ?? sa.identities.local} -> ${sa.locators.peer ?? sa.identities.peer}`;
      const drops = Object.entries(sa.drops)
        .map(([k, n]) => `${k}=${n}`)
        .join(' ');
      lines.push(
        `    sa ${sa.spi} ${sa.direction} ${sa.mode} ${sa.encapsulation} ${loc}: ${sa.packets} packets, ${sa.bytes} bytes, seq ${seq(sa.sequence)}` +
          (sa.replayWindow !== null ? `, window ${sa.replayWindow}` : '') +
          (drops ? `, drops ${drops}` : ''),
      );
    }
  }
  return lines.join('\n') + '\n';
}

export const showCommand: Command = {
  name: 'show',
  summary: 'show SAs, bindings and counters of running interfaces',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { json: { type: 'boolean' } }, 0, 1);
    const names = parsed.positionals[0] !== undefined ? [interfaceNameOf(parsed.positionals[0])] : runningInterfaces();
    const views: ShowView[] = [];
    for (const name of names) views.push((await controlRequest(socketOf(name), 'show')) as ShowView);
    if (parsed.values['json'] === true) io.out(JSON.stringify(parsed.positionals[0] !== undefined ? views[0] : views, null, 2) + '\n');
    else if (views.length === 0) io.out('no iro interface is running\n');
    else for (const v of views) io.out(formatShow(v));
    return ExitCode.OK;
  },
};
