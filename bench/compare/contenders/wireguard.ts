/**
 * wireguard-go (Debian `wireguard-go`, configured with `wg` from `wireguard-tools`), as LAB.md
 * describes: `WG_PROCESS_FOREGROUND=1 wireguard-go IFNAME` in each namespace, then `wg set`, the
 * address and `ip link set up`. The interface name carries the run id because wireguard-go's
 * UAPI socket (/var/run/wireguard/IFNAME.sock) lives in the shared /run.
 *
 * MTU 1440: the largest whose packets fit the 1500-byte veth over IPv4 (20 IPv4 + 8 UDP + 32
 * WireGuard header and tag).
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError } from '../errors.js';
import { INNER, OUTER, SIDES, type Lab, type Side } from '../lab.js';
import { ProcessTunnel, type ContenderSpec, type TunnelInfo } from './types.js';

const PORT = 51820;
const MTU = 1440;
const SOCKET_TIMEOUT_MS = 10_000;
const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

class WireguardTunnel extends ProcessTunnel {
  async setup(lab: Lab): Promise<TunnelInfo> {
    const dir = lab.mkdir('wireguard');
    const run = lab.session.run.bind(lab.session);
    const keys: Record<Side, { file: string; pub: string }> = { a: { file: '', pub: '' }, b: { file: '', pub: '' } };
    for (const side of SIDES) {
      const priv = (await run('wg', ['genkey'], { timeoutMs: 5000 })).stdout.trim();
      const pub = (await run('wg', ['pubkey'], { timeoutMs: 5000, input: priv + '\n' })).stdout.trim();
      const file = join(dir, `${side}.key`);
      writeFileSync(file, priv + '\n', { mode: 0o600 });
      keys[side] = { file, pub };
    }
    const ifname = (side: Side): string => `wg${lab.id}${side}`;
    for (const side of SIDES) {
      const proc = lab.start(side, `wireguard-go ${side}`, 'wireguard-go', [ifname(side)], { env: { WG_PROCESS_FOREGROUND: '1' } });
      this.procs.push(proc);
      const sock = `/var/run/wireguard/${ifname(side)}.sock`;
      // wireguard-go removes its UAPI socket when it exits cleanly, not when it is killed.
      this.onTeardown(async () => rmSync(sock, { force: true }));
      const deadline = Date.now() + SOCKET_TIMEOUT_MS;
      while (!existsSync(sock)) {
        if (!proc.running) throw new BenchError('ERR_BENCH_SETUP', proc.describeExit());
        if (Date.now() > deadline) throw new BenchError('ERR_BENCH_TIMEOUT', `wireguard-go did not create ${sock} within ${SOCKET_TIMEOUT_MS} ms`);
        await lab.session.sleep(50);
      }
    }
    for (const side of SIDES) {
      const peer = other(side);
      await lab.exec(side, 'wg', ['set', ifname(side), 'private-key', keys[side].file, 'listen-port', String(PORT),
        'peer', keys[peer].pub, 'allowed-ips', `${INNER[peer]}/32`, 'endpoint', `${OUTER[peer]}:${PORT}`], { timeoutMs: 10_000 });
      await lab.ip(side, ['addr', 'add', INNER[side], 'peer', `${INNER[peer]}/32`, 'dev', ifname(side)]);
      await lab.ip(side, ['link', 'set', ifname(side), 'mtu', String(MTU), 'up']);
    }
    const said = (await run('wireguard-go', ['--version'], { timeoutMs: 5000, check: false })).stdout;
    const version = said.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown';
    return { addressA: INNER.a, addressB: INNER.b, pids: this.procs.map((p) => p.pid), mtu: MTU, notes: { version } };
  }
}

export const wireguardGo: ContenderSpec = {
  id: 'wireguard-go',
  label: 'wireguard-go',
  kind: 'peer',
  requires: [
    { what: 'wireguard-go', pkg: 'wireguard-go' },
    { what: 'wg', pkg: 'wireguard-tools' },
  ],
  details: { cipher: 'chacha20poly1305', encapsulation: 'udp', mtu: MTU },
  create: () => new WireguardTunnel(),
};
