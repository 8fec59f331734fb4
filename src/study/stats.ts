/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function t95(df: number): number {
  if (df < 1) return NaN;
  if (df <= 30) return T95[df - 1];
  // Beyond the table the quantile moves by under 2%: 1.96 + 2.4/df is within 0.005 of it.
  return 1.96 + 2.4 / df;
}

export interface Interval {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); NaN with one value. */
  sd: number;
  /** 95% interval of the mean (t over n - 1 degrees of freedom); NaN bounds with one value. */
  lo: number;
  hi: number;
}

/** The mean with its 95% t-interval over independent values (seeds). */
export function interval(values: readonly number[]): Interval {
  const n = values.length;
  if (!n) return { n, mean: NaN, sd: NaN, lo: NaN, hi: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, sd: NaN, lo: NaN, hi: NaN };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = (t95(n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, lo: mean - half, hi: mean + half };
}

/** Whether an interval lies wholly on one side of zero. */
export function excludesZero(i: Interval): boolean {
  return i.n > 1 && (i.lo > 0 || i.hi < 0);
}
