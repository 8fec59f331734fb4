import type { Sample } from "./manifest.js";

/** Outline colours for rationale steps 1..4 (then repeating): white, black, orange, magenta. */
const STEP_COLOURS: readonly (readonly [number, number, number])[] = [
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
  const img = new Uint8Array(out * out * 3);
  for (let y = 0; y < out; y++)
    for (let x = 0; x < out; x++) {
      const src = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 3;
      const dst = (y * out + x) * 3;
      img[dst] = rgb[src];
      img[dst + 1] = rgb[src + 1];
      img[dst + 2] = rgb[src + 2];
    }
  const grid = size / patch;
  const cell = patch * scale;
  sample.rationale.forEach((step, t) => {
    const colour = STEP_COLOURS[t % STEP_COLOURS.length];
    const inset = 1 + 2 * t;
    const set = new Set(step.patches);
    for (const p of step.patches) {
      const r = Math.floor(p / grid);
      const c = p % grid;
      // Only the outer boundary of the region: skip edges shared with another patch of the step.
      const edges = { top: !set.has(p - grid) || r === 0, bottom: !set.has(p + grid) || r === grid - 1, left: c === 0 || !set.has(p - 1), right: c === grid - 1 || !set.has(p + 1) };
      const x0 = c * cell;
      const y0 = r * cell;
      for (let k = 0; k < cell; k++)
        for (let w = 0; w < 2; w++) {
          if (edges.top) set3(img, out, x0 + k, y0 + inset + w, colour);
          if (edges.bottom) set3(img, out, x0 + k, y0 + cell - 1 - inset - w, colour);
          if (edges.left) set3(img, out, x0 + inset + w, y0 + k, colour);
          if (edges.right) set3(img, out, x0 + cell - 1 - inset - w, y0 + k, colour);
        }
    }
  });
  return { rgb: img, size: out };
}

function set3(img: Uint8Array, width: number, x: number, y: number, c: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= width || y >= width) return;
  const i = (y * width + x) * 3;
  img[i] = c[0];
  img[i + 1] = c[1];
  img[i + 2] = c[2];
}
