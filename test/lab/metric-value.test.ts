/** The lab's reader of Prometheus samples (src/lab/daemon.ts), without namespaces. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../../src/lab/index.js';

test('metricValue finds a sample by name and a subset of its labels, in any order', () => {
  const text = [
    '# HELP iro_dropped_packets_total Packets dropped.',
    '# TYPE iro_dropped_packets_total counter',
    'iro_dropped_packets_total{direction="in",reason="no_sa"} 3',
    'iro_dropped_packets_total{reason="replay",direction="in"} 1',
    'iro_dropped_packets_total{direction="out",reason="no_sa"} 7',
    'iro_dropped_packets_total_extra{direction="in",reason="no_sa"} 99',
    'iro_pool_queue_depth 2',
  ].join('\n');
  assert.equal(metricValue(text, 'iro_dropped_packets_total', { direction: 'in', reason: 'no_sa' }), 3);
  assert.equal(metricValue(text, 'iro_dropped_packets_total', { direction: 'in', reason: 'replay' }), 1);
  assert.equal(metricValue(text, 'iro_dropped_packets_total', { direction: 'out', reason: 'no_sa' }), 7);
  assert.equal(metricValue(text, 'iro_dropped_packets_total', { direction: 'in', reason: 'auth_failed' }), null);
  assert.equal(metricValue(text, 'iro_pool_queue_depth', {}), 2);
});
