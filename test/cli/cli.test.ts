/**
 * The CLI run in-process through main(): exit codes (0, 1, 2, 78), help and version, `check`
 * listing every error, `genkey`, `genpair` output that passes `check` with mode 0600 and
 * mirrored keys and SPIs, and the shipped examples.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadConfig, type IroConfig } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/util/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { KEY_HA_MN, KEY_MN_HA, haConfig, lineOf, mnConfig } from '../config/fixtures.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'iro-cli-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const mode = (path: string): number => statSync(path).mode & 0o777;

// ---------------------------------------------------------------------------------------------
// Dispatcher

test('no command, an unknown command or an unknown option: exit 2 with the usage on stderr', async () => {
  for (const argv of [[], ['chek'], ['--frobnicate']]) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.out, '');
    assert.match(r.err, /usage: iro <command>/);
  }
  assert.match((await run('chek')).err, /did you mean check\?/);
});

test('--help and help list every command; help CMD and CMD --help print its usage', async () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await run(...argv);
    assert.equal(r.code, 0);
    for (const name of ['check', 'genkey', 'genpair']) assert.match(r.out, new RegExp(`^  ${name} `, 'm'));
  }
  const a = await run('help', 'genpair');
  const b = await run('genpair', '--help');
  assert.equal(a.code, 0);
  assert.equal(b.code, 0);
  assert.equal(a.out, b.out);
  assert.match(a.out, /^usage: iro genpair --out DIR/);
  assert.equal((await run('help', 'nope')).code, 2);
});

test('--version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await run('--version');
  assert.deepEqual([r.code, r.out], [0, `iro ${pkg.version}\n`]);
});

// ---------------------------------------------------------------------------------------------
// check

test('check: a valid config prints FILE: ok (role, N peers) and exits 0', async () => {
  const path = write('mn0.conf', mnConfig());
  const r = await run('check', path);
  assert.deepEqual([r.code, r.out, r.err], [0, `${path}: ok (mobile-node, 1 peer)\n`, '']);
});

test('check: an invalid config exits 78 listing every error, one per line, and no key', async () => {
  const text = mnConfig('ListenPort = 0', 'Cipher = des\nESN = perhaps').replace('SPIIn = 0x2001', 'SPIIn = 1');
  const path = write('bad.conf', text);
  const r = await run('check', path);
  assert.equal(r.code, 78);
  assert.equal(r.out, '');
  const expected = [
    { line: lineOf(text, 'ListenPort'), field: 'Interface.ListenPort' },
    { line: lineOf(text, 'SPIIn'), field: 'Peer.SPIIn' },
    { line: lineOf(text, 'Cipher'), field: 'Peer.Cipher' },
    { line: lineOf(text, 'ESN'), field: 'Peer.ESN' },
  ];
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, expected.length);
  expected.forEach((e, i) => assert.ok(lines[i]!.startsWith(`${path}:${e.line}: ${e.field}: `), lines[i]));
  for (const k of [KEY_MN_HA, KEY_HA_MN]) assert.ok(!r.err.includes(k));
});

test('check: several files; any invalid one makes the exit code 78', async () => {
  const good = write('good.conf', mnConfig());
  const bad = write('bad2.conf', mnConfig('MTU = 12'));
  const r = await run('check', good, bad);
  assert.equal(r.code, 78);
  assert.equal(r.out, `${good}: ok (mobile-node, 1 peer)\n`);
  assert.match(r.err, new RegExp(`^${bad}:\\d+: Interface.MTU: `));
});

test('check: a missing file exits 78 naming the file; no file is a usage error', async () => {
  const path = join(dir, 'absent.conf');
  const r = await run('check', path);
  assert.equal(r.code, 78);
  assert.ok(r.err.startsWith(`${path}: (file): `));
  const u = await run('check');
  assert.equal(u.code, 2);
  assert.match(u.err, /^iro check: .*\n\nusage: iro check FILE/);
});

test('check: a world-readable key file exits 78 with the chmod fix', async () => {
  const key = write('open.key', KEY_MN_HA + '\n');
  chmodSync(key, 0o644);
  const text = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, `KeyOut = file:${key}`);
  const path = write('keyfile.conf', text);
  const r = await run('check', path);
  assert.equal(r.code, 78);
  assert.equal(r.err, formatConfigIssue({ file: path, line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut', message: `key file ${key} is readable by group or others (mode 0644); fix: chmod 600 ${key}` }) + '\n');
});

test('check: the shipped examples pass', async () => {
  const files = ['mobile-node', 'home-agent', 'correspondent'].map((n) => join(REPO_ROOT, 'deploy', 'examples', `${n}.conf`));
  const r = await run('check', ...files);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trimEnd().split('\n'), [
    `${files[0]}: ok (mobile-node, 2 peers)`,
    `${files[1]}: ok (home-agent, 1 peer)`,
    `${files[2]}: ok (correspondent, 1 peer)`,
  ]);
  // The examples match each other: one end's KeyOut/SPIOut is the other's KeyIn/SPIIn.
  const [mn, ha, cn] = files.map(loadConfig) as [IroConfig, IroConfig, IroConfig];
  assertMirrored(mn.peers[0]!, ha.peers[0]!);
  assertMirrored(mn.peers[1]!, cn.peers[0]!);
});

// ---------------------------------------------------------------------------------------------
// genkey

test('genkey: random KEYMAT in hex, sized for the cipher', async () => {
  const a = await run('genkey');
  const b = await run('genkey');
  assert.equal(a.code, 0);
  assert.match(a.out, /^[0-9a-f]{40}\n$/);
  assert.notEqual(a.out, b.out);
  assert.match((await run('genkey', '--cipher', 'chacha20poly1305')).out, /^[0-9a-f]{72}\n$/);
  assert.match((await run('genkey', '--cipher', 'AES192GCM16')).out, /^[0-9a-f]{56}\n$/);
  const bad = await run('genkey', '--cipher', 'des');
  assert.equal(bad.code, 2);
  assert.equal(bad.out, '');
  assert.equal((await run('genkey', 'extra')).code, 2);
});

// ---------------------------------------------------------------------------------------------
// genpair

function assertMirrored(a: IroConfig['peers'][number], b: IroConfig['peers'][number]): void {
  assert.equal(a.sa.out.spi, b.sa.in.spi);
  assert.equal(a.sa.in.spi, b.sa.out.spi);
  assert.ok(a.sa.out.keymat.equals(b.sa.in.keymat));
  assert.ok(a.sa.in.keymat.equals(b.sa.out.keymat));
  assert.ok(!a.sa.out.keymat.equals(a.sa.in.keymat));
  assert.equal(a.mode, b.mode);
  assert.equal(a.cipher, b.cipher);
  assert.equal(a.signalSa === null, b.signalSa === null);
  if (a.signalSa && b.signalSa) {
    assert.equal(a.signalSa.out.spi, b.signalSa.in.spi);
    assert.equal(a.signalSa.in.spi, b.signalSa.out.spi);
    assert.ok(a.signalSa.out.keymat.equals(b.signalSa.in.keymat));
  }
}

function allSpis(c: IroConfig): number[] {
  return c.peers.flatMap((p) => [p.sa.out.spi, p.sa.in.spi, ...(p.signalSa ? [p.signalSa.out.spi, p.signalSa.in.spi] : [])]);
}

test('genpair: two matching configs, mode 0600, that pass check, with mirrored keys and SPIs', async () => {
  const out = join(dir, 'pair');
  const r = await run('genpair', '--out', out);
  assert.equal(r.code, 0, r.err);
  const files = [join(out, 'mn0.conf'), join(out, 'ha0.conf')];
  for (const f of files) assert.equal(mode(f), 0o600);
  const check = await run('check', ...files);
  assert.equal(check.code, 0, check.err);
  assert.equal(check.err, '');
  const [mn, ha] = files.map(loadConfig) as [IroConfig, IroConfig];
  assert.equal(mn.interface.role, 'mobile-node');
  assert.equal(ha.interface.role, 'home-agent');
  assert.deepEqual([mn.peers[0]!.name, ha.peers[0]!.name], ['ha0', 'mn0']);
  assertMirrored(mn.peers[0]!, ha.peers[0]!);
  const spis = allSpis(mn);
  assert.equal(spis.length, 4);
  assert.equal(new Set(spis).size, 4);
  assert.ok(spis.every((s) => s >= 0x100 && s <= 0xffffffff));
  // Keys go to the files, never to the terminal.
  const texts = files.map((f) => readFileSync(f, 'utf8')).join('');
  for (const m of texts.matchAll(/^Key(?:Out|In)\s*=\s*([0-9a-f]+)/gm)) assert.ok(!r.out.includes(m[1]!));
});

test('genpair: key files (mode 0600) referenced relative to the config; cipher and names options', async () => {
  const out = join(dir, 'files');
  const r = await run('genpair', '--out', out, '--key-files', '--cipher', 'chacha20poly1305', '--names', 'laptop,home', '--endpoint', '[2001:db8:1::1]:14500');
  assert.equal(r.code, 0, r.err);
  const files = [join(out, 'laptop.conf'), join(out, 'home.conf')];
  const keys = [join(out, 'keys', 'laptop-to-home.key'), join(out, 'keys', 'home-to-laptop.key')];
  for (const f of [...files, ...keys]) assert.equal(mode(f), 0o600, f);
  assert.match(readFileSync(files[0]!, 'utf8'), /^KeyOut\s*=\s*file:keys\/laptop-to-home\.key$/m);
  assert.equal((await run('check', ...files)).code, 0);
  const [mn, ha] = files.map(loadConfig) as [IroConfig, IroConfig];
  assert.equal(mn.hasInlineKeys, false);
  assert.equal(mn.peers[0]!.cipher, 'chacha20poly1305');
  assert.equal(mn.peers[0]!.sa.out.keymat.bytes.length, 36);
  assert.deepEqual([mn.peers[0]!.endpoint!.host, mn.peers[0]!.endpoint!.port], ['2001:db8:1::1', 14500]);
  assert.equal(ha.interface.listenPort, 14500);
  assertMirrored(mn.peers[0]!, ha.peers[0]!);
});

test('genpair: a mobile node, its home agent and a correspondent', async () => {
  const out = join(dir, 'trio');
  const r = await run('genpair', '--out', out, '--roles', 'mobile-node,home-agent,correspondent');
  assert.equal(r.code, 0, r.err);
  const files = ['mn0', 'ha0', 'cn0'].map((n) => join(out, `${n}.conf`));
  assert.equal((await run('check', ...files)).code, 0);
  const [mn, ha, cn] = files.map(loadConfig) as [IroConfig, IroConfig, IroConfig];
  assert.deepEqual(mn.peers.map((p) => [p.name, p.role, p.mode, p.routeOptimization]), [
    ['ha0', 'home-agent', 'tunnel', false],
    ['cn0', 'correspondent', 'transport', true],
  ]);
  assertMirrored(mn.peers[0]!, ha.peers[0]!);
  assertMirrored(mn.peers[1]!, cn.peers[0]!);
  const spis = allSpis(mn);
  assert.equal(spis.length, 6);
  assert.equal(new Set(spis).size, 6);
});

test('genpair: refuses to overwrite without --force; --force rewrites with mode 0600', async () => {
  const out = join(dir, 'again');
  assert.equal((await run('genpair', '--out', out)).code, 0);
  const file = join(out, 'mn0.conf');
  const before = readFileSync(file, 'utf8');
  const r = await run('genpair', '--out', out);
  assert.equal(r.code, 1);
  assert.ok(r.err.includes(file));
  assert.equal(readFileSync(file, 'utf8'), before);
  chmodSync(file, 0o644);
  assert.equal((await run('genpair', '--out', out, '--force')).code, 0);
  assert.notEqual(readFileSync(file, 'utf8'), before);
  assert.equal(mode(file), 0o600);
});

test('genpair: usage errors exit 2 and write nothing', async () => {
  const out = join(dir, 'never');
  for (const argv of [
    ['genpair'],
    ['genpair', '--out', out, '--roles', 'mobile-node,correspondent'],
    ['genpair', '--out', out, '--roles', 'mobile-node,robot'],
    ['genpair', '--out', out, '--names', 'a,b,c'],
    ['genpair', '--out', out, '--names', 'a-name-longer-than-15,b'],
    ['genpair', '--out', out, '--names', 'same,same'],
    ['genpair', '--out', out, '--endpoint', '2001:db8::1:4500'],
    ['genpair', '--out', out, '--cipher', 'des'],
    ['genpair', '--out', out, '--bogus'],
  ]) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, /usage: iro genpair/);
  }
  assert.equal(existsSync(out), false);
});

test('check: a home-agent config', async () => {
  const path = write('ha0.conf', haConfig());
  const r = await run('check', path);
  assert.deepEqual([r.code, r.out], [0, `${path}: ok (home-agent, 1 peer)\n`]);
});
