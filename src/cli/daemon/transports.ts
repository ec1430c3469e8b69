/**
 * The wire side of `iro up`: ESP-in-UDP sockets on ListenPort for both families (RFC 3948), and
 * raw ESP sockets (IP protocol 50) when a peer uses `Encapsulation = esp`. The native back-end
 * uses the addon (recvmmsg/sendmmsg, per-packet source address); the native-free one node:dgram.
 */
import type { IroConfig } from '../../config/types.js';
import type { TransportTable } from '../../dataplane/types.js';
import { openDgram } from '../../io/dgram.js';
import type { Transport } from '../../io/ports.js';
import { openRaw } from '../../io/raw.js';
import { openUdp } from '../../io/udp.js';
import type { Encapsulation } from '../../sad/sa.js';
import { ConfigError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';

export class Transports implements TransportTable {
  readonly all: Transport[] = [];
  private readonly byKind = new Map<string, Transport>();

  add(t: Transport): void {
    this.all.push(t);
    this.byKind.set(`${t.kind}${t.family}`, t);
  }

  pick(encap: Encapsulation, family: 4 | 6): Transport | null {
    return this.byKind.get(`${encap === 'udp' ? 'udp' : 'esp'}${family}`) ?? null;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((t) => t.close()));
  }
}

/**
 * Raw ESP needs the addon: a config that asks for it under the native-free back-end is refused
 * before anything is set up (ConfigError naming each such peer).
 */
export function checkTransportConfig(config: IroConfig, nativeFree: boolean): void {
  const raw = config.peers.filter((p) => p.encapsulation === 'esp');
  if (!nativeFree || raw.length === 0) return;
  throw new ConfigError(
    raw.map((p) => ({
      file: config.file,
      line: p.line,
      field: 'Peer.Encapsulation',
      message: 'esp (raw ESP) needs the native back-end; the native-free back-end sends ESP in UDP only',
    })),
  );
}

/**
 * Opens what the peers need. A family whose socket cannot be opened (e.g. IPv6 disabled) is
 * skipped with a warning as long as the other works; privilege errors are thrown as they are.
 */
export async function openTransports(config: IroConfig, nativeFree: boolean, log: Logger): Promise<Transports> {
  const t = new Transports();
  try {
    const port = config.interface.listenPort;
    const failures: unknown[] = [];
    for (const family of [4, 6] as const) {
      try {
        t.add(nativeFree ? await openDgram({ family, addresses: [family === 4 ? '0.0.0.0' : '::'], port }) : openUdp({ family, port, log }));
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_PRIVILEGE') throw err;
        failures.push(err);
        log.warn('UDP socket not available for this family', { family, port, err });
      }
    }
    if (failures.length === 2) throw failures[0];
    if (config.peers.some((p) => p.encapsulation === 'esp')) {
      for (const family of [4, 6] as const) t.add(openRaw({ family }));
    }
    return t;
  } catch (err) {
    // Sockets already open would keep the process alive after a failed start.
    await t.close();
    throw err;
  }
}
