/**
 * The restore journal (src/ops/journal.ts): only fixed undo shapes are accepted; entries are
 * written durably and undone newest first; recovery after a crash undoes what is left, and
 * refuses journals it must not trust (wrong mode, another boot, a writer still running).
 * Undo commands run against fakes on a private PATH.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostJournal, validateEntry, type RestoreEntry } from '../../src/ops/index.js';
import { captureLogger } from './log-capture.js';

const root = mkdtempSync(join(tmpdir(), 'iro-journal-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A state dir, a boot id file and a PATH whose `ip`, `resolvconf` and `resolvectl` log their calls. */
function setup(): { stateDir: string; bootId: string; env: NodeJS.ProcessEnv; calls: () => string[] } {
  const dir = join(root, String(n++));
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const tool of ['ip', 'resolvconf', 'resolvectl']) {
    const gone = tool === 'ip' ? 'case "$*" in *203.0.113.99*) echo "RTNETLINK answers: No such process" >&2; exit 2;; esac\n' : '';
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n${gone}exit 0\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  const bootId = join(dir, 'boot_id');
  writeFileSync(bootId, 'boot-a\n');
  return {
    stateDir: join(dir, 'state'),
    bootId,
    env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` },
    calls: () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== ''),
  };
}

const route = (dest: string): RestoreEntry => ({ kind: 'ip', args: ['route', 'del', dest], what: `host route to ${dest}` });

test('only fixed undo shapes are accepted', () => {
  assert.deepEqual(validateEntry({ kind: 'resolvectl', link: 'mn0' }), { kind: 'resolvectl', link: 'mn0' });
  assert.deepEqual(validateEntry({ kind: 'resolvconf', record: 'tun.mn0' }), { kind: 'resolvconf', record: 'tun.mn0' });
  assert.deepEqual(validateEntry({ kind: 'ip', args: ['-6', 'route', 'del', '2001:db8::1/128'], what: 'x' }).kind, 'ip');
  assert.deepEqual(validateEntry({ kind: 'ip', args: ['rule', 'delete', 'pref', '100'] }).kind, 'ip');
  for (const bad of [
    { kind: 'ip', args: ['route', 'add', '203.0.113.7/32'] },
    { kind: 'ip', args: ['link', 'del', 'eth0'] },
    { kind: 'ip', args: ['route', 'del', '203.0.113.7/32; rm -rf /'] },
    { kind: 'resolvectl', link: '../etc' },
    { kind: 'resolvconf', record: '-d' },
    { kind: 'shell', argv: ['rm', '-rf', '/'] },
    null,
  ]) {
    assert.throws(() => validateEntry(bad), RangeError, JSON.stringify(bad));
  }
});

test('entries are written durably (mode 0600) and undone newest first', () => {
  const s = setup();
  const journal = HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId });
  journal.add(route('203.0.113.7/32'));
  journal.add({ kind: 'resolvconf', record: 'mn0' });
  journal.add({ kind: 'resolvconf', record: 'mn0' });
  assert.equal(statSync(journal.path).mode & 0o777, 0o600);
  const file = JSON.parse(readFileSync(journal.path, 'utf8')) as { bootId: string; entries: RestoreEntry[] };
  assert.equal(file.bootId, 'boot-a');
  assert.equal(file.entries.length, 2, 'the same entry is recorded once');
  journal.undoAll();
  assert.deepEqual(s.calls(), ['resolvconf -d mn0 -f', 'ip route del 203.0.113.7/32']);
  assert.equal(existsSync(journal.path), false);
});

test('after a crash, recover() undoes what the dead run recorded and removes the journal', () => {
  const s = setup();
  const dead = HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId });
  dead.add(route('203.0.113.7/32'));
  dead.add(route('203.0.113.99/32'));
  dead.add({ kind: 'resolvectl', link: 'iro-gone-link0' });
  // Same pid as the writer: the journal of "this" process is never mistaken for a live one.
  const log = captureLogger();
  const next = HostJournal.open(s.stateDir, 'mn0', log, { env: s.env, bootIdPath: s.bootId });
  assert.equal(next.recover(), 3, 'a vanished link and an already deleted route count as restored');
  assert.deepEqual(s.calls(), ['ip route del 203.0.113.99/32', 'ip route del 203.0.113.7/32']);
  assert.equal(existsSync(next.path), false);
  assert.equal(next.recover(), 0, 'nothing left the second time');
});

test('a journal from an earlier boot is discarded without running anything', () => {
  const s = setup();
  HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId }).add(route('203.0.113.7/32'));
  writeFileSync(s.bootId, 'boot-b\n');
  const next = HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId });
  assert.equal(next.recover(), 0);
  assert.deepEqual(s.calls(), []);
  assert.equal(existsSync(next.path), false);
});

test('a journal others may write is not trusted', () => {
  const s = setup();
  const journal = HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId });
  journal.add(route('203.0.113.7/32'));
  chmodSync(journal.path, 0o666);
  const log = captureLogger();
  assert.equal(HostJournal.open(s.stateDir, 'mn0', log, { env: s.env, bootIdPath: s.bootId }).recover(), 0);
  assert.deepEqual(s.calls(), []);
  assert.ok(existsSync(journal.path), 'left for a human to inspect');
  assert.match(String(log.records.find((r) => r.level === 'warn')?.fields['fix']), /^inspect and remove it: rm /);
});

test('the journal of a daemon that still runs is left alone', async () => {
  const s = setup();
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'up'], { stdio: 'ignore' });
  try {
    mkdirSync(s.stateDir, { recursive: true });
    const path = join(s.stateDir, 'mn0.restore.json');
    writeFileSync(path, JSON.stringify({ version: 1, bootId: 'boot-a', pid: live.pid, entries: [route('203.0.113.7/32')] }), { mode: 0o600 });
    const journal = HostJournal.open(s.stateDir, 'mn0', captureLogger(), { env: s.env, bootIdPath: s.bootId });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(journal.recover(), 0);
    assert.deepEqual(s.calls(), []);
    assert.ok(existsSync(path));
  } finally {
    live.kill('SIGKILL');
  }
});
