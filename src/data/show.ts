import type { Sample } from "./manifest.js";
import { enlarge, outlinePatches, type Rgb } from "../util/raster.js";

/** Outline colours for rationale steps 1..4 (then repeating): white, black, orange, magenta. */
const STEP_COLOURS: readonly Rgb[] = [
  [255, 255, 255],
  [0, 0, 0],
  [255, 140, 0],
  [255, 0, 200],
];

/**
 * The sample's image enlarged `scale` times (nearest neighbour) with each rationale step's
 * ground-truth patches outlined in that step's colour, inset by the step number so the
 * outlines of steps sharing a patch stay distinguishable.
 */
export function renderGroundTruth(rgb: Uint8Array, size: number, patch: number, sample: Sample, scale = 8): { rgb: Uint8Array; size: number } {
  const out = size * scale;
  const img = enlarge(rgb, size, scale);
  sample.rationale.forEach((step, t) => outlinePatches(img, out, size / patch, step.patches, STEP_COLOURS[t % STEP_COLOURS.length], 1 + 2 * t));
  return { rgb: img, size: out };
}
