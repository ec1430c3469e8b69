/**
 * `iro genpair --out DIR ...`: writes matching configs for a mobile node and its home agent (and
 * optionally more mobile nodes and correspondents), with fresh random keys and SPIs:
 *   - one end's KeyOut is the other's KeyIn, SPIOut/SPIIn and SignalSPIOut/SignalSPIIn mirrored;
 *   - every SPI is random, >= 0x100 (RFC 4303 §2.1) and distinct from every other one generated;
 *   - addresses come from the documentation ranges (2001:db8::/32, 198.51.100.0/24, 192.0.2.0/24,
 *     203.0.113.0/24): replace them before real use;
 *   - files are created with mode 0600 (keys inline, or in DIR/keys/ with --key-files), and
 *     existing files are never overwritten without --force.
 * Every generated text is validated with parseConfig before anything is written.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULTS,
  ROLES,
  formatSpi,
  parseConfig,
  parseHostPort,
  parseInterfaceName,
  parsePeerName,
  type CipherName,
  type Role,
} from '../../config/index.js';
import { toHex, wipe } from '../../util/bytes.js';
import { ExitCode, IroError } from '../../util/errors.js';
import { UsageError, parseCommandArgs, stringOption, type Command } from '../command.js';
import { cipherOption, randomKeymat, randomSpi } from '../keygen.js';

const USAGE = `usage: iro genpair --out DIR [options]

Writes DIR/NAME.conf for each node, with matching random keys and SPIs, mode 0600. The
defaults give a mobile node mn0 and its home agent ha0:
  iro genpair --out /tmp/iro && iro check /tmp/iro/mn0.conf /tmp/iro/ha0.conf

options:
  --out DIR          directory to write into (created with mode 0700 if missing)
  --roles LIST       comma-separated roles: exactly one home-agent, one or more mobile-node,
                     any number of correspondent (default mobile-node,home-agent)
  --names LIST       config/interface names, one per role (default mn0,ha0,cn0,...)
  --endpoint LIST    host:port of the home agent and each correspondent, in --roles order
                     (default 203.0.113.1:4500 for the home agent, 203.0.113.2:4500, ... after)
  --cipher NAME      aes128gcm16 | aes192gcm16 | aes256gcm16 | chacha20poly1305
                     (default ${DEFAULTS.cipher})
  --key-files        write keys to DIR/keys/FROM-to-TO.key (mode 0600) instead of inline
  --force            overwrite existing files

Addresses are from the documentation ranges: edit HomeAddress, Address, HomePrefix, Identity
and Endpoint before real use.
`;

const ROLE_ALIASES: Record<string, Role> = { mn: 'mobile-node', ha: 'home-agent', cn: 'correspondent' };
const ROLE_PREFIX: Record<Role, string> = { 'mobile-node': 'mn', 'home-agent': 'ha', correspondent: 'cn' };
/** Keeps the documentation addresses below inside their /24s. */
const MAX_PER_ROLE = 100;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

interface Node {
  readonly role: Role;
  readonly name: string;
  /** Index among the nodes of the same role. */
  readonly index: number;
  /** Identity addresses without prefix length. */
  readonly addresses: readonly string[];
  /** host:port text, for nodes that do not roam. */
  readonly endpoint: string | null;
  readonly listenPort: number;
}

interface Direction {
  readonly spi: number;
  readonly signalSpi: number | null;
  readonly keymat: Uint8Array;
  /** Relative key-file path (with --key-files), else null. */
  readonly keyFile: string | null;
}

/** A mobile node and one of its peers; `toPeer` is the direction mobile node -> peer. */
interface Link {
  readonly mn: Node;
  readonly peer: Node;
  readonly mode: 'tunnel' | 'transport';
  readonly toPeer: Direction;
  readonly toMn: Direction;
}

function parseRoles(text: string): Role[] {
  const roles = text.split(',').map((s) => s.trim().toLowerCase());
  const out: Role[] = [];
  for (const r of roles) {
    const role = ROLE_ALIASES[r] ?? ROLES.find((x) => x === r);
    if (role === undefined) throw new UsageError(`unknown role ${JSON.stringify(r)} in --roles; expected ${ROLES.join(', ')}`);
    out.push(role);
  }
  const count = (role: Role): number => out.filter((r) => r === role).length;
  if (count('home-agent') !== 1 || count('mobile-node') < 1) {
    throw new UsageError(
      '--roles needs exactly one home-agent and at least one mobile-node (a mobile node cannot run without its home agent)',
    );
  }
  if (count('mobile-node') > MAX_PER_ROLE || count('correspondent') > MAX_PER_ROLE) {
    throw new UsageError(`--roles allows at most ${MAX_PER_ROLE} nodes per role`);
  }
  return out;
}

function parseNames(text: string | undefined, roles: readonly Role[]): string[] {
  const names = text === undefined ? defaultNames(roles) : text.split(',').map((s) => s.trim());
  if (names.length !== roles.length) throw new UsageError(`--names has ${names.length} names for ${roles.length} roles`);
  const seen = new Set<string>();
  for (const n of names) {
    // The name is both a peer name (metrics label) and, as the file name, an interface name.
    for (const r of [parsePeerName(n), parseInterfaceName(n)]) if (!r.ok) throw new UsageError(`--names: ${r.message}`);
    if (seen.has(n)) throw new UsageError(`--names: ${JSON.stringify(n)} appears twice`);
    seen.add(n);
  }
  return names;
}

function defaultNames(roles: readonly Role[]): string[] {
  const next: Record<Role, number> = { 'mobile-node': 0, 'home-agent': 0, correspondent: 0 };
  return roles.map((r) => `${ROLE_PREFIX[r]}${next[r]++}`);
}

/** host:port as the config writes it: IPv6 literals in brackets. */
function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseEndpoints(text: string | undefined, fixedCount: number): (string | undefined)[] {
  if (text === undefined) return new Array<undefined>(fixedCount).fill(undefined);
  const items = text.split(',').map((s) => s.trim());
  if (items.length !== fixedCount) {
    throw new UsageError(
      `--endpoint has ${items.length} entries; give one for the home agent and each correspondent (${fixedCount})`,
    );
  }
  return items.map((item) => {
    const r = parseHostPort(item, DEFAULTS.endpointPort, true);
    if (!r.ok) throw new UsageError(`--endpoint: ${r.message}`);
    return formatEndpoint(r.value.host, r.value.port);
  });
}

function buildNodes(roles: readonly Role[], names: readonly string[], endpoints: readonly (string | undefined)[]): Node[] {
  const next: Record<Role, number> = { 'mobile-node': 0, 'home-agent': 0, correspondent: 0 };
  let fixed = 0;
  return roles.map((role, i) => {
    const index = next[role]++;
    if (role === 'mobile-node') {
      const addresses = [`2001:db8:100::${(0x10 + index).toString(16)}`, `198.51.100.${10 + index}`];
      return { role, name: names[i]!, index, addresses, endpoint: null, listenPort: DEFAULTS.listenPort };
    }
    const given = endpoints[fixed++];
    const home = role === 'home-agent';
    const addresses = home
      ? ['2001:db8:100::1', '198.51.100.1']
      : [`2001:db8:200::${(1 + index).toString(16)}`, `192.0.2.${1 + index}`];
    const endpoint = given ?? `203.0.113.${home ? 1 : 2 + index}:${DEFAULTS.endpointPort}`;
    const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
    return { role, name: names[i]!, index, addresses, endpoint, listenPort: port };
  });
}

function buildLinks(nodes: readonly Node[], cipher: CipherName, keyFiles: boolean): Link[] {
  const spis = new Set<number>();
  const direction = (from: Node, to: Node, tunnel: boolean): Direction => ({
    spi: randomSpi(spis),
    signalSpi: tunnel ? randomSpi(spis) : null,
    keymat: randomKeymat(cipher),
    keyFile: keyFiles ? `keys/${from.name}-to-${to.name}.key` : null,
  });
  const links: Link[] = [];
  for (const mn of nodes.filter((n) => n.role === 'mobile-node')) {
    for (const peer of nodes.filter((n) => n.role !== 'mobile-node')) {
      const tunnel = peer.role === 'home-agent';
      const mode = tunnel ? 'tunnel' : 'transport';
      links.push({ mn, peer, mode, toPeer: direction(mn, peer, tunnel), toMn: direction(peer, mn, tunnel) });
    }
  }
  return links;
}

type Line = readonly [key: string, value: string, comment?: string];

function renderSection(title: string, lines: readonly Line[]): string {
  const width = Math.max(...lines.map(([k]) => k.length));
  const body = lines.map(([k, v, comment]) => {
    const text = `${k.padEnd(width)} = ${v}`;
    return comment === undefined ? text : `${text}   # ${comment}`;
  });
  return `[${title}]\n${body.join('\n')}\n`;
}

function keyValue(d: Direction): string {
  return d.keyFile !== null ? `file:${d.keyFile}` : toHex(d.keymat);
}

/** The [Peer] section that `self` writes about `other` on `link`. */
function peerSection(self: Node, other: Node, link: Link, cipher: CipherName): string {
  const out = self.role === 'mobile-node' ? link.toPeer : link.toMn;
  const inn = self.role === 'mobile-node' ? link.toMn : link.toPeer;
  const lines: Line[] = [
    ['Name', other.name],
    ['Role', other.role],
    other.role === 'mobile-node'
      ? ['HomeAddress', other.addresses.join(', '), 'its home addresses']
      : ['Identity', other.addresses.join(', '), 'its stable addresses'],
  ];
  if (other.endpoint !== null) lines.push(['Endpoint', other.endpoint, 'its locator']);
  lines.push(['Encapsulation', 'udp', 'ESP in UDP (RFC 3948): works through NAT']);
  lines.push(['Mode', link.mode]);
  if (self.role === 'mobile-node' && other.role === 'home-agent') {
    lines.push(['AllowedIPs', '::/0, 0.0.0.0/0', 'everything else goes through the home agent']);
  }
  if (link.mode === 'transport') lines.push(['RouteOptimization', 'on', 'IRO: direct path to the care-of address once verified']);
  if (self.role !== 'mobile-node') lines.push(['NAT', 'allow', 'accept its Binding Updates through a NAT']);
  lines.push(['Cipher', cipher]);
  lines.push(['SPIOut', formatSpi(out.spi)]);
  lines.push(['SPIIn', formatSpi(inn.spi), 'unique among the inbound SPIs of this node']);
  if (out.signalSpi !== null && inn.signalSpi !== null) {
    lines.push(['SignalSPIOut', formatSpi(out.signalSpi), 'transport-mode SA for Binding Updates/Acks']);
    lines.push(['SignalSPIIn', formatSpi(inn.signalSpi)]);
  }
  lines.push(['KeyOut', keyValue(out)]);
  lines.push(['KeyIn', keyValue(inn)]);
  return renderSection('Peer', lines);
}

function interfaceSection(node: Node): string {
  const lines: Line[] = [['Role', node.role]];
  if (node.role === 'mobile-node') {
    lines.push(['HomeAddress', `${node.addresses[0]}/128, ${node.addresses[1]}/32`, 'applications see only these']);
    lines.push(['CareOf', 'auto', 'follow the default route']);
  } else {
    lines.push(['Address', `${node.addresses[0]}/128, ${node.addresses[1]}/32`]);
    if (node.role === 'home-agent') lines.push(['HomePrefix', '2001:db8:100::/64, 198.51.100.0/24']);
    lines.push(['ListenPort', String(node.listenPort)]);
  }
  lines.push(['Metrics', `127.0.0.1:${DEFAULTS.metricsPort}`]);
  return renderSection('Interface', lines);
}

function renderConfig(node: Node, links: readonly Link[], cipher: CipherName, keyFiles: boolean): string {
  const mine = links.filter((l) => l.mn === node || l.peer === node);
  const header = [
    `# ${node.name}.conf: iro ${node.role}, written by \`iro genpair\`.`,
    keyFiles
      ? '# Its keys are in the key files named below: copy them with it, keeping mode 0600.'
      : '# It holds keys inline: keep it mode 0600 and copy it only over a secure channel.',
    '# Addresses are from the documentation ranges: replace them before real use.',
    '',
  ].join('\n');
  const peers = mine.map((l) => (l.mn === node ? peerSection(node, l.peer, l, cipher) : peerSection(node, l.mn, l, cipher)));
  return [header, interfaceSection(node), ...peers].join('\n');
}

function writeSecret(path: string, text: string, force: boolean): void {
  writeFileSync(path, text, { mode: FILE_MODE, flag: force ? 'w' : 'wx' });
  chmodSync(path, FILE_MODE); // an overwritten file keeps its old mode otherwise
}

export const genpairCommand: Command = {
  name: 'genpair',
  summary: 'write matching configs (keys, SPIs) for a mobile node and its home agent',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(
      args,
      {
        out: { type: 'string' },
        cipher: { type: 'string' },
        roles: { type: 'string' },
        names: { type: 'string' },
        endpoint: { type: 'string' },
        'key-files': { type: 'boolean' },
        force: { type: 'boolean' },
      },
      0,
      0,
    );
    const outDir = parsed.values.out;
    if (typeof outDir !== 'string' || outDir === '') throw new UsageError('--out DIR is required');
    const cipher = cipherOption(stringOption(parsed, 'cipher', DEFAULTS.cipher));
    const roles = parseRoles(stringOption(parsed, 'roles', 'mobile-node,home-agent'));
    const names = parseNames(parsed.values.names as string | undefined, roles);
    const fixedNodes = roles.filter((r) => r !== 'mobile-node').length;
    const endpoints = parseEndpoints(parsed.values.endpoint as string | undefined, fixedNodes);
    const keyFiles = parsed.values['key-files'] === true;
    const force = parsed.values.force === true;

    const nodes = buildNodes(roles, names, endpoints);
    const links = buildLinks(nodes, cipher, keyFiles);
    try {
      const configs = nodes.map((node) => ({
        node,
        path: join(outDir, `${node.name}.conf`),
        text: renderConfig(node, links, cipher, keyFiles),
      }));
      const keys = keyFiles
        ? links.flatMap((l) => [l.toPeer, l.toMn]).map((d) => ({ path: join(outDir, d.keyFile!), text: toHex(d.keymat) + '\n' }))
        : [];

      // Self-check: what we write must load (key files served from memory).
      const keyText = new Map(links.flatMap((l) => [l.toPeer, l.toMn]).map((d) => [d.keyFile, toHex(d.keymat)]));
      for (const c of configs) {
        parseConfig(c.text, c.path, (p) => {
          const text = keyText.get(p);
          return text !== undefined ? { ok: true, value: text } : { ok: false, message: `genpair wrote no key file ${p}` };
        });
      }

      if (!force) {
        const existing = [...configs, ...keys].find((f) => existsSync(f.path));
        if (existing) throw new IroError('ERR_IO', `refusing to overwrite ${existing.path}; use --force to replace it`);
      }
      mkdirSync(outDir, { recursive: true, mode: DIR_MODE });
      if (keyFiles) mkdirSync(join(outDir, 'keys'), { recursive: true, mode: DIR_MODE });
      for (const k of keys) writeSecret(k.path, k.text, force);
      for (const c of configs) writeSecret(c.path, c.text, force);

      for (const k of keys) io.out(`wrote ${k.path}\n`);
      for (const c of configs) {
        const peers = links.filter((l) => l.mn === c.node || l.peer === c.node).map((l) => (l.mn === c.node ? l.peer : l.mn));
        io.out(`wrote ${c.path} (${c.node.role}; peers: ${peers.map((p) => p.name).join(', ')})\n`);
      }
      io.out(`check them with: iro check ${configs.map((c) => c.path).join(' ')}\n`);
      return ExitCode.OK;
    } finally {
      for (const l of links) {
        wipe(l.toPeer.keymat);
        wipe(l.toMn.keymat);
      }
    }
  },
};
