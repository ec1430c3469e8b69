/**
 * `iro bench --quick` end to end, as CI runs it: the compiled CLI (bench/compare.js) with the
 * cheap contenders (plain veth, wireguard-go, one iro variant). Checks that it runs, writes a
 * result file of the documented shape plus the Markdown and SVG, reports contenders it cannot set
 * up as failed instead of crashing, and leaves no namespace, process or temporary directory
 * behind, also when interrupted with SIGINT. Never asserts on the numbers themselves.
 *
 * Needs root (namespaces); skipped otherwise.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR } from '../helpers/paths.js';

const CLI = join(BUILD_DIR, 'bench', 'compare.js');
const SELECTED = ['veth', 'wireguard-go', 'iro:aes128gcm16:native:udp'];
const NOT_ROOT = process.getuid?.() !== 0 ? 'needs root: creates network namespaces' : false;

interface CliRun {
  readonly pid: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; `interruptWhen` sends SIGINT once stderr matches it. Bounded by `timeoutMs`. */
function runCli(args: readonly string[], timeoutMs: number, interruptWhen?: RegExp): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench CLI did not finish within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (interruptWhen && !interrupted && interruptWhen.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ pid: child.pid!, code, stdout, stderr });
    });
  });
}

/** Namespaces, processes and temporary directories that still carry the run's id. */
function leftovers(pid: number): string[] {
  const tag = `iro-bench-${pid}-`;
  const found: string[] = [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const line of ns.split('\n')) if (line.startsWith(tag)) found.push(`namespace ${line.split(' ')[0]}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmdline.includes(tag)) found.push(`process ${entry}: ${cmdline.trim()}`);
  }
  for (const name of readdirSync(tmpdir())) if (name.startsWith(tag)) found.push(`directory ${join(tmpdir(), name)}`);
  return found;
}

const isNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

test('bench --quick runs, writes a valid result file, Markdown and SVG, and cleans up', { skip: NOT_ROOT, timeout: 240_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'iro-bench-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));

  const run = await runCli(['--quick', '--only', SELECTED.join(','), '--out', out], 220_000);
  assert.equal(run.code, 0, `exit status ${run.code}; stderr:\n${run.stderr}`);
  assert.deepEqual(leftovers(run.pid), []);

  const written = readdirSync(out).sort();
  const json = written.filter((f) => f.endsWith('.json'));
  assert.equal(json.length, 1, `expected one result file in ${written.join(', ')}`);
  const stem = json[0]!.slice(0, -'.json'.length);
  assert.match(stem, /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
  assert.deepEqual(written, [`${stem}.json`, `${stem}.md`, `${stem}.svg`]);

  const report = JSON.parse(readFileSync(join(out, json[0]!), 'utf8'));
  assert.equal(report.schema, 'iro-bench-compare/1');
  assert.equal(report.options.quick, true);
  assert.equal(report.options.reps, 1);
  assert.deepEqual(report.options.only, SELECTED);
  assert.equal(report.environment.nodeVersion, process.version);
  for (const key of ['kernel', 'cpuModel', 'os']) assert.equal(typeof report.environment[key], 'string', key);
  assert.ok(report.environment.gitCommit === null || /^[0-9a-f]{40}$/.test(report.environment.gitCommit));
  assert.equal(typeof report.install.ok, 'boolean');
  assert.match(report.prometheus.status, /^(ok|failed: .+)$/);
  assert.deepEqual(report.files, { json: join(out, `${stem}.json`), markdown: join(out, `${stem}.md`), svg: join(out, `${stem}.svg`) });

  assert.deepEqual(report.contenders.map((c: { id: string }) => c.id), SELECTED);
  for (const c of report.contenders) {
    assert.match(c.status, /^(ok|partial|failed)$/, c.id);
    if (c.status === 'failed') {
      assert.equal(typeof c.error, 'string', `${c.id} failed without a reason`);
      assert.ok(c.error.length > 0, `${c.id} failed without a reason`);
      continue;
    }
    assert.equal(c.reps.length, 1, c.id);
    const rep = c.reps[0];
    assert.equal(rep.ok, true, c.id);
    for (const run of ['tcp1', 'tcp4', 'udp']) {
      assert.ok(isNumber(rep[run].bitsPerSecond), `${c.id} ${run}.bitsPerSecond`);
      assert.ok(rep[run].endMs > rep[run].startMs, `${c.id} ${run} window`);
    }
    assert.ok(isNumber(rep.udp.lossPercent), `${c.id} udp.lossPercent`);
    assert.ok(rep.pingIdle.rttsMs.every(isNumber), `${c.id} pingIdle.rttsMs`);
    assert.ok(isNumber(c.summary.tcp1BitsPerSecond.median), `${c.id} summary`);
    if (c.kind === 'iro') {
      assert.ok(rep.prometheus !== null, 'an iro repetition carries Prometheus readings');
      for (const run of ['tcp1', 'tcp4', 'udp']) {
        const reading = rep.prometheus[run];
        assert.ok('error' in reading || isNumber(reading.payloadBitsPerSecond), `${c.id} prometheus.${run}`);
      }
    }
  }
  const veth = report.contenders[0];
  assert.equal(veth.status, 'ok', `the plain veth baseline must always measure: ${veth.error}`);
  assert.ok(Array.isArray(report.comparison.iro) && report.comparison.iro.length === 1);

  const md = readFileSync(join(out, `${stem}.md`), 'utf8');
  assert.match(md, /^# iro bench/);
  assert.match(md, /\n\| contender \| TCP -P 1 Gbit\/s \|/);
  for (const c of report.contenders) {
    assert.ok(md.includes(`| ${c.label}`), `Markdown row for ${c.id}`);
    if (c.status === 'failed') assert.ok(md.includes('failed: '), `Markdown says ${c.id} failed`);
  }
  const svg = readFileSync(join(out, `${stem}.svg`), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg.trimEnd(), /<\/svg>$/);
  for (const c of report.contenders) assert.ok(svg.includes(`>${c.label}</text>`), `SVG label for ${c.id}`);
});

test('bench interrupted with SIGINT exits 130 and leaves nothing behind', { skip: NOT_ROOT, timeout: 120_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'iro-bench-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // Interrupt while the first iperf3 run is going: namespaces, servers and pings all exist then.
  const run = await runCli(['--quick', '--only', 'veth', '--out', out, '--verbose'], 100_000, /started name=iperf3 server/);
  assert.equal(run.code, 130, `exit status ${run.code}; stderr:\n${run.stderr}`);
  assert.match(run.stderr, /interrupted by SIGINT/);
  assert.deepEqual(leftovers(run.pid), []);
  assert.deepEqual(readdirSync(out), [], 'no result file for an interrupted run');
});
