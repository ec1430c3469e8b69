/**
 * strongSwan charon with kernel-libipsec: userspace ESP (libipsec) over its own TUN `ipsec0`,
 * keyed by IKEv2 with a pre-shared key, ESP in UDP on 4500 (`encap = yes`), tunnel mode between
 * the inner addresses. Recipe from LAB.md:
 * - one charon per namespace, each with its own STRONGSWAN_CONF and its own /run: charon always
 *   writes /var/run/charon.pid, so it is started as `sh -c 'mount --bind DIR /run && exec charon'`
 *   inside `ip netns exec`, whose private mount namespace keeps the bind invisible to everyone
 *   else (and `exec` keeps the PID that is measured and stopped);
 * - an explicit plugin list (load_modular = no) that includes `kdf` (strongSwan 5.9);
 * - vici on a socket of its own; `swanctl --load-all --file F --uri unix://SOCK`, then
 *   `swanctl --initiate` on A. The responder (B) accepts every cipher under test; the initiator
 *   proposes exactly one, and the negotiated one is checked with `swanctl --list-sas`.
 * The inner addresses sit on `lo` (/32); charon routes the remote one into ipsec0.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BenchError } from '../errors.js';
import { INNER, OUTER, SIDES, type Lab, type Side } from '../lab.js';
import { ProcessTunnel, type ContenderSpec, type TunnelInfo } from './types.js';

const CHARON = '/usr/lib/ipsec/charon';
const PLUGIN_DIR = '/usr/lib/ipsec/plugins';
const PLUGINS =
  'openssl random nonce aes sha1 sha2 hmac kdf gcm chapoly pem pkcs1 x509 revocation constraints pubkey curve25519 ' +
  'kernel-libipsec kernel-netlink socket-default vici';
/** ESP proposals of the ciphers compared (strongSwan keywords) and how --list-sas names them. */
export const STRONGSWAN_CIPHERS = {
  aes128gcm16: 'AES_GCM_16-128',
  chacha20poly1305: 'CHACHA20_POLY1305',
} as const;
export type StrongswanCipher = keyof typeof STRONGSWAN_CIPHERS;

const SOCKET_TIMEOUT_MS = 15_000;
const SWANCTL_TIMEOUT_MS = 30_000;
const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

function strongswanConf(dir: string): string {
  return `charon {
  load_modular = no
  load = ${PLUGINS}
  install_virtual_ip = no
  plugins {
    vici {
      socket = unix://${join(dir, 'charon.vici')}
    }
  }
  filelog {
    bench {
      path = ${join(dir, 'charon.log')}
      default = 1
    }
  }
}
`;
}

function swanctlConf(side: Side, espProposals: string, psk: string): string {
  const peer = other(side);
  return `connections {
  bench {
    version = 2
    local_addrs = ${OUTER[side]}
    remote_addrs = ${OUTER[peer]}
    encap = yes
    local {
      auth = psk
      id = ${OUTER[side]}
    }
    remote {
      auth = psk
      id = ${OUTER[peer]}
    }
    children {
      bench {
        local_ts = ${INNER[side]}/32
        remote_ts = ${INNER[peer]}/32
        mode = tunnel
        esp_proposals = ${espProposals}
        start_action = none
      }
    }
  }
}
secrets {
  ike-bench {
    id-a = ${OUTER.a}
    id-b = ${OUTER.b}
    secret = 0x${psk}
  }
}
`;
}

class StrongswanTunnel extends ProcessTunnel {
  constructor(private readonly cipher: StrongswanCipher) {
    super();
  }

  async setup(lab: Lab): Promise<TunnelInfo> {
    const psk = randomBytes(32).toString('hex');
    const socks: Record<Side, string> = { a: '', b: '' };
    for (const side of SIDES) {
      const dir = lab.mkdir(`strongswan-${side}`);
      const runDir = lab.mkdir(`strongswan-run-${side}`);
      const conf = join(dir, 'strongswan.conf');
      const swanctl = join(dir, 'swanctl.conf');
      socks[side] = join(dir, 'charon.vici');
      writeFileSync(conf, strongswanConf(dir), { mode: 0o600 });
      // The responder accepts every cipher under test; the initiator proposes only this one.
      const proposals = side === 'a' ? this.cipher : Object.keys(STRONGSWAN_CIPHERS).join(',');
      writeFileSync(swanctl, swanctlConf(side, proposals, psk), { mode: 0o600 });

      await lab.ip(side, ['addr', 'add', `${INNER[side]}/32`, 'dev', 'lo']);
      this.onTeardown(() => lab.ip(side, ['addr', 'del', `${INNER[side]}/32`, 'dev', 'lo']));

      const proc = lab.start(side, `charon ${side}`, 'sh', ['-c', `mount --bind "$1" /run && exec ${CHARON}`, 'sh', runDir], {
        env: { STRONGSWAN_CONF: conf },
      });
      this.procs.push(proc);
      const deadline = Date.now() + SOCKET_TIMEOUT_MS;
      while (!existsSync(socks[side])) {
        if (!proc.running) throw new BenchError('ERR_BENCH_SETUP', proc.describeExit());
        if (Date.now() > deadline) throw new BenchError('ERR_BENCH_TIMEOUT', `charon did not create ${socks[side]} within ${SOCKET_TIMEOUT_MS} ms`);
        await lab.session.sleep(50);
      }
      await lab.session.run('swanctl', ['--load-all', '--file', swanctl, '--uri', `unix://${socks[side]}`], { timeoutMs: SWANCTL_TIMEOUT_MS });
    }
    await lab.session.run(
      'swanctl',
      ['--initiate', '--ike', 'bench', '--child', 'bench', '--timeout', '20', '--uri', `unix://${socks.a}`],
      { timeoutMs: SWANCTL_TIMEOUT_MS },
    );
    const sas = (await lab.session.run('swanctl', ['--list-sas', '--uri', `unix://${socks.a}`], { timeoutMs: SWANCTL_TIMEOUT_MS })).stdout;
    const esp = sas.match(/ESP:([A-Za-z0-9_/-]+)/)?.[1] ?? 'unknown';
    if (!esp.startsWith(STRONGSWAN_CIPHERS[this.cipher])) {
      throw new BenchError('ERR_BENCH_SETUP', `strongSwan negotiated ESP ${esp}, expected ${STRONGSWAN_CIPHERS[this.cipher]}`);
    }
    const link = (await lab.ip('a', ['-o', 'link', 'show', 'ipsec0'])).stdout;
    const mtu = Number(link.match(/ mtu (\d+)/)?.[1] ?? NaN);
    const daemon = await lab.session.run('swanctl', ['--version', '--daemon', '--uri', `unix://${socks.a}`], { timeoutMs: 5000, check: false });
    const version = daemon.stdout.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown';
    return { addressA: INNER.a, addressB: INNER.b, pids: this.procs.map((p) => p.pid), mtu, notes: { esp, version } };
  }
}

export function strongswan(cipher: StrongswanCipher): ContenderSpec {
  return {
    id: `strongswan:${cipher}`,
    label: `strongSwan libipsec ${cipher}`,
    kind: 'peer',
    requires: [
      { what: CHARON, pkg: 'strongswan-charon' },
      { what: 'swanctl', pkg: 'strongswan-swanctl' },
      { what: `${PLUGIN_DIR}/libstrongswan-kernel-libipsec.so`, pkg: 'libcharon-extra-plugins' },
      { what: `${PLUGIN_DIR}/libstrongswan-openssl.so`, pkg: 'libstrongswan-standard-plugins' },
      { what: `${PLUGIN_DIR}/libstrongswan-chapoly.so`, pkg: 'libstrongswan-extra-plugins' },
    ],
    details: { cipher, encapsulation: 'udp' },
    create: () => new StrongswanTunnel(cipher),
  };
}
