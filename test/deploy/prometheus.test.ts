/**
 * The monitoring files of deploy/: promtool (Debian's prometheus package, installed when missing)
 * accepts the Prometheus config and the alert rules and passes their unit tests; every alert has
 * a test; the Grafana dashboard and the rules use only metric names iro really exports, and the
 * dashboard shows what operators asked for through the provisioned datasource.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { allPanels, metricNamesFromExposition, missingFromExposition, readDashboard, registryExposition } from './metric-names.js';
import { ensureTool } from './tools.js';

const PROM = join(REPO_ROOT, 'deploy', 'prometheus');
const GRAFANA = join(REPO_ROOT, 'deploy', 'grafana');
const isRoot = process.getuid?.() === 0;

function promtool(...args: string[]): { status: number | null; out: string } {
  const bin = ensureTool('promtool', ['prometheus']);
  const r = spawnSync(bin, args, { cwd: PROM, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('promtool check config: prometheus.yml and the rule file it loads', { skip: !isRoot && 'installing promtool needs root' }, () => {
  const r = promtool('check', 'config', 'prometheus.yml');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: 1 rule files found/);
});

test('promtool check rules: alerts.yml', { skip: !isRoot && 'installing promtool needs root' }, () => {
  const r = promtool('check', 'rules', 'alerts.yml');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: 7 rules found/);
});

test('promtool test rules: alerts.test.yml', { skip: !isRoot && 'installing promtool needs root' }, () => {
  const r = promtool('test', 'rules', 'alerts.test.yml');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('every alert rule has a unit test that expects it to fire', () => {
  const rules = readFileSync(join(PROM, 'alerts.yml'), 'utf8');
  const tests = readFileSync(join(PROM, 'alerts.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]!);
  assert.deepEqual(alerts, [
    'IroTargetDown',
    'IroTunnelDown',
    'IroReplayOrIcvDropsRising',
    'IroHandoverSlow',
    'IroSequenceNumbersNearExhaustion',
    'IroSequenceNumbersExhausted',
    'IroBindingExpiryStorm',
  ]);
  const firing = new Set<string>();
  for (const m of tests.matchAll(/alertname: (\w+)\n\s*exp_alerts:\n\s*- exp_labels/g)) firing.add(m[1]!);
  assert.deepEqual(alerts.filter((a) => !firing.has(a)), []);
});

test('the dashboard and the alert rules use only metrics iro exports (its registry)', async () => {
  const exposition = await registryExposition();
  const exported = metricNamesFromExposition(exposition);
  assert.ok(exported.has('iro_handover_duration_seconds_bucket') && exported.has('process_resident_memory_bytes'), 'the exposition parsed');
  const missing = missingFromExposition(exposition, REPO_ROOT);
  assert.ok(missing.used >= 18, `the dashboard and rules query ${missing.used} metrics`);
  assert.deepEqual(missing.dashboard, [], 'dashboard metrics iro does not export');
  assert.deepEqual(missing.rules, [], 'alert metrics iro does not export');
});

test('the dashboard shows what operators need, through the provisioned datasource', () => {
  const dashboard = readDashboard(join(GRAFANA, 'iro.json'));
  const titles = allPanels(dashboard).map((p) => p.title ?? '');
  for (const wanted of [
    'Throughput per peer',
    'Drops by reason',
    'Handovers',
    'Handover latency',
    'Bindings',
    'Worker pool utilisation',
    'Sequence-number headroom',
  ]) {
    assert.ok(titles.includes(wanted), `a panel "${wanted}" in ${JSON.stringify(titles)}`);
  }
  const provisioned = readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
  const uid = /^\s*uid:\s*(\S+)$/m.exec(provisioned)?.[1];
  assert.equal(uid, 'iro-prometheus');
  const uids = new Set<string | undefined>();
  for (const p of allPanels(dashboard)) {
    if (p.type === 'row') continue;
    uids.add(p.datasource?.uid);
    for (const t of p.targets ?? []) uids.add(t.datasource?.uid);
  }
  assert.deepEqual([...uids], [uid]);
  const ids = allPanels(dashboard).map((p) => (p as { id?: number }).id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});
