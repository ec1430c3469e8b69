/**
 * OpenVPN 2.6, TLS point-to-point over UDP, data channel AES-256-GCM, in userspace
 * (`--disable-dco`), with a throwaway EC CA made by openssl for this setup only. Recipe from
 * LAB.md. B is the TLS server, A the client; `--ifconfig` gives each end the inner addresses.
 *
 * MTU 1440 on the TUN: its packets plus OpenVPN's data-channel framing (opcode/peer-id, packet
 * id, GCM tag) and IPv4+UDP fit the 1500-byte veth, as for the other contenders.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError } from '../errors.js';
import { INNER, OUTER, type Lab, type Side } from '../lab.js';
import { ProcessTunnel, type ContenderSpec, type TunnelInfo } from './types.js';

const PORT = 1194;
const MTU = 1440;
const CIPHER = 'AES-256-GCM';
const READY_TIMEOUT_MS = 30_000;
const OPENSSL_TIMEOUT_MS = 20_000;
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const ROLE: Record<Side, 'client' | 'server'> = { a: 'client', b: 'server' };

/** Makes ca.crt and, for each role, ROLE.crt/ROLE.key signed by it, in `dir`. */
async function makeCertificates(lab: Lab, dir: string): Promise<void> {
  const openssl = (args: string[]): Promise<unknown> => lab.session.run('openssl', args, { timeoutMs: OPENSSL_TIMEOUT_MS });
  const f = (name: string): string => join(dir, name);
  await openssl(['req', '-x509', ...EC, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=iro-bench-ca', '-days', '2']);
  for (const role of ['server', 'client'] as const) {
    writeFileSync(f(`${role}.ext`), `extendedKeyUsage = ${role}Auth\nkeyUsage = critical, digitalSignature\n`);
    await openssl(['req', ...EC, '-keyout', f(`${role}.key`), '-out', f(`${role}.csr`), '-subj', `/CN=iro-bench-${role}`]);
    await openssl(['x509', '-req', '-in', f(`${role}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${role}.crt`), '-days', '2', '-extfile', f(`${role}.ext`)]);
  }
}

class OpenvpnTunnel extends ProcessTunnel {
  async setup(lab: Lab): Promise<TunnelInfo> {
    const dir = lab.mkdir('openvpn');
    await makeCertificates(lab, dir);
    for (const side of ['b', 'a'] as const) {
      const role = ROLE[side];
      const peer: Side = side === 'a' ? 'b' : 'a';
      const args = [
        '--dev-type', 'tun', '--dev', `ovpn${side}`, '--proto', 'udp',
        '--local', OUTER[side], '--remote', OUTER[peer], '--port', String(PORT),
        `--tls-${role}`, '--remote-cert-tls', ROLE[peer],
        '--ca', join(dir, 'ca.crt'), '--cert', join(dir, `${role}.crt`), '--key', join(dir, `${role}.key`),
        '--dh', 'none', '--data-ciphers', CIPHER, '--disable-dco',
        '--ifconfig', INNER[side], INNER[peer], '--tun-mtu', String(MTU),
        '--verb', '3',
      ];
      this.procs.push(lab.start(side, `openvpn ${role}`, 'openvpn', args));
    }
    // Both ends must be up and must log the data-channel cipher they settled on (the line can
    // come after "Initialization Sequence Completed" on one of them).
    const ready = /Initialization Sequence Completed/;
    const cipherLine = /Data Channel: [Cc]ipher '([^']+)'/;
    await Promise.all(this.procs.map((p) => p.waitFor(ready, READY_TIMEOUT_MS)));
    const ciphers = await Promise.all(this.procs.map(async (p) => (await p.waitFor(cipherLine, READY_TIMEOUT_MS))[1]));
    const cipher = ciphers.every((c) => c === CIPHER) ? CIPHER : ciphers.join(' / ');
    if (cipher !== CIPHER) throw new BenchError('ERR_BENCH_SETUP', `OpenVPN negotiated data cipher ${cipher}, expected ${CIPHER}`);
    const version = (await lab.session.run('openvpn', ['--version'], { timeoutMs: 5000, check: false })).stdout.split('\n')[0] ?? '';
    return { addressA: INNER.a, addressB: INNER.b, pids: this.procs.map((p) => p.pid), mtu: MTU, notes: { cipher, version: version.trim() } };
  }
}

export const openvpn: ContenderSpec = {
  id: 'openvpn',
  label: 'OpenVPN 2.6 AES-256-GCM',
  kind: 'peer',
  requires: [
    { what: 'openvpn', pkg: 'openvpn' },
    { what: 'openssl', pkg: 'openssl' },
  ],
  details: { cipher: 'aes256gcm', encapsulation: 'udp', mtu: MTU },
  create: () => new OpenvpnTunnel(),
};
