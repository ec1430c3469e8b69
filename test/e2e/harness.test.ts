/**
 * The e2e harness's own logic, without namespaces: how it decides that `iro up` is registered
 * (the only reason the e2e tests may skip) and how it reads Prometheus samples.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { metricValue, upRegistered } from './harness.js';

test('up counts as registered only when imported from ./up.js and listed in COMMANDS', () => {
  const listed = "import { upCommand } from './up.js';\nexport const COMMANDS: readonly Command[] = [checkCommand, upCommand];\n";
  assert.equal(upRegistered(listed), true);
  assert.equal(upRegistered("import { upCommand } from './up.js';\nexport const COMMANDS = [checkCommand];\n"), false);
  assert.equal(upRegistered("import { checkCommand } from './check.js';\nexport const COMMANDS = [checkCommand];\n"), false);
  assert.equal(upRegistered(), true, 'this checkout registers up');
});

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
