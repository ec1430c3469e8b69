/**
 * Scrape-time series on prom-client 15: a counter that exposes running totals kept elsewhere, and
 * a gauge computed from a snapshot. Both rebuild their whole label set in `collect()`, which
 * prom-client calls synchronously at the start of each metric's `get()`, so a series the source
 * no longer reports (a peer removed from the config) disappears at the next scrape.
 *
 * Why `reset()` then `inc(total)` for counters: the dataplane owns the totals, and prom-client's
 * Counter has no `set()`. The alternatives are worse:
 * - incrementing by the difference from the previous scrape (what prom-client's own
 *   process_cpu_seconds_total does) keeps a shadow copy of every total, must remove series that
 *   vanish and restart those that come back from 0 (Counter.inc refuses a negative step);
 * - a hand-made object passed to `Registry.registerMetric()` relies on the registry's untyped
 *   duck-typed `get()` contract (the typings accept only the four metric classes, so it needs a
 *   cast) and on internals such as the OpenMetrics `_total` renaming of `metric.name`.
 * `reset()` and `inc()` are public API; after `reset()` the label set is empty, so `inc(labels,
 * total)` creates each series with exactly `total` (no float accumulation) and the exposition
 * TYPE stays `counter`. `collect()` runs synchronously before the values are read, so a
 * concurrent scrape never sees a half-built label set.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { IroError } from '../util/errors.js';

export type LabelSet<L extends string> = Record<L, string>;
/** Called with each series of the current scrape: its labels and its value. */
export type Emit<L extends string> = (labels: LabelSet<L>, value: number) => void;

export interface SeriesSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Emits every series of this scrape (the complete label set; anything not emitted is gone). */
  readonly fill: (emit: Emit<L>) => void;
}

function describe(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}

/**
 * A counter whose values are the totals `fill` emits at scrape time. A total that is negative or
 * not finite breaks the MetricsSource contract: the scrape fails with IroError 'ERR_STATE' naming
 * the series, rather than exposing a value that would corrupt rate().
 */
export function totalsCounter<L extends string>(registry: Registry, spec: SeriesSpec<L>): Counter<L> {
  return new Counter<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect(this: Counter<L>) {
      this.reset();
      spec.fill((labels, total) => {
        if (!(total >= 0 && total !== Infinity)) {
          throw new IroError('ERR_STATE', `metrics source gave ${describe(spec.name, labels)} = ${total}; counters need a finite total >= 0`);
        }
        this.inc(labels, total);
      });
    },
  });
}

/** A gauge whose values are those `fill` emits at scrape time. */
export function snapshotGauge<L extends string>(registry: Registry, spec: SeriesSpec<L>): Gauge<L> {
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect(this: Gauge<L>) {
      this.reset();
      spec.fill((labels, value) => this.set(labels, value));
    },
  });
}
