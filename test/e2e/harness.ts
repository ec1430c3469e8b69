/**
 * What the end-to-end tests share: generated config pairs (mobile node "mn0" + home agent "ha0",
 * mirrored SPIs and fresh random keys) for the lab's tunnel topology, `iro up` daemons run in
 * namespaces through bin/iro.js (so dist/ must be built), and readers of their /metrics, /healthz
 * and `iro show --json`.
 *
 * The e2e tests skip only while `up` is not registered in src/cli/commands/index.ts
 * (`SKIP_UNLESS_UP`); everything else that is missing makes them fail.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDRESSES, httpGetIn, type ExitStatus, type LabProcess, type Netns, type Topology } from '../../src/lab/index.js';
import { IroError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';

export const IRO_BIN = join(REPO_ROOT, 'bin', 'iro.js');
const COMMANDS_INDEX = join(REPO_ROOT, 'src', 'cli', 'commands', 'index.ts');
export const METRICS_PORT = 9469;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 30_000;

/** True when `text` (default: src/cli/commands/index.ts) imports `up`'s command and lists it in COMMANDS. */
export function upRegistered(text = readFileSync(COMMANDS_INDEX, 'utf8')): boolean {
  const imported = /import\s*\{\s*(\w+)\s*\}\s*from\s*'\.\/up\.js'/.exec(text);
  if (!imported) return false;
  const list = /COMMANDS[^=]*=\s*\[([^\]]*)\]/.exec(text);
  return list !== null && new RegExp(`\\b${imported[1]}\\b`).test(list[1]!);
}

/** node:test `skip` value: false once `iro up` exists, else the reason. */
export const SKIP_UNLESS_UP: string | false = upRegistered()
  ? false
  : '`iro up` is not registered in src/cli/commands/index.ts yet; these end-to-end tests need it';

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

/** An SA as `iro show --json` reports it. */
export interface ShownSa {
  readonly spi: string;
  readonly direction: string;
  readonly peer: string;
  readonly packets: number;
  readonly bytes: number;
  readonly drops: Readonly<Record<string, number>>;
  readonly sequence: { readonly hi: number; readonly lo: number };
  readonly locators: { readonly local: string | null; readonly peer: string | null };
}

export interface ShowJson {
  readonly interface: string;
  readonly sas: readonly ShownSa[];
}

/** The SA with `spi` in a show result; throws (with the JSON) when it is not there. */
export function findSa(show: ShowJson, spi: number): ShownSa {
  const sa = show.sas.find((s) => Number(s.spi) === spi);
  if (!sa) throw new IroError('ERR_STATE', `no SA ${spiText(spi)} in iro show: ${JSON.stringify(show)}`);
  return sa;
}

export interface StartOptions {
  /** IRO_RUN_DIR for the control socket. */
  readonly runDir: string;
  /** Pass --native-free on the command line. */
  readonly nativeFreeFlag?: boolean;
}

/** `node bin/iro.js ARGS` in `ns`, to completion. */
export function iroCli(ns: Netns, args: readonly string[], runDir: string, prefix: readonly string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const [cmd, ...rest] = [...prefix, process.execPath, IRO_BIN, ...args];
  return ns.exec(cmd!, rest, { env: { IRO_RUN_DIR: runDir }, allowFailure: true, timeoutMs: CLI_TIMEOUT_MS });
}

/** One `iro up` running in a namespace. */
export class IroDaemon {
  readonly ns: Netns;
  readonly config: string;
  readonly name: string;
  readonly runDir: string;
  readonly proc: LabProcess;

  private constructor(ns: Netns, config: string, runDir: string, proc: LabProcess) {
    this.ns = ns;
    this.config = config;
    this.name = config.slice(config.lastIndexOf('/') + 1).replace(/\.conf$/, '');
    this.runDir = runDir;
    this.proc = proc;
  }

  /** Starts `iro up CONFIG` in `ns` (it logs JSON lines on stderr). */
  static start(ns: Netns, config: string, options: StartOptions): IroDaemon {
    const args = [IRO_BIN, 'up', config, ...(options.nativeFreeFlag ? ['--native-free'] : [])];
    const proc = ns.spawn(process.execPath, args, { label: `iro up ${config.slice(config.lastIndexOf('/') + 1)}`, env: { IRO_RUN_DIR: options.runDir } });
    return new IroDaemon(ns, config, options.runDir, proc);
  }

  /** Waits for the `"msg":"iro up"` log line, then for /healthz to answer 200. */
  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await this.proc.waitForLine((l) => logMessage(l) === 'iro up', timeoutMs, 'its "iro up" log line');
    const h = await httpGetIn(this.ns, `http://127.0.0.1:${METRICS_PORT}/healthz`);
    if (h.status !== 200) throw new IroError('ERR_STATE', `/healthz answered ${h.status}: ${h.body}\n${this.proc.describe()}`);
  }

  async metrics(): Promise<string> {
    const r = await httpGetIn(this.ns, `http://127.0.0.1:${METRICS_PORT}/metrics`);
    if (r.status !== 200) throw new IroError('ERR_STATE', `/metrics answered ${r.status}\n${this.proc.describe()}`);
    return r.body;
  }

  /** `iro show NAME --json`. */
  async show(): Promise<ShowJson> {
    const r = await iroCli(this.ns, ['show', this.name, '--json'], this.runDir);
    if (r.status !== 0) throw new IroError('ERR_STATE', `iro show ${this.name} --json exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as ShowJson;
  }

  /** Sends SIGTERM or SIGINT and waits for the exit. */
  async signal(signal: 'SIGTERM' | 'SIGINT'): Promise<ExitStatus> {
    this.proc.signal(signal);
    return this.proc.wait(STOP_TIMEOUT_MS);
  }

  /** `iro down NAME`, then waits for the daemon to exit. Returns down's status and the daemon's. */
  async down(): Promise<{ downStatus: number | null; exit: ExitStatus }> {
    const r = await iroCli(this.ns, ['down', this.name], this.runDir);
    return { downStatus: r.status, exit: await this.proc.wait(STOP_TIMEOUT_MS) };
  }

  /** SIGKILL, as a crash would. */
  async kill9(): Promise<ExitStatus> {
    this.proc.signal('SIGKILL');
    return this.proc.wait(STOP_TIMEOUT_MS);
  }
}

/** The `msg` of a JSON log line, or null. */
export function logMessage(line: string): string | null {
  if (!line.startsWith('{')) return null;
  try {
    const rec = JSON.parse(line) as { msg?: unknown };
    return typeof rec.msg === 'string' ? rec.msg : null;
  } catch {
    return null;
  }
}

/**
 * The value of the sample `name{labels}` in Prometheus text exposition `text` (labels matched
 * as a subset, any order); null when there is no such sample.
 */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return null;
}
