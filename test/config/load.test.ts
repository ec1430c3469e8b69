/**
 * loadConfig against real files: key files (mode, owner, missing, relative paths), the config
 * file itself (missing, inline keys readable by others -> warning).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { toHex } from '../../src/util/bytes.js';
import { KEY_HA_MN, KEY_MN_HA, assertIssue, issuesOf, lineOf, mnConfig } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'iro-config-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Writes a config whose KeyOut is `file:<keyRef>` and returns its path and text. */
function writeConfig(keyRef: string, mode = 0o600): { path: string; text: string } {
  const text = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, `KeyOut = file:${keyRef}`);
  const path = join(dir, `mn${counter++}.conf`);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return { path, text };
}

function writeKey(name: string, mode: number, content = KEY_MN_HA + '\n'): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

test('a key file with mode 0600 loads; absolute and config-relative paths', () => {
  const abs = writeKey('good.key', 0o600);
  const c = loadConfig(writeConfig(abs).path);
  assert.equal(toHex(c.peers[0]!.sa.out.keymat.bytes), KEY_MN_HA);
  mkdirSync(join(dir, 'keys'), { recursive: true });
  writeKey('keys/rel.key', 0o400, '0x' + KEY_MN_HA);
  const rel = loadConfig(writeConfig('keys/rel.key').path);
  assert.equal(toHex(rel.peers[0]!.sa.out.keymat.bytes), KEY_MN_HA);
  assert.deepEqual(rel.warnings, []);
});

test('a key file readable by group or others is refused with the exact chmod', () => {
  for (const mode of [0o644, 0o640, 0o604, 0o620]) {
    const key = writeKey(`open-${mode.toString(8)}.key`, mode);
    const { path, text } = writeConfig(key);
    const issue = assertIssue(issuesOf(() => loadConfig(path)), { file: path, line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
    assert.ok(issue.message.includes(`chmod 600 ${key}`), issue.message);
    assert.ok(issue.message.includes(`0${mode.toString(8)}`), issue.message);
    assert.ok(!issue.message.includes(KEY_MN_HA));
  }
});

test('a missing key file is an error naming the path', () => {
  const missing = join(dir, 'no-such.key');
  const { path, text } = writeConfig(missing);
  const issue = assertIssue(issuesOf(() => loadConfig(path)), { file: path, line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
  assert.ok(issue.message.includes(missing));
});

test('a key "file" that is a directory is refused', () => {
  mkdirSync(join(dir, 'adir.key'), { recursive: true });
  const { path, text } = writeConfig(join(dir, 'adir.key'));
  assertIssue(issuesOf(() => loadConfig(path)), { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
});

test('a key file owned by another user is refused with the exact chown', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, () => {
  const key = writeKey('foreign.key', 0o600);
  chownSync(key, 4242, 4242);
  const { path, text } = writeConfig(key);
  const issue = assertIssue(issuesOf(() => loadConfig(path)), { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
  assert.ok(issue.message.includes(`chown ${process.geteuid!()} ${key}`), issue.message);
});

test('all key-file problems of a config are listed together', () => {
  const open = writeKey('open2.key', 0o644);
  const text = mnConfig()
    .replace(`KeyOut = ${KEY_MN_HA}`, `KeyOut = file:${open}`)
    .replace(`KeyIn = ${KEY_HA_MN}`, `KeyIn = file:${join(dir, 'gone.key')}`);
  const path = join(dir, 'both.conf');
  writeFileSync(path, text, { mode: 0o600 });
  const issues = issuesOf(() => loadConfig(path));
  assert.deepEqual(issues.map((i) => i.field), ['Peer.KeyOut', 'Peer.KeyIn']);
});

test('a missing or unreadable config file is a ConfigError at line 0', () => {
  const path = join(dir, 'absent.conf');
  assertIssue(issuesOf(() => loadConfig(path)), { file: path, line: 0, field: '(file)' });
  assertIssue(issuesOf(() => loadConfig(dir)), { file: dir, line: 0, field: '(file)' });
});

test('inline keys in a config readable by others load with a warning naming the chmod', () => {
  const path = join(dir, 'open.conf');
  writeFileSync(path, mnConfig());
  chmodSync(path, 0o644);
  const c = loadConfig(path);
  assert.equal(c.warnings.length, 1);
  assert.equal(c.warnings[0]!.field, '(file)');
  assert.ok(c.warnings[0]!.message.includes(`chmod 600 ${path}`));
  chmodSync(path, 0o600);
  assert.deepEqual(loadConfig(path).warnings, []);
});
