import { SIZES, type SizeClass } from "./vocab.js";

/**
 * Named settings of the built-in benchmark: what makes finding the evidence harder for a
 * student that learns from answers alone. `default` is the benchmark as it always was (its
 * random draws are unchanged, so its datasets are byte for byte those of earlier lavits).
 */
export interface BenchmarkSetting {
  /** How many objects a scene holds: distractors are added up to a random total in [min, max]. */
  objects: readonly [number, number];
  /** The size classes a distractor (and any object whose size a family leaves open) is drawn from. */
  sizes: readonly SizeClass[];
}

export const BENCHMARK_SETTINGS = {
  default: { objects: [3, 6], sizes: SIZES },
  /** Crowded scenes of small objects: more distractors to look past, less of each to see. */
  hard: { objects: [5, 8], sizes: ["small"] },
} as const satisfies Record<string, BenchmarkSetting>;

export type SettingName = keyof typeof BENCHMARK_SETTINGS;
export const SETTING_NAMES = Object.keys(BENCHMARK_SETTINGS) as SettingName[];
