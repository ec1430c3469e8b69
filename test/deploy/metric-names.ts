/**
 * The metric names iro exports and the names the shipped dashboard and alert rules use, so a
 * test can hold the latter to the former. Exported names come from an exposition text: the
 * registry createMetrics() builds over a fake source (every labelled series present), and the
 * scrape of a running gateway in the container test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics, type MetricsSource, type PeerSnapshot } from '../../src/metrics/index.js';
import { newDropTally } from '../../src/util/drop.js';

/** Every sample name in a Prometheus exposition text (histograms give _bucket, _sum, _count). */
export function metricNamesFromExposition(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

const PEER: PeerSnapshot = {
  name: 'laptop',
  role: 'mobile-node',
  cipher: 'aes128gcm16',
  up: true,
  packetsIn: 1,
  packetsOut: 1,
  bytesIn: 100,
  bytesOut: 100,
  lastAuthenticatedRx: 1_700_000_000,
  seqRatioOut: 0,
  seqRatioIn: 0,
  bindingUpdates: {},
  handovers: 0,
};

/** The exposition of iro's registry over a source with one peer, one handover and one pool task. */
export async function registryExposition(): Promise<string> {
  const source: MetricsSource = {
    buildInfo: () => ({ version: '0.0.0', nodeVersion: process.version, backend: 'native', crypto: 'node' }),
    peers: () => [PEER],
    tun: () => ({ readPackets: 0, readBytes: 0, writtenPackets: 0, writtenBytes: 0 }),
    drops: () => newDropTally(),
    bindings: () => ({ 'home-agent': 1 }),
    poolQueueDepth: () => 0,
  };
  const metrics = createMetrics(source);
  metrics.observeHandover(PEER.name, 0.01);
  metrics.observePoolTask('seal', 0.0001, 8);
  return metrics.registry.metrics();
}

/** Names iro owns or inherits from prom-client's defaults, as queries spell them. */
const METRIC_TOKEN = /\b((?:iro|process|nodejs)_[a-zA-Z0-9_]+)/g;

/** Every iro_/process_/nodejs_ metric name used in the PromQL expressions of `texts`. */
export function metricNamesInQueries(texts: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(METRIC_TOKEN)) names.add(m[1]!);
  return names;
}

interface DashboardPanel {
  readonly title?: string;
  readonly type?: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly { readonly expr?: string; readonly datasource?: { readonly uid?: string } }[];
  readonly panels?: readonly DashboardPanel[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly DashboardPanel[];
  readonly templating?: { readonly list?: readonly { readonly query?: string | { readonly query?: string }; readonly datasource?: { readonly uid?: string } }[] };
}

export function readDashboard(path: string): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** All panels, rows' children included. */
export function allPanels(d: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const walk = (ps: readonly DashboardPanel[]): void => {
    for (const p of ps) {
      out.push(p);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/** Every PromQL text of the dashboard: panel targets and template variable queries. */
export function dashboardQueries(d: Dashboard): string[] {
  const queries = allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
  for (const v of d.templating?.list ?? []) {
    if (typeof v.query === 'string') queries.push(v.query);
    else if (v.query?.query !== undefined) queries.push(v.query.query);
  }
  return queries.filter((q) => q !== '');
}

/** The `expr:` values of a Prometheus rule file (each on one line, as alerts.yml writes them). */
export function ruleExpressions(yaml: string): string[] {
  return [...yaml.matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) => m[1]!);
}

/** The shipped dashboard's and alert rules' metric names that `exposition` lacks. */
export function missingFromExposition(exposition: string, repoRoot: string): { dashboard: string[]; rules: string[]; used: number } {
  const exported = metricNamesFromExposition(exposition);
  const dashboard = metricNamesInQueries(dashboardQueries(readDashboard(join(repoRoot, 'deploy', 'grafana', 'iro.json'))));
  const rules = metricNamesInQueries(ruleExpressions(readFileSync(join(repoRoot, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')));
  return {
    dashboard: [...dashboard].filter((n) => !exported.has(n)),
    rules: [...rules].filter((n) => !exported.has(n)),
    used: dashboard.size + rules.size,
  };
}
