/**
 * Heatmap panels: the image enlarged, a patch-level map blended over it in a warm colour
 * ramp, and optionally the ground-truth patches outlined. Panels are tiled into one PNG.
 */
import { enlarge, outlinePatches } from "../util/raster.js";

export interface Panel {
  rgb: Uint8Array;
  size: number;
}

export function ramp(v: number): [number, number, number] {
  // black-red-yellow-white ("hot"), readable over the grey background
  const x = Math.max(0, Math.min(1, v));
  return [Math.min(255, 765 * x), Math.max(0, Math.min(255, 765 * x - 255)), Math.max(0, Math.min(255, 765 * x - 510))];
}

export function heatmapPanel(
  image: Uint8Array,
  size: number,
  grid: number,
  map: ArrayLike<number> | null,
  outline: readonly number[] = [],
  scale = 4,
  alpha = 0.6,
): Panel {
  const out = size * scale;
  const rgb = enlarge(image, size, scale);
  if (map) {
    // Min-max for display: averaged attention is often nearly flat, and its shape is the point.
    let hi = -Infinity;
    let lo = Infinity;
    for (let i = 0; i < map.length; i++) {
      hi = Math.max(hi, map[i]);
      lo = Math.min(lo, map[i]);
    }
    const cell = out / grid;
    for (let y = 0; y < out; y++)
      for (let x = 0; x < out; x++) {
        const heat = ramp(hi > lo ? (map[Math.floor(y / cell) * grid + Math.floor(x / cell)] - lo) / (hi - lo) : 0);
        const d = (y * out + x) * 3;
        for (let k = 0; k < 3; k++) rgb[d + k] = rgb[d + k] * (1 - alpha) + heat[k] * alpha;
      }
  }
  outlinePatches(rgb, out, grid, outline, [0, 255, 255]);
  return { rgb, size: out };
}

/** Tiles equally sized panels in rows of `columns`, with a white gap. */
export function tile(panels: readonly Panel[], columns: number, gap = 4): { rgb: Uint8Array; width: number; height: number } {
  const s = panels[0].size;
  const cols = Math.min(columns, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const width = cols * s + (cols - 1) * gap;
  const height = rows * s + (rows - 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  panels.forEach((p, i) => {
    const ox = (i % cols) * (s + gap);
    const oy = Math.floor(i / cols) * (s + gap);
    for (let y = 0; y < s; y++) rgb.set(p.rgb.subarray(y * s * 3, (y + 1) * s * 3), ((oy + y) * width + ox) * 3);
  });
  return { rgb, width, height };
}
