/**
 * Tool checks: everything the lab uses is found on this machine, and a missing tool gives an
 * error naming the exact install command (PATH emptied so a /usr/bin tool cannot be found).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TOOLS, ensureTools, findExecutable, installCommand, missingTools } from '../../src/lab/index.js';

test('ensureTools leaves every default tool installed', () => {
  ensureTools();
  assert.deepEqual(missingTools(DEFAULT_TOOLS), []);
  assert.deepEqual(ensureTools(), [], 'nothing left to install');
  assert.match(findExecutable('nft') ?? '', /\/nft$/, 'sbin tools are found even off PATH');
});

test('a missing tool is reported with the exact command that installs it', () => {
  const saved = process.env['PATH'];
  process.env['PATH'] = '/nonexistent';
  try {
    assert.deepEqual(missingTools(['iperf3', 'nft']).map((t) => t.package), ['iperf3']);
    assert.throws(() => ensureTools(['iperf3', 'tshark'], { install: false }), {
      code: 'ERR_IO',
      message: `the lab needs iperf3, tshark, which are not installed; run as root: ${installCommand(['iperf3', 'tshark'])}`,
    });
  } finally {
    process.env['PATH'] = saved;
  }
  assert.equal(
    installCommand(['iperf3', 'tshark']),
    'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iperf3 tshark',
  );
  assert.throws(() => missingTools(['no-such-tool']), RangeError);
});
