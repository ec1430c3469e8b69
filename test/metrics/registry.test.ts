/**
 * iro's metric set, scraped over real HTTP from a server on port 0 with a fake MetricsSource and
 * read with a strict exposition parser: names and TYPEs of DESIGN.md's table, zero-initialised
 * series, counters equal to the source's running totals, peers appearing and disappearing, and
 * histograms.
 */
import test, { afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, startMetricsServer, type IroMetrics, type MetricsServer } from '../../src/metrics/index.js';
import { Drop, DROP_LABELS } from '../../src/util/drop.js';
import { silentLogger } from '../../src/util/log.js';
import { parseExposition, hasSample, samplesOf, valueOf, type Exposition } from './exposition.js';
import { FakeSource, fakePeer } from './fake-source.js';
import { recordingLogger, request } from './http.js';

/** DESIGN.md "Conventions, concretely", the metrics table. */
const DESIGN_METRICS: Record<string, string> = {
  iro_build_info: 'gauge',
  iro_peer_info: 'gauge',
  iro_peer_up: 'gauge',
  iro_packets_total: 'counter',
  iro_bytes_total: 'counter',
  iro_tun_packets_total: 'counter',
  iro_tun_bytes_total: 'counter',
  iro_dropped_packets_total: 'counter',
  iro_last_authenticated_rx_timestamp_seconds: 'gauge',
  iro_bindings: 'gauge',
  iro_binding_updates_total: 'counter',
  iro_handovers_total: 'counter',
  iro_handover_duration_seconds: 'histogram',
  iro_sa_sequence_ratio: 'gauge',
  iro_pool_batch_packets: 'histogram',
  iro_pool_task_duration_seconds: 'histogram',
  iro_pool_queue_depth: 'gauge',
};
const FIXED_RESULTS = ['sent', 'accepted', 'refused_sequence', 'refused_auth', 'refused_address', 'refused_prohibited', 'expired'];

let source: FakeSource;
let metrics: IroMetrics;
let server: MetricsServer;

async function scrape(): Promise<Exposition> {
  const r = await request(server.url, '/metrics');
  assert.equal(r.status, 200, r.body);
  return parseExposition(r.body);
}

/** Label values of `label` over every sample of `name`. */
function labelValues(exp: Exposition, name: string, label: string): string[] {
  return [...new Set(samplesOf(exp, name).map((s) => s.labels[label]!))].sort();
}

beforeEach(async () => {
  source = new FakeSource();
  source.peerList = [fakePeer('home', 'home-agent', 'aes128gcm16'), fakePeer('cn1', 'correspondent', 'chacha20poly1305')];
  metrics = createMetrics(source);
  server = await startMetricsServer({ port: 0, registry: metrics.registry, health: () => ({ ok: true }), log: silentLogger });
});

afterEach(async () => {
  await server.close();
});

test('every DESIGN.md metric is exposed with its TYPE, plus prom-client default metrics', async () => {
  const r = await request(server.url, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const exp = parseExposition(r.body);
  for (const [name, type] of Object.entries(DESIGN_METRICS)) assert.equal(exp.types.get(name), type, name);
  const names = [...exp.types.keys()];
  assert.ok(names.includes('process_cpu_seconds_total'), 'process_* default metrics');
  assert.ok(names.some((n) => n.startsWith('nodejs_')), 'nodejs_* default metrics');
  const iroNames = names.filter((n) => n.startsWith('iro_')).sort();
  assert.deepEqual(iroNames, Object.keys(DESIGN_METRICS).sort(), 'no metric outside the table');
});

test('defaultMetrics: false leaves out process_* and nodejs_*', async () => {
  const m = createMetrics(new FakeSource(), { defaultMetrics: false });
  const exp = parseExposition(await m.registry.metrics());
  assert.deepEqual([...exp.types.keys()].filter((n) => !n.startsWith('iro_')), []);
});

test('build info and peer info are 1 with their labels', async () => {
  const exp = await scrape();
  assert.equal(valueOf(exp, 'iro_build_info', { version: '0.1.0', node_version: 'v20.20.0', backend: 'native-free', crypto: 'node' }), 1);
  assert.equal(samplesOf(exp, 'iro_build_info').length, 1);
  assert.equal(valueOf(exp, 'iro_peer_info', { peer: 'home', role: 'home-agent', cipher: 'aes128gcm16' }), 1);
  assert.equal(valueOf(exp, 'iro_peer_info', { peer: 'cn1', role: 'correspondent', cipher: 'chacha20poly1305' }), 1);
  assert.equal(samplesOf(exp, 'iro_peer_info').length, 2);
});

test('every (direction, reason) drop series starts at 0 and then follows the tallies', async () => {
  let exp = await scrape();
  const drops = samplesOf(exp, 'iro_dropped_packets_total');
  assert.equal(drops.length, 2 * DROP_LABELS.length);
  for (const direction of ['in', 'out']) {
    for (const reason of DROP_LABELS) assert.equal(valueOf(exp, 'iro_dropped_packets_total', { direction, reason }), 0, `${direction} ${reason}`);
  }
  source.dropTally.in[Drop.REPLAY] = 7;
  source.dropTally.in[Drop.AUTH_FAILED] = 3;
  source.dropTally.out[Drop.NO_POLICY] = 12;
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_dropped_packets_total', { direction: 'in', reason: 'replay' }), 7);
  assert.equal(valueOf(exp, 'iro_dropped_packets_total', { direction: 'in', reason: 'auth_failed' }), 3);
  assert.equal(valueOf(exp, 'iro_dropped_packets_total', { direction: 'out', reason: 'no_policy' }), 12);
  assert.equal(valueOf(exp, 'iro_dropped_packets_total', { direction: 'out', reason: 'replay' }), 0);
  const sum = samplesOf(exp, 'iro_dropped_packets_total').reduce((a, s) => a + s.value, 0);
  assert.equal(sum, 22);
});

test('counters equal the source running totals at every scrape', async () => {
  const home = source.peerList[0]!;
  let exp = await scrape();
  for (const direction of ['in', 'out']) {
    assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction }), 0);
    assert.equal(valueOf(exp, 'iro_bytes_total', { peer: 'home', direction }), 0);
    assert.equal(valueOf(exp, 'iro_tun_packets_total', { direction }), 0);
    assert.equal(valueOf(exp, 'iro_tun_bytes_total', { direction }), 0);
  }
  home.packetsIn = 10;
  home.packetsOut = 20;
  home.bytesIn = 1500;
  home.bytesOut = 2_000_000_123;
  home.handovers = 2;
  source.tunState = { readPackets: 21, readBytes: 1_900_000_000, writtenPackets: 9, writtenBytes: 1300 };
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction: 'in' }), 10);
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction: 'out' }), 20);
  assert.equal(valueOf(exp, 'iro_bytes_total', { peer: 'home', direction: 'in' }), 1500);
  assert.equal(valueOf(exp, 'iro_bytes_total', { peer: 'home', direction: 'out' }), 2_000_000_123);
  assert.equal(valueOf(exp, 'iro_handovers_total', { peer: 'home' }), 2);
  assert.equal(valueOf(exp, 'iro_tun_packets_total', { direction: 'out' }), 21);
  assert.equal(valueOf(exp, 'iro_tun_packets_total', { direction: 'in' }), 9);
  assert.equal(valueOf(exp, 'iro_tun_bytes_total', { direction: 'out' }), 1_900_000_000);
  assert.equal(valueOf(exp, 'iro_tun_bytes_total', { direction: 'in' }), 1300);
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'cn1', direction: 'in' }), 0);

  // Totals, not increments: a further scrape shows the new totals, never a sum over scrapes.
  home.packetsIn = 11;
  home.bytesOut = 2 ** 53 - 1;
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction: 'in' }), 11);
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction: 'out' }), 20);
  assert.equal(valueOf(exp, 'iro_bytes_total', { peer: 'home', direction: 'out' }), 2 ** 53 - 1);
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'home', direction: 'in' }), 11);
});

test('gauges: up, last authenticated rx, sequence ratio, bindings, pool queue depth', async () => {
  let exp = await scrape();
  assert.equal(valueOf(exp, 'iro_peer_up', { peer: 'home' }), 0);
  assert.equal(valueOf(exp, 'iro_last_authenticated_rx_timestamp_seconds', { peer: 'home' }), 0);
  assert.deepEqual(labelValues(exp, 'iro_bindings', 'role'), ['correspondent', 'home-agent', 'mobile-node']);
  for (const s of samplesOf(exp, 'iro_bindings')) assert.equal(s.value, 0);
  assert.equal(valueOf(exp, 'iro_pool_queue_depth'), 0);

  const home = source.peerList[0]!;
  home.up = true;
  home.lastAuthenticatedRx = 1_767_225_600.25;
  home.seqRatioOut = 0.5;
  home.seqRatioIn = 0.125;
  source.bindingCounts = { 'home-agent': 3 };
  source.queueDepth = 4;
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_peer_up', { peer: 'home' }), 1);
  assert.equal(valueOf(exp, 'iro_peer_up', { peer: 'cn1' }), 0);
  assert.equal(valueOf(exp, 'iro_last_authenticated_rx_timestamp_seconds', { peer: 'home' }), 1_767_225_600.25);
  assert.equal(valueOf(exp, 'iro_sa_sequence_ratio', { peer: 'home', direction: 'out' }), 0.5);
  assert.equal(valueOf(exp, 'iro_sa_sequence_ratio', { peer: 'home', direction: 'in' }), 0.125);
  assert.equal(valueOf(exp, 'iro_bindings', { role: 'home-agent' }), 3);
  assert.equal(valueOf(exp, 'iro_bindings', { role: 'mobile-node' }), 0);
  assert.equal(valueOf(exp, 'iro_pool_queue_depth'), 4);

  source.queueDepth = 0;
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_pool_queue_depth'), 0);
});

test('binding update results: the fixed set at 0 per peer, extra results from the source', async () => {
  let exp = await scrape();
  assert.deepEqual(labelValues(exp, 'iro_binding_updates_total', 'result'), [...FIXED_RESULTS].sort());
  for (const s of samplesOf(exp, 'iro_binding_updates_total')) assert.equal(s.value, 0);
  assert.equal(samplesOf(exp, 'iro_binding_updates_total').length, 2 * FIXED_RESULTS.length);

  source.peerList[0]!.bindingUpdates = { sent: 5, accepted: 4, refused_not_home_agent: 1 };
  exp = await scrape();
  assert.equal(valueOf(exp, 'iro_binding_updates_total', { peer: 'home', result: 'sent' }), 5);
  assert.equal(valueOf(exp, 'iro_binding_updates_total', { peer: 'home', result: 'accepted' }), 4);
  assert.equal(valueOf(exp, 'iro_binding_updates_total', { peer: 'home', result: 'refused_not_home_agent' }), 1);
  assert.equal(valueOf(exp, 'iro_binding_updates_total', { peer: 'home', result: 'expired' }), 0);
  assert.equal(hasSample(exp, 'iro_binding_updates_total', { peer: 'cn1', result: 'refused_not_home_agent' }), false);
});

test('peers appear and disappear with the source, in every per-peer metric', async () => {
  const perPeer = [
    'iro_peer_info',
    'iro_peer_up',
    'iro_packets_total',
    'iro_bytes_total',
    'iro_last_authenticated_rx_timestamp_seconds',
    'iro_binding_updates_total',
    'iro_handovers_total',
    'iro_handover_duration_seconds_count',
    'iro_sa_sequence_ratio',
  ];
  metrics.observeHandover('cn1', 0.02);
  let exp = await scrape();
  for (const name of perPeer) assert.deepEqual(labelValues(exp, name, 'peer'), ['cn1', 'home'], name);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_count', { peer: 'cn1' }), 1);

  source.peerList = source.peerList.filter((p) => p.name !== 'cn1');
  exp = await scrape();
  for (const name of perPeer) assert.deepEqual(labelValues(exp, name, 'peer'), ['home'], name);
  assert.equal(exp.samples.filter((s) => s.labels.peer === 'cn1').length, 0);

  const mn = fakePeer('mn7', 'mobile-node');
  mn.packetsIn = 3;
  source.peerList.push(mn, fakePeer('cn1', 'correspondent'));
  exp = await scrape();
  for (const name of perPeer) assert.deepEqual(labelValues(exp, name, 'peer'), ['cn1', 'home', 'mn7'], name);
  assert.equal(valueOf(exp, 'iro_packets_total', { peer: 'mn7', direction: 'in' }), 3);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_count', { peer: 'cn1' }), 0, 'a returning peer starts afresh');
});

test('a handover observed for a peer the source does not list is gone at the next scrape', async () => {
  metrics.observeHandover('ghost', 0.5);
  const exp = await scrape();
  assert.equal(hasSample(exp, 'iro_handover_duration_seconds_count', { peer: 'ghost' }), false);
  assert.deepEqual(labelValues(exp, 'iro_handover_duration_seconds_count', 'peer'), ['cn1', 'home']);
});

test('histograms: buckets as documented, observations land in the right bucket', async () => {
  let exp = await scrape();
  const les = (name: string, labels: Record<string, string>): string[] =>
    samplesOf(exp, name)
      .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .map((s) => s.labels.le!);
  assert.deepEqual(les('iro_handover_duration_seconds_bucket', { peer: 'home' }), [
    '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf',
  ]);
  assert.deepEqual(les('iro_pool_task_duration_seconds_bucket', { op: 'seal' }), [
    '0.00001', '0.000025', '0.00005', '0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '+Inf',
  ]);
  assert.deepEqual(les('iro_pool_batch_packets_bucket', {}), ['1', '2', '4', '8', '16', '32', '64', '128', '256', '512', '1024', '+Inf']);
  for (const op of ['seal', 'open']) assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_count', { op }), 0, op);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_count'), 0);

  metrics.observeHandover('home', 0.003);
  metrics.observeHandover('home', 12);
  metrics.observePoolTask('seal', 0.0002, 64);
  metrics.observePoolTask('seal', 0.004, 100);
  metrics.observePoolTask('open', 0.00001, 1);
  metrics.observePoolTask('open', Number.NaN, 1);
  metrics.observePoolTask('open', 0.001, -1);
  metrics.observeHandover('home', -1);
  exp = await scrape();
  const ho = { peer: 'home' };
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_bucket', { ...ho, le: '0.0025' }), 0);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_bucket', { ...ho, le: '0.005' }), 1);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_bucket', { ...ho, le: '10' }), 1);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_bucket', { ...ho, le: '+Inf' }), 2);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_count', ho), 2);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_sum', ho), 12.003);
  assert.equal(valueOf(exp, 'iro_handover_duration_seconds_count', { peer: 'cn1' }), 0);

  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_bucket', { op: 'seal', le: '0.0001' }), 0);
  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_bucket', { op: 'seal', le: '0.00025' }), 1);
  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_bucket', { op: 'seal', le: '0.005' }), 2);
  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_count', { op: 'seal' }), 2);
  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_count', { op: 'open' }), 1, 'invalid observations are ignored');
  assert.equal(valueOf(exp, 'iro_pool_task_duration_seconds_bucket', { op: 'open', le: '0.00001' }), 1);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_bucket', { le: '1' }), 1);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_bucket', { le: '32' }), 1, 'buckets are cumulative');
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_bucket', { le: '64' }), 2);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_bucket', { le: '128' }), 3);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_count'), 3);
  assert.equal(valueOf(exp, 'iro_pool_batch_packets_sum'), 165);
});

test('one scrape reads the peer list once, and each scrape reads it afresh', async () => {
  await scrape();
  assert.equal(source.peersCalls, 1);
  await scrape();
  assert.equal(source.peersCalls, 2);
});

test('a source that breaks its contract fails the scrape with 500, names the problem and logs it', async () => {
  await server.close();
  const log = recordingLogger();
  server = await startMetricsServer({ port: 0, registry: metrics.registry, health: () => ({ ok: true }), log });

  source.peerList[0]!.bytesIn = Number.NaN;
  let r = await request(server.url, '/metrics');
  assert.equal(r.status, 500);
  assert.match(r.body, /iro_bytes_total\{peer="home",direction="in"\} = NaN/);
  assert.deepEqual(log.lines.filter((l) => l.level === 'error').map((l) => l.msg), ['metrics scrape failed']);
  assert.equal((log.lines.at(-1)!.fields!.err as { code?: string }).code, 'ERR_STATE');

  source.peerList[0]!.bytesIn = 0;
  source.peerList.push(fakePeer('home', 'mobile-node'));
  r = await request(server.url, '/metrics');
  assert.equal(r.status, 500);
  assert.match(r.body, /peer "home" twice/);

  source.peerList.pop();
  source.peerList[0]!.handovers = -1;
  r = await request(server.url, '/metrics');
  assert.equal(r.status, 500);
  assert.match(r.body, /iro_handovers_total\{peer="home"\} = -1/);

  source.peerList[0]!.handovers = 0;
  assert.equal((await request(server.url, '/metrics')).status, 200);
});

test('createMetrics validates its source', () => {
  assert.throws(() => createMetrics({} as FakeSource), { name: 'TypeError', message: /source\.buildInfo must be a function/ });
  const noTun = Object.assign(Object.create(FakeSource.prototype) as FakeSource, { tun: 5 });
  assert.throws(() => createMetrics(noTun), { name: 'TypeError', message: /source\.tun must be a function/ });
  assert.throws(() => createMetrics(new FakeSource(), { defaultMetrics: 'yes' as unknown as boolean }), TypeError);
});
