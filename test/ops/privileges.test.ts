/**
 * The privilege drop (src/ops/privileges.ts), each in a child process because it cannot be
 * undone: after it every thread (worker threads too) runs as the user with no capabilities,
 * setuid(0) fails, a descriptor opened before the drop keeps working while reopening the file
 * is refused (the TUN is never reopened), and the state directory was handed over first.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropTarget, handOver, lookupUser } from '../../src/ops/index.js';
import { IroError } from '../../src/util/errors.js';
import { BUILD_DIR } from '../helpers/paths.js';

const NOBODY = { name: 'nobody', uid: 65534, gid: 65534 };
const root = mkdtempSync(join(tmpdir(), 'iro-priv-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const OPS = join(BUILD_DIR, 'src', 'ops', 'index.js');
const LOG = join(BUILD_DIR, 'src', 'util', 'log.js');

/** Runs an ES module script in a child Node; returns its parsed JSON stdout. */
function child(script: string, options: { uid?: number; gid?: number } = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, ...options });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('users are resolved by name or as UID[:GID]; an unknown name says how to create it', () => {
  const passwd = join(root, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\niro:x:10001:10002::/var/lib/iro:/usr/sbin/nologin\n');
  assert.deepEqual(lookupUser('iro', passwd), { name: 'iro', uid: 10001, gid: 10002 });
  assert.deepEqual(lookupUser('4242', passwd), { name: '4242', uid: 4242, gid: 4242 });
  assert.deepEqual(lookupUser('4242:100', passwd), { name: '4242:100', uid: 4242, gid: 100 });
  assert.throws(
    () => lookupUser('ghost', passwd),
    (err: unknown) => err instanceof IroError && err.code === 'ERR_USAGE' && /useradd --system .* ghost/.test(err.message),
  );
});

test('the user to drop to: the option, else IRO_USER, else none', () => {
  assert.equal(dropTarget('iro', { IRO_USER: 'other' }), 'iro');
  assert.equal(dropTarget(undefined, { IRO_USER: 'other' }), 'other');
  assert.equal(dropTarget(undefined, {}), null);
  assert.equal(dropTarget(undefined, { IRO_USER: '' }), null);
});

test('handOver gives a directory tree to the user and never follows a symbolic link', { skip: !isRoot && 'needs root' }, () => {
  const state = join(root, 'state');
  mkdirSync(join(state, 'sub'), { recursive: true, mode: 0o700 });
  writeFileSync(join(state, 'ha0.state.json'), '{}', { mode: 0o600 });
  writeFileSync(join(state, 'sub', 'x'), '');
  const outside = join(root, 'outside');
  writeFileSync(outside, '');
  symlinkSync(outside, join(state, 'link'));
  handOver([state, join(root, 'missing')], NOBODY);
  for (const p of [state, join(state, 'ha0.state.json'), join(state, 'sub'), join(state, 'sub', 'x')]) {
    assert.equal(statSync(p).uid, NOBODY.uid, p);
    assert.equal(statSync(p).gid, NOBODY.gid, p);
  }
  assert.equal(statSync(outside).uid, 0, 'the link target is untouched');
  assert.equal(lstatSync(join(state, 'link')).uid, 0);
});

test('dropPrivileges: every thread switches, no capability is left, root cannot be regained', { skip: !isRoot && 'needs root' }, () => {
  const secret = join(root, 'secret');
  writeFileSync(secret, 'opened before the drop', { mode: 0o600 });
  const out = child(`
    import { openSync, readFileSync, readSync } from 'node:fs';
    import { Worker } from 'node:worker_threads';
    const { dropPrivileges } = await import(${JSON.stringify(OPS)});
    const { silentLogger } = await import(${JSON.stringify(LOG)});
    // A worker started before the drop, like the crypto pool's threads.
    const worker = new Worker("const { parentPort } = require('node:worker_threads'); const fs = require('node:fs');" +
      "parentPort.on('message', () => parentPort.postMessage(fs.readFileSync('/proc/thread-self/status', 'utf8')));", { eval: true, execArgv: [] });
    await new Promise((r) => worker.once('online', r));
    const fd = openSync(${JSON.stringify(secret)}, 'r');
    const result = dropPrivileges(${JSON.stringify(NOBODY)}, silentLogger, 'host');
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    let reopen = 'opened';
    try { openSync(${JSON.stringify(secret)}, 'r'); } catch (e) { reopen = e.code; }
    let back = 'became root';
    try { process.setuid(0); } catch (e) { back = e.code; }
    worker.postMessage('status');
    const workerStatus = await new Promise((r) => worker.once('message', r));
    await worker.terminate();
    const status = readFileSync('/proc/self/status', 'utf8');
    const line = (s, k) => s.split('\\n').find((l) => l.startsWith(k + ':')).split(/\\s+/).slice(1).join(' ');
    console.log(JSON.stringify({
      result, viaFd: buf.subarray(0, n).toString(), reopen, back,
      uid: line(status, 'Uid'), gid: line(status, 'Gid'), groups: line(status, 'Groups'),
      capEff: line(status, 'CapEff'), capPrm: line(status, 'CapPrm'),
      workerUid: line(workerStatus, 'Uid'), workerCapEff: line(workerStatus, 'CapEff'),
    }));
  `);
  assert.deepEqual(out['result'], { uid: 65534, gid: 65534, changed: true });
  assert.equal(out['uid'], '65534 65534 65534 65534');
  assert.equal(out['gid'], '65534 65534 65534 65534');
  assert.equal(String(out['groups']).trim(), '65534', 'supplementary groups: only its own');
  assert.equal(out['capEff'], '0000000000000000');
  assert.equal(out['capPrm'], '0000000000000000');
  assert.equal(out['workerUid'], '65534 65534 65534 65534', 'the worker thread switched too');
  assert.equal(out['workerCapEff'], '0000000000000000');
  assert.equal(out['viaFd'], 'opened before the drop', 'a descriptor opened as root keeps working');
  assert.equal(out['reopen'], 'EACCES', 'reopening is refused');
  assert.equal(out['back'], 'EPERM');
});

test('dropPrivileges refuses without root, and is a no-op as the target user already', { skip: !isRoot && 'needs root' }, () => {
  const script = (target: object): string => `
    const { dropPrivileges } = await import(${JSON.stringify(OPS)});
    const { silentLogger } = await import(${JSON.stringify(LOG)});
    try { console.log(JSON.stringify({ result: dropPrivileges(${JSON.stringify(target)}, silentLogger, 'container') })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, fix: e.fix, message: e.message })); }
  `;
  const same = child(script(NOBODY), { uid: NOBODY.uid, gid: NOBODY.gid });
  assert.deepEqual(same['result'], { uid: 65534, gid: 65534, changed: false });
  const other = child(script({ name: 'other', uid: 65533, gid: 65533 }), { uid: NOBODY.uid, gid: NOBODY.gid });
  assert.equal(other['code'], 'ERR_PRIVILEGE');
  assert.match(String(other['message']), /only root may switch/);
  assert.match(String(other['fix']), /start iro as root/);
});
