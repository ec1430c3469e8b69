/**
 * Reading counters straight from a Prometheus text exposition (iro's /metrics), for values the
 * harness needs from both namespaces while the private Prometheus scrapes only one: the drop
 * counters of each side (`iro_dropped_packets_total{direction,reason}`).
 */

export interface ExposedSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of metric `name` in `text` (text format 0.0.4; comments and other metrics skipped). */
export function samplesOf(text: string, name: string): ExposedSample[] {
  const out: ExposedSample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labelText = '';
    let valueText: string;
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      if (close < 0) continue;
      labelText = rest.slice(1, close);
      valueText = rest.slice(close + 1);
    } else if (rest.startsWith(' ')) {
      valueText = rest;
    } else {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const m of labelText.matchAll(LABEL)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(valueText.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) out.push({ labels, value });
  }
  return out;
}
