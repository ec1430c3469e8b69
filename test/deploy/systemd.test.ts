/**
 * deploy/systemd/iro@.service: `systemd-analyze verify` (Debian's systemd package, installed
 * when missing) accepts the template and an instance of it without a single complaint, with
 * ExecStart pointed at this checkout's bin/iro.js (verify insists the binary exists); and the
 * unit keeps the promises of the README: `iro up /etc/iro/%i.conf`, restart on failure but not
 * on config or privilege errors, and no MemoryDenyWriteExecute (V8 needs W+X pages).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { ensureTool } from './tools.js';

const UNIT = join(REPO_ROOT, 'deploy', 'systemd', 'iro@.service');
const INSTALLED_BINARY = '/usr/local/bin/iro';
const isRoot = process.getuid?.() === 0;

const dir = mkdtempSync(join(tmpdir(), 'iro-systemd-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function verify(file: string): { status: number | null; out: string } {
  const bin = ensureTool('systemd-analyze', ['systemd']);
  const r = spawnSync(bin, ['verify', file], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The unit with its binary path replaced by the checkout's, written as `name` in the temp dir. */
function unitCopy(name: string): string {
  const text = readFileSync(UNIT, 'utf8');
  assert.ok(text.includes(INSTALLED_BINARY), `the unit runs ${INSTALLED_BINARY}`);
  const path = join(dir, name);
  writeFileSync(path, text.replaceAll(INSTALLED_BINARY, join(REPO_ROOT, 'bin', 'iro.js')));
  return path;
}

test('systemd-analyze verify accepts the template and an instance, silently', { skip: !isRoot && 'installing systemd needs root' }, () => {
  for (const name of ['iro@.service', 'iro@mn0.service']) {
    const r = verify(unitCopy(name));
    assert.equal(r.status, 0, `${name}: ${r.out}`);
    assert.equal(r.out, '', `${name}: no warnings`);
  }
});

test('systemd-analyze verify would catch a broken unit', { skip: !isRoot && 'installing systemd needs root' }, () => {
  const path = unitCopy('iro@broken.service');
  writeFileSync(path, readFileSync(path, 'utf8').replace('ExecStart=', 'ExecStart=/nonexistent/iro-missing\nExecStartPost='));
  const r = verify(path);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /\/nonexistent\/iro-missing/);
});

test('the unit runs iro up on /etc/iro/NAME.conf, restarts on failure, and tolerates V8', () => {
  const text = readFileSync(UNIT, 'utf8');
  const keys = (key: string): string[] => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
  assert.deepEqual(keys('ExecStart'), [`${INSTALLED_BINARY} up /etc/iro/%i.conf`]);
  assert.deepEqual(keys('Restart'), ['on-failure']);
  assert.deepEqual(keys('RestartPreventExitStatus'), ['2 77 78']);
  assert.deepEqual(keys('ExecStopPost'), [`-${INSTALLED_BINARY} down /etc/iro/%i.conf`]);
  assert.deepEqual(keys('MemoryDenyWriteExecute'), []);
  assert.deepEqual(keys('DeviceAllow'), ['/dev/net/tun rw']);
  assert.deepEqual(keys('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE']);
});
