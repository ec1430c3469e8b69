/**
 * The lab's cleanup guarantees: CleanupRegistry order and error collection, and a lab whose
 * program ends without teardown (uncaught exception, process.exit, SIGTERM, SIGINT) still leaves
 * no namespace, process or temp dir behind. Needs root.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CleanupRegistry, LabProcess } from '../../src/lab/index.js';
import { eventually, namespacesOnHost, pidGone } from './helpers.js';

const CHILD = join(dirname(new URL(import.meta.url).pathname), 'lab-child.js');

test('CleanupRegistry runs actions newest first, once, and reports the ones that throw', () => {
  const reg = new CleanupRegistry();
  const order: string[] = [];
  reg.add('first', () => order.push('first'));
  reg.add('broken', () => {
    throw new Error('boom');
  });
  const forget = reg.add('forgotten', () => order.push('forgotten'));
  reg.add('last', () => order.push('last'));
  forget();
  assert.equal(reg.size, 3);
  const problems = reg.runAll();
  assert.deepEqual(order, ['last', 'first']);
  assert.deepEqual(problems, ['broken: boom']);
  assert.equal(reg.size, 0);
  assert.deepEqual(reg.runAll(), []);
  assert.deepEqual(order, ['last', 'first']);
});

interface ChildReport {
  namespaces: string[];
  pid: number;
  dir: string;
}

async function runChild(mode: string, signal?: NodeJS.Signals): Promise<{ report: ChildReport; status: number | null; signal: NodeJS.Signals | null; proc: LabProcess }> {
  const proc = new LabProcess(process.execPath, [CHILD, mode], { label: `lab-child ${mode}` });
  const line = await proc.waitForLine((l) => l.startsWith('{'), 20_000, 'its report');
  const report = JSON.parse(line) as ChildReport;
  for (const ns of report.namespaces) assert.ok(namespacesOnHost().includes(ns), `${ns} exists while the child runs`);
  assert.ok(!pidGone(report.pid), 'the child lab process runs');
  if (signal) proc.signal(signal);
  else proc.write('go\n');
  const s = await proc.wait(20_000);
  return { report, status: s.status, signal: s.signal, proc };
}

async function assertNothingLeft(report: ChildReport): Promise<void> {
  const left = namespacesOnHost().filter((n) => report.namespaces.includes(n));
  assert.deepEqual(left, [], 'namespaces left behind');
  assert.ok(await eventually(() => pidGone(report.pid)), `process ${report.pid} left running`);
  assert.equal(existsSync(report.dir), false, `temp dir ${report.dir} left behind`);
}

test('an uncaught exception after setup still removes the lab (exit hook)', async () => {
  const r = await runChild('throw');
  assert.equal(r.status, 1, r.proc.describe());
  assert.match(r.proc.stderr, /deliberate failure after lab setup/);
  await assertNothingLeft(r.report);
});

test('process.exit() after setup still removes the lab', async () => {
  const r = await runChild('exit');
  assert.equal(r.status, 3, r.proc.describe());
  await assertNothingLeft(r.report);
});

test('a host program with its own SIGTERM handler (signals: false) tears down gracefully and exits 0', async () => {
  const r = await runChild('host', 'SIGTERM');
  assert.deepEqual([r.status, r.signal], [0, null], r.proc.describe());
  await assertNothingLeft(r.report);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`${sig} removes the lab and ends the process by that signal`, async () => {
    const r = await runChild('wait', sig);
    assert.equal(r.signal, sig, r.proc.describe());
    await assertNothingLeft(r.report);
  });
}
