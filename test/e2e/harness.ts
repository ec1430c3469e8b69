/**
 * What the end-to-end tests share: generated config pairs (mobile node "mn0" + home agent "ha0",
 * mirrored SPIs and fresh random keys) for the lab's tunnel topology. The daemons themselves
 * (`iro up` in namespaces through bin/iro.js, so dist/ must be built, and the readers of their
 * /metrics, /healthz and `iro show --json`) are src/lab/daemon.ts, re-exported here.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDRESSES, METRICS_PORT, type Topology } from '../../src/lab/index.js';

export {
  IRO_BIN,
  IroDaemon,
  METRICS_PORT,
  findSa,
  iroCli,
  logMessage,
  metricValue,
  type ShowJson,
  type ShownSa,
  type StartOptions,
} from '../../src/lab/index.js';

export type Cipher = 'aes128gcm16' | 'aes256gcm16' | 'chacha20poly1305';

export interface TunnelSetup {
  readonly backend: 'native' | 'native-free';
  readonly encapsulation: 'udp' | 'esp';
  /** Family of the locators (the outer header). */
  readonly outer: 4 | 6;
  readonly cipher: Cipher;
  /** ESN on both SAs (tshark can only check packets of SAs without ESN). */
  readonly esn: boolean;
  /** List IPv4 addresses before IPv6 ones in address lists (the order must not matter). */
  readonly ipv4First?: boolean;
}

/** One direction's SA as both ends configure it. */
export interface SaSecret {
  readonly spi: number;
  /** key || salt. */
  readonly keymat: Buffer;
}

export interface TunnelConfigs {
  readonly client: string;
  readonly gateway: string;
  /** Client -> gateway (the client's SPIOut, the gateway's SPIIn). */
  readonly c2g: SaSecret;
  /** Gateway -> client. */
  readonly g2c: SaSecret;
  /** Lines of interesting keys in the client config (for error-message tests). */
  readonly clientLines: Readonly<Record<string, number>>;
  readonly clientStateDir: string;
  readonly gatewayStateDir: string;
}

const KEYMAT_LENGTH: Readonly<Record<Cipher, number>> = { aes128gcm16: 20, aes256gcm16: 36, chacha20poly1305: 36 };
export const SPI_C2G = 0x0000_1001;
export const SPI_G2C = 0x0000_2001;

function spiText(spi: number): string {
  return '0x' + spi.toString(16).padStart(8, '0');
}

/** Writes `lines` to `path` at mode 0600 and returns the 1-based line number of each `Key =`. */
function writeConfig(path: string, lines: readonly string[]): Record<string, number> {
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  const where: Record<string, number> = {};
  lines.forEach((l, i) => {
    const m = /^(\w+)\s*=/.exec(l);
    if (m && where[m[1]!] === undefined) where[m[1]!] = i + 1;
  });
  return where;
}

export interface ConfigOverrides {
  /** Replaces `Key = value` lines of the client's [Peer] (e.g. { KeyOut: 'file:/nonexistent' }). */
  readonly clientPeer?: Readonly<Record<string, string>>;
}

/**
 * Writes mn0.conf and ha0.conf for `setup` into `dir` (mode 0600, inline keys), with state
 * directories beside them. The gateway selects native-free with `Backend =`, the client is
 * expected to get `--native-free` on the command line, so both ways are exercised.
 */
export function writeTunnelConfigs(dir: string, topo: Topology, setup: TunnelSetup, overrides: ConfigOverrides = {}): TunnelConfigs {
  const { identity, home } = ADDRESSES;
  const c2g: SaSecret = { spi: SPI_C2G, keymat: randomBytes(KEYMAT_LENGTH[setup.cipher]) };
  const g2c: SaSecret = { spi: SPI_G2C, keymat: randomBytes(KEYMAT_LENGTH[setup.cipher]) };
  const clientStateDir = join(dir, 'state-mn0');
  const gatewayStateDir = join(dir, 'state-ha0');
  mkdirSync(clientStateDir, { mode: 0o700 });
  mkdirSync(gatewayStateDir, { mode: 0o700 });
  const endpoint = (addr: string): string => (setup.outer === 4 ? `${addr}:4500` : `[${addr}]:4500`);
  const esn = setup.esn ? 'yes' : 'no';
  const pair = (v6: string, v4: string): string => (setup.ipv4First ? `${v4}, ${v6}` : `${v6}, ${v4}`);

  const clientPeer: Record<string, string> = {
    Name: 'home',
    Role: 'home-agent',
    Identity: pair(identity.ha6, identity.ha4),
    Endpoint: endpoint(setup.outer === 4 ? topo.gatewayLocator4 : topo.gatewayLocator6),
    Encapsulation: setup.encapsulation,
    Mode: 'tunnel',
    AllowedIPs: pair(home.prefix6, home.prefix4),
    Cipher: setup.cipher,
    SPIOut: spiText(c2g.spi),
    SPIIn: spiText(g2c.spi),
    KeyOut: c2g.keymat.toString('hex'),
    KeyIn: g2c.keymat.toString('hex'),
    ESN: esn,
    ...overrides.clientPeer,
  };
  const client = join(dir, 'mn0.conf');
  const clientLines = writeConfig(client, [
    '# e2e mobile node (generated)',
    '[Interface]',
    'Role = mobile-node',
    `HomeAddress = ${pair(`${identity.hoa6}/128`, `${identity.hoa4}/32`)}`,
    `CareOf = ${topo.clientWire}`,
    'ListenPort = 4500',
    `Metrics = 127.0.0.1:${METRICS_PORT}`,
    `StateDir = ${clientStateDir}`,
    '',
    '[Peer]',
    ...Object.entries(clientPeer).map(([k, v]) => `${k} = ${v}`),
  ]);

  const gateway = join(dir, 'ha0.conf');
  writeConfig(gateway, [
    '# e2e home agent (generated)',
    '[Interface]',
    'Role = home-agent',
    `Address = ${pair(`${identity.ha6}/128`, `${identity.ha4}/32`)}`,
    `HomePrefix = ${pair(identity.homePrefix6, identity.homePrefix4)}`,
    'ListenPort = 4500',
    `Metrics = 127.0.0.1:${METRICS_PORT}`,
    `StateDir = ${gatewayStateDir}`,
    ...(setup.backend === 'native-free' ? ['Backend = native-free'] : []),
    '',
    '[Peer]',
    'Name = laptop',
    'Role = mobile-node',
    `HomeAddress = ${pair(identity.hoa6, identity.hoa4)}`,
    `Endpoint = ${endpoint(setup.outer === 4 ? topo.clientLocator4 : topo.clientLocator6)}`,
    `Encapsulation = ${setup.encapsulation}`,
    'Mode = tunnel',
    `AllowedIPs = ${pair(`${identity.hoa6}/128`, `${identity.hoa4}/32`)}`,
    `Cipher = ${setup.cipher}`,
    `SPIOut = ${spiText(g2c.spi)}`,
    `SPIIn = ${spiText(c2g.spi)}`,
    `KeyOut = ${g2c.keymat.toString('hex')}`,
    `KeyIn = ${c2g.keymat.toString('hex')}`,
    `ESN = ${esn}`,
  ]);
  return { client, gateway, c2g, g2c, clientLines, clientStateDir, gatewayStateDir };
}
