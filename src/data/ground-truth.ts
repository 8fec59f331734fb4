/** A patch counts as ground truth for a step when the step's object covers this much of it. */
export const GT_MIN_COVERAGE = 1 / 8;

/**
 * The ground-truth patches of a per-patch coverage map (patch -> fraction covered): those
 * covered at least GT_MIN_COVERAGE. Something too small to cover that much of any patch still
 * gets its best patch.
 */
export function groundTruthPatches(coverage: Map<number, number>): number[] {
  const enough = [...coverage].filter(([, c]) => c >= GT_MIN_COVERAGE).map(([p]) => p);
  if (enough.length || !coverage.size) return enough;
  return [[...coverage].reduce((best, e) => (e[1] > best[1] ? e : best))[0]];
}
