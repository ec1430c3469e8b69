/**
 * Order statistics for repeated measurements: the median and spread (min, max, quartiles) across
 * repetitions, and percentiles of RTT samples. Quantiles interpolate linearly between order
 * statistics (type 7 of Hyndman & Fan, what numpy and R use by default).
 */

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** First and third quartiles. */
  readonly q1: number;
  readonly q3: number;
}

/** The q-quantile (0..1) of `values`; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Median and spread of the finite values among `values`; null when there are none. */
export function summarize(values: readonly (number | null | undefined)[]): Summary | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return null;
  return {
    n: v.length,
    median: quantile(v, 0.5),
    min: Math.min(...v),
    max: Math.max(...v),
    q1: quantile(v, 0.25),
    q3: quantile(v, 0.75),
  };
}
