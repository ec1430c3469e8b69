import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { controlRequest, startControlServer } from '../../src/control/index.js';
import { IroError } from '../../src/util/errors.js';

test('requests reach the handler and results come back; errors keep their code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iro-ctl-'));
  const path = join(dir, 'run', 'iro0.sock');
  const server = await startControlServer(path, (cmd, args) => {
    if (cmd === 'show') return { sas: 2, big: 1n << 40n };
    if (cmd === 'echo') return args;
    throw new IroError('ERR_USAGE', `unknown command ${cmd}`);
  });
  try {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(await controlRequest(path, 'show'), { sas: 2, big: '1099511627776' });
    assert.deepEqual(await controlRequest(path, 'echo', { coa: '2001:db8:2::10' }), { coa: '2001:db8:2::10' });
    await assert.rejects(controlRequest(path, 'nope'), (e: unknown) => e instanceof IroError && /ERR_USAGE/.test(e.message));
    await assert.rejects(startControlServer(path, () => null), (e: unknown) => (e as IroError).code === 'ERR_CONTROL');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing daemon gives a clear error that says how to start it', async () => {
  await assert.rejects(controlRequest('/nonexistent/iro9.sock', 'show'), (e: unknown) => e instanceof IroError && /iro up/.test(e.message));
});

test('a stale socket left by a crashed daemon is replaced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iro-ctl-'));
  const path = join(dir, 'iro1.sock');
  try {
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    assert.ok(statSync(path).isSocket(), 'the killed process left its socket file behind');
    const server = await startControlServer(path, () => 2);
    assert.equal(await controlRequest(path, 'x'), 2);
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
