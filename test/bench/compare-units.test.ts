/**
 * The comparison harness's pure parts, without namespaces or privileges: parsing of iperf3, ping
 * and Prometheus text output, the ESP byte-counter conversion, the transfer-window estimate,
 * order statistics, contender selection and the iro MTU. Inputs are recorded tool output or
 * hand-computed values.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { matches, selectContenders } from '../../bench/compare/contenders/index.js';
import { iroMtu } from '../../bench/compare/contenders/iro.js';
import { BenchError } from '../../bench/compare/errors.js';
import { samplesOf } from '../../bench/compare/exposition.js';
import { ensureInstalled, installCommand } from '../../bench/compare/install.js';
import { Session } from '../../bench/compare/session.js';
import { silentLogger } from '../../src/util/log.js';
import { parseIperf, parsePing, transferStart } from '../../bench/compare/measure.js';
import { convertThroughput, espFramingBytes } from '../../bench/compare/prometheus.js';
import { fileStamp, resolveOptions, toJson } from '../../bench/compare/run.js';
import { quantile, summarize } from '../../bench/compare/stats.js';

test('ESP framing: header, IV, pad to 4, trailer and ICV (RFC 4303 §2.4)', () => {
  // 1438 + 2 = 1440, already aligned: 8 + 8 + 0 + 2 + 16.
  assert.equal(espFramingBytes(1438), 34);
  // 1428 + 2 = 1430 -> 2 bytes of pad.
  assert.equal(espFramingBytes(1428), 36);
});

test('iro MTU is the largest whose ESP packets fit the 1500-byte veth', () => {
  assert.equal(iroMtu('udp'), 1438); // 1438 + 34 + 20 IPv4 + 8 UDP = 1500
  assert.equal(iroMtu('esp'), 1446); // 1446 + 34 + 20 IPv4 = 1500
});

test('counter increases convert to ESP, wire and payload-equivalent rates', () => {
  // 1000 full-sized TCP packets of 1438 bytes in 1 s through UDP encapsulation.
  const esp = 1000 * (1438 + 34);
  const r = convertThroughput(esp, 1000, 1, { encapsulation: 'udp', mtu: 1438 }, false, 1000 * 1386 * 8);
  assert.equal(r.espBitsPerSecond, esp * 8);
  assert.equal(r.wireBitsPerSecond, 1000 * 1500 * 8);
  assert.equal(r.payloadBitsPerSecond, 1000 * (1438 - 52) * 8);
  assert.equal(r.relativeDifference, 0);
  assert.equal(r.withinTarget, true);
  // Raw ESP has no UDP header on the wire; UDP payload is 1400 bytes per datagram.
  const u = convertThroughput(1000 * (1428 + 36), 1000, 2, { encapsulation: 'esp', mtu: 1446 }, true, 1000 * 1400 * 8 * 0.9 / 2);
  assert.equal(u.wireBitsPerSecond, (1000 * (1428 + 36 + 20) * 8) / 2);
  assert.equal(u.payloadBitsPerSecond, (1000 * 1400 * 8) / 2);
  assert.ok(Math.abs(u.relativeDifference - (1 / 0.9 - 1)) < 1e-12);
  assert.equal(u.withinTarget, false);
});

test('transfer start comes from the least delayed server interval line', () => {
  const lines = [
    { ms: 10_000, text: 'Accepted connection from 192.0.2.1, port 40000' },
    { ms: 11_020, text: '[  5]   0.00-1.00   sec   100 MBytes   839 Mbits/sec' },
    { ms: 12_004, text: '[SUM]   1.00-2.00   sec   100 MBytes   839 Mbits/sec' },
    { ms: 13_050, text: '[  5]   2.00-3.00   sec   100 MBytes   839 Mbits/sec' },
  ];
  assert.equal(transferStart(lines), 10_004);
  assert.equal(transferStart([{ ms: 1, text: 'Server listening on 5201' }]), null);
});

test('iperf3 -J: goodput from end.sum_received, loss for UDP, errors surface with a code', () => {
  const tcp = JSON.stringify({
    end: {
      sum_sent: { bits_per_second: 2e9, bytes: 2.5e9, seconds: 10, retransmits: 7 },
      sum_received: { bits_per_second: 1.9e9, bytes: 2.4e9, seconds: 10.01 },
    },
  });
  assert.deepEqual(parseIperf(tcp, false), {
    bitsPerSecond: 1.9e9,
    bytes: 2.4e9,
    seconds: 10.01,
    retransmits: 7,
    lossPercent: null,
    datagramsSent: null,
  });
  const udp = JSON.stringify({
    end: {
      sum_sent: { packets: 186650 },
      sum_received: { bits_per_second: 7.2e8, bytes: 90073200, seconds: 1.0, lost_percent: 65.5 },
    },
  });
  assert.equal(parseIperf(udp, true).lossPercent, 65.5);
  assert.equal(parseIperf(udp, true).datagramsSent, 186650);
  assert.equal(parseIperf(udp, true).retransmits, null);
  assert.throws(() => parseIperf(JSON.stringify({ error: 'unable to connect to server' }), false), (e: unknown) => {
    return e instanceof BenchError && e.code === 'ERR_BENCH_MEASURE' && e.message.includes('unable to connect');
  });
  assert.throws(() => parseIperf('iperf3: error', false), (e: unknown) => e instanceof BenchError && e.code === 'ERR_BENCH_MEASURE');
});

test('ping output: per-reply RTTs, counts, percentiles', () => {
  const text = [
    'PING 203.0.113.1 (203.0.113.1) from 192.0.2.1 : 56(84) bytes of data.',
    '64 bytes from 203.0.113.1: icmp_seq=1 ttl=64 time=0.400 ms',
    '64 bytes from 203.0.113.1: icmp_seq=2 ttl=64 time=0.100 ms',
    '64 bytes from 203.0.113.1: icmp_seq=4 ttl=64 time=0.200 ms',
    '',
    '--- 203.0.113.1 ping statistics ---',
    '4 packets transmitted, 3 received, 25% packet loss, time 150ms',
  ].join('\n');
  const p = parsePing(text);
  assert.deepEqual(p.rttsMs, [0.4, 0.1, 0.2]);
  assert.equal(p.sent, 4);
  assert.equal(p.received, 3);
  assert.equal(p.p50Ms, 0.2);
  assert.ok(Math.abs(p.p99Ms! - 0.396) < 1e-9);
  assert.equal(parsePing('').p50Ms, null);
});

test('quantiles interpolate between order statistics; summaries skip missing values', () => {
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.deepEqual(summarize([3, null, 1, undefined, 2, NaN]), { n: 3, median: 2, min: 1, max: 3, q1: 1.5, q3: 2.5 });
  assert.equal(summarize([null]), null);
});

test('exposition text: samples of one metric with their labels', () => {
  const text = [
    '# HELP iro_dropped_packets_total Packets dropped',
    '# TYPE iro_dropped_packets_total counter',
    'iro_dropped_packets_total{direction="in",reason="queue_full"} 0',
    'iro_dropped_packets_total{reason="replay",direction="in"} 12',
    'iro_dropped_packets_total_created 5',
    'iro_bytes_total{peer="bench-a",direction="in"} 1.5e+09',
  ].join('\n');
  assert.deepEqual(samplesOf(text, 'iro_dropped_packets_total'), [
    { labels: { direction: 'in', reason: 'queue_full' }, value: 0 },
    { labels: { reason: 'replay', direction: 'in' }, value: 12 },
  ]);
  assert.deepEqual(samplesOf(text, 'iro_bytes_total'), [{ labels: { peer: 'bench-a', direction: 'in' }, value: 1.5e9 }]);
});

test('--only selects by id or by prefix at a colon; unknown patterns are usage errors', () => {
  assert.equal(matches('iro:aes128gcm16:native:udp', 'iro'), true);
  assert.equal(matches('iro:aes128gcm16:native:udp', 'iro:aes128'), false);
  assert.deepEqual(selectContenders(['veth']).map((c) => c.id), ['veth']);
  assert.equal(selectContenders(['iro']).length, 9);
  assert.ok(!selectContenders(['iro']).some((c) => c.id.endsWith(':native-free:esp')), 'native-free has no raw ESP');
  assert.deepEqual(selectContenders(['iro:chacha20poly1305:native', 'veth']).map((c) => c.id), [
    'veth',
    'iro:chacha20poly1305:native:udp',
    'iro:chacha20poly1305:native:esp',
  ]);
  assert.equal(selectContenders([]).length, 14);
  assert.throws(() => selectContenders(['wireguard']), (e: unknown) => e instanceof BenchError && e.code === 'ERR_BENCH_USAGE');
});

test('options: quick defaults, explicit values win, bad values are usage errors', () => {
  const q = resolveOptions({ quick: true }, '/repo');
  assert.deepEqual([q.reps, q.durationSeconds, q.outDir, q.install], [1, 3, '/repo/bench/results', true]);
  const d = resolveOptions({ quick: true, reps: 3, durationSeconds: 20, install: false, outDir: '/x' }, '/repo');
  assert.deepEqual([d.reps, d.durationSeconds, d.outDir, d.install], [3, 20, '/x', false]);
  assert.deepEqual([resolveOptions({}, '/repo').reps, resolveOptions({}, '/repo').durationSeconds], [5, 10]);
  for (const bad of [{ reps: 0 }, { reps: 1.5 }, { durationSeconds: 1 }]) {
    assert.throws(() => resolveOptions(bad, '/repo'), (e: unknown) => e instanceof BenchError && e.code === 'ERR_BENCH_USAGE');
  }
});

test('result file names are ISO date-times without colons', () => {
  assert.equal(fileStamp(new Date('2025-01-31T12:03:04.567Z')), '2025-01-31T12-03-04Z');
});

test('result JSON keeps number arrays on one line and parses back unchanged', () => {
  const value = { rttsMs: [0.1, 2.5e-3, 10], nested: [{ a: [1, -2] }], empty: [], words: ['x', 'y'] };
  const text = toJson(value);
  assert.ok(text.includes('"rttsMs": [0.1, 0.0025, 10]'), text);
  assert.ok(text.includes('"a": [1, -2]'), text);
  assert.deepEqual(JSON.parse(text), value);
});

test('missing programs with installing off: not ok, and the exact command to run', async () => {
  const session = new Session(silentLogger);
  const reqs = [
    { what: '/nonexistent/iro-bench/plugin.so', pkg: 'pkg-b' },
    { what: 'iro-bench-no-such-command', pkg: 'pkg-a' },
    { what: 'node', pkg: 'nodejs' },
  ];
  const r = await ensureInstalled(session, reqs, false);
  assert.equal(r.ok, false);
  assert.deepEqual(r.missing.map((m) => m.pkg), ['pkg-b', 'pkg-a']);
  assert.deepEqual(r.packages, []);
  assert.equal(r.command, 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pkg-a pkg-b');
  assert.equal(r.command, installCommand(['pkg-a', 'pkg-b']));
  const none = await ensureInstalled(session, [{ what: 'node', pkg: 'nodejs' }], false);
  assert.deepEqual([none.ok, none.missing.length, none.command], [true, 0, null]);
});
