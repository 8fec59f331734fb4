// Map utilities shared by signal extraction, evaluation and reports (no model code here).

/** Rescales a map to [0, 1] (a flat map becomes all ones). */
export function minMax(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const out = new Float32Array(v.length);
  const span = hi - lo;
  for (let i = 0; i < v.length; i++) out[i] = span > 0 ? (v[i] - lo) / span : 1;
  return out;
}

/** softmax(v / tau). */
export function softmaxTemp(v: Float32Array, tau: number): Float32Array {
  let hi = -Infinity;
  for (const x of v) hi = Math.max(hi, x);
  const out = new Float32Array(v.length);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += out[i] = Math.exp((v[i] - hi) / tau);
  for (let i = 0; i < v.length; i++) out[i] /= s;
  return out;
}

/** The k largest entries' indices, ties broken by the lower index. */
export function topkIndices(p: ArrayLike<number>, k: number): number[] {
  return [...Array(p.length).keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
}

/** Fraction of a map's mass on a set of patches. */
export function massOn(p: ArrayLike<number>, patches: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  if (total <= 0) return 0;
  let on = 0;
  for (const i of patches) on += p[i] ?? 0;
  return on / total;
}

