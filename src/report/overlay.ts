/**
 * Heatmaps over images of any size: the image scaled (aspect kept) so its longer side is
 * `maxSide`, a rows x cols map blended over it, regions outlined. Panels of one sample share a
 * size and are tiled in a row.
 */
import type { DecodedImage } from "../data/png.js";
import type { Grid } from "../signals/maps.js";
import type { Box } from "../signals/regions.js";
import type { Rgb } from "../util/raster.js";
import { ramp } from "./heatmap.js";

export interface Raster {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface OverlayOptions {
  /** Patches (on the map's grid) to outline. */
  outline?: readonly number[];
  /** Boxes in the image's pixels to outline. */
  boxes?: readonly Box[];
  maxSide?: number;
  alpha?: number;
}

const OUTLINE: Rgb = [0, 255, 255];
const BOX: Rgb = [0, 255, 0];

export function overlayPanel(img: DecodedImage, map: ArrayLike<number> | null, grid: Grid, o: OverlayOptions = {}): Raster {
  const maxSide = o.maxSide ?? 256;
  const alpha = o.alpha ?? 0.6;
  const scale = maxSide / Math.max(img.width, img.height);
  const width = Math.max(1, Math.round(img.width * scale));
  const height = Math.max(1, Math.round(img.height * scale));
  const rgb = new Uint8Array(width * height * 3);
  let lo = Infinity;
  let hi = -Infinity;
  if (map) for (let i = 0; i < map.length; i++) [lo, hi] = [Math.min(lo, map[i]), Math.max(hi, map[i])];
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.floor((y * img.height) / height));
    const row = Math.min(grid.rows - 1, Math.floor((y * grid.rows) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.floor((x * img.width) / width));
      const s = (sy * img.width + sx) * 3;
      const d = (y * width + x) * 3;
      if (!map) {
        rgb.set(img.rgb.subarray(s, s + 3), d);
        continue;
      }
      // Min-max for display: averaged attention is often nearly flat, and its shape is the point.
      const v = map[row * grid.cols + Math.min(grid.cols - 1, Math.floor((x * grid.cols) / width))];
      const heat = ramp(hi > lo ? (v - lo) / (hi - lo) : 0);
      for (let k = 0; k < 3; k++) rgb[d + k] = img.rgb[s + k] * (1 - alpha) + heat[k] * alpha;
    }
  }
  const out = { rgb, width, height };
  if (o.outline?.length) outlineCells(out, grid, o.outline, OUTLINE);
  for (const [x1, y1, x2, y2] of o.boxes ?? []) rect(out, x1 * scale, y1 * scale, x2 * scale, y2 * scale, BOX);
  return out;
}

function setPixel(r: Raster, x: number, y: number, c: Rgb): void {
  x = Math.round(x);
  y = Math.round(y);
  if (x < 0 || y < 0 || x >= r.width || y >= r.height) return;
  r.rgb.set(c, (y * r.width + x) * 3);
}

function hline(r: Raster, x0: number, x1: number, y: number, c: Rgb, t = 2): void {
  for (let w = 0; w < t; w++) for (let x = Math.round(x0); x <= Math.round(x1); x++) setPixel(r, x, y + w, c);
}

function vline(r: Raster, x: number, y0: number, y1: number, c: Rgb, t = 2): void {
  for (let w = 0; w < t; w++) for (let y = Math.round(y0); y <= Math.round(y1); y++) setPixel(r, x + w, y, c);
}

function rect(r: Raster, x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
  hline(r, x0, x1 - 1, y0, c);
  hline(r, x0, x1 - 1, y1 - 2, c);
  vline(r, x0, y0, y1 - 1, c);
  vline(r, x1 - 2, y0, y1 - 1, c);
}

/** The outer boundary of a set of grid cells (edges shared by two cells of the set are skipped). */
function outlineCells(r: Raster, grid: Grid, cells: readonly number[], c: Rgb): void {
  const set = new Set(cells);
  const cw = r.width / grid.cols;
  const ch = r.height / grid.rows;
  for (const p of set) {
    const row = Math.floor(p / grid.cols);
    const col = p % grid.cols;
    const [x0, y0, x1, y1] = [col * cw, row * ch, (col + 1) * cw, (row + 1) * ch];
    if (row === 0 || !set.has(p - grid.cols)) hline(r, x0, x1 - 1, y0, c);
    if (row === grid.rows - 1 || !set.has(p + grid.cols)) hline(r, x0, x1 - 1, y1 - 2, c);
    if (col === 0 || !set.has(p - 1)) vline(r, x0, y0, y1 - 1, c);
    if (col === grid.cols - 1 || !set.has(p + 1)) vline(r, x1 - 2, y0, y1 - 1, c);
  }
}

/** Tiles equally sized rasters in rows of `columns`, with a white gap. */
export function tileRasters(panels: readonly Raster[], columns: number, gap = 4): Raster {
  const { width: w, height: h } = panels[0];
  const cols = Math.min(columns, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  panels.forEach((p, i) => {
    const ox = (i % cols) * (w + gap);
    const oy = Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) rgb.set(p.rgb.subarray(y * w * 3, (y + 1) * w * 3), ((oy + y) * width + ox) * 3);
  });
  return { rgb, width, height };
}
