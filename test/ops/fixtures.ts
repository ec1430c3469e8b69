/**
 * Config files for the host-check tests: a home agent (gateway) serving one mobile node, with
 * its keys in key files beside it. Keys are test patterns, addresses documentation ranges.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayFiles {
  readonly config: string;
  readonly keyOut: string;
  readonly keyIn: string;
}

export interface GatewayOptions {
  /** Mode of the KeyIn file (default 0600). */
  readonly keyInMode?: number;
  readonly encapsulation?: 'udp' | 'esp';
  readonly listenPort?: number;
  readonly mtu?: number | 'auto';
  /** Extra [Interface] lines. */
  readonly interfaceExtra?: string;
}

/** Writes DIR/NAME.conf (mode 0600) and DIR/keys/{out,in}.key. */
export function writeGateway(dir: string, name: string, options: GatewayOptions = {}): GatewayFiles {
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const keyOut = join(dir, 'keys', `${name}-out.key`);
  const keyIn = join(dir, 'keys', `${name}-in.key`);
  writeFileSync(keyOut, '22'.repeat(20) + '\n', { mode: 0o600 });
  writeFileSync(keyIn, '11'.repeat(20) + '\n', { mode: 0o600 });
  chmodSync(keyIn, options.keyInMode ?? 0o600);
  const config = join(dir, `${name}.conf`);
  writeFileSync(
    config,
    `[Interface]
Role       = home-agent
Address    = 2001:db8:100::1/128, 198.51.100.1/32
HomePrefix = 2001:db8:100::/64, 198.51.100.0/24
ListenPort = ${options.listenPort ?? 4500}
MTU        = ${options.mtu ?? 'auto'}
StateDir   = ${join(dir, 'state')}
${options.interfaceExtra ?? ''}

[Peer]
Name          = laptop
Role          = mobile-node
HomeAddress   = 2001:db8:100::10, 198.51.100.10
Encapsulation = ${options.encapsulation ?? 'udp'}
Mode          = tunnel
NAT           = allow
SPIOut        = 0x2001
SPIIn         = 0x1001
KeyOut        = file:keys/${name}-out.key
KeyIn         = file:keys/${name}-in.key
`,
    { mode: 0o600 },
  );
  return { config, keyOut, keyIn };
}

/** Writes DIR/NAME.conf (mode 0600, inline keys): a mobile node whose home agent is at `endpoint`. */
export function writeMobileNode(dir: string, name: string, endpoint: string, mtu: number | 'auto'): string {
  const config = join(dir, `${name}.conf`);
  writeFileSync(
    config,
    `[Interface]
Role        = mobile-node
HomeAddress = 2001:db8:100::10/128, 198.51.100.10/32
MTU         = ${mtu}
StateDir    = ${join(dir, 'state')}

[Peer]
Name       = home
Role       = home-agent
Identity   = 2001:db8:100::1
Endpoint   = ${endpoint}
Mode       = tunnel
AllowedIPs = 192.0.2.0/24
SPIOut     = 0x1001
SPIIn      = 0x2001
KeyOut     = ${'11'.repeat(20)}
KeyIn      = ${'22'.repeat(20)}
`,
    { mode: 0o600 },
  );
  return config;
}
