import type { DecodedImage } from "../png.js";
import type { ImageTransform } from "../manifest.js";
import type { Box } from "./rows.js";

/** Grey, so padding reads as neither a dark nor a bright object. */
const PAD = 128;

/**
 * The transform that fits a width x height image into a size x size square, aspect kept: the
 * longer side fills the square, the shorter one is centred and padded.
 */
export function fitTransform(source: string, width: number, height: number, size: number): ImageTransform {
  const scale = size / Math.max(width, height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return { source, width, height, scale, dx: Math.floor((size - w) / 2), dy: Math.floor((size - h) / 2) };
}

/**
 * The image resampled into the square: each output pixel is the mean of the source pixels it
 * covers (a box filter, so a large photo shrinks without aliasing), padding around it.
 */
export function fitImage(img: DecodedImage, t: ImageTransform, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 3).fill(PAD);
  const w = Math.max(1, Math.round(img.width * t.scale));
  const h = Math.max(1, Math.round(img.height * t.scale));
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * img.height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * img.height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * img.width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * img.width) / w));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = y0; sy < y1; sy++)
        for (let sx = x0; sx < x1; sx++) {
          const s = (sy * img.width + sx) * 3;
          r += img.rgb[s];
          g += img.rgb[s + 1];
          b += img.rgb[s + 2];
        }
      const n = (y1 - y0) * (x1 - x0);
      const d = ((y + t.dy) * size + x + t.dx) * 3;
      out[d] = Math.round(r / n);
      out[d + 1] = Math.round(g / n);
      out[d + 2] = Math.round(b / n);
    }
  }
  return out;
}

/**
 * The patches (row-major on the size/patch grid) a box of the original image covers once
 * fitted: those it covers at least a quarter of, or, for a box smaller than that, the patch
 * holding its centre.
 */
export function boxPatches(box: Box, t: ImageTransform, size: number, patch: number): number[] {
  const grid = size / patch;
  const [x0, y0, x1, y1] = [box[0] * t.scale + t.dx, box[1] * t.scale + t.dy, box[2] * t.scale + t.dx, box[3] * t.scale + t.dy];
  const out: number[] = [];
  for (let r = 0; r < grid; r++)
    for (let c = 0; c < grid; c++) {
      const ox = Math.min(x1, (c + 1) * patch) - Math.max(x0, c * patch);
      const oy = Math.min(y1, (r + 1) * patch) - Math.max(y0, r * patch);
      if (ox > 0 && oy > 0 && ox * oy >= (patch * patch) / 4) out.push(r * grid + c);
    }
  if (out.length) return out;
  const clamp = (v: number) => Math.min(grid - 1, Math.max(0, Math.floor(v / patch)));
  return [clamp((y0 + y1) / 2) * grid + clamp((x0 + x1) / 2)];
}

/** The patches of several boxes, each once, sorted. */
export function boxesPatches(boxes: readonly Box[], t: ImageTransform, size: number, patch: number): number[] {
  return [...new Set(boxes.flatMap((b) => boxPatches(b, t, size, patch)))].sort((a, b) => a - b);
}

/**
 * A map over the fitted square's patches (grid x grid), resampled onto a rows x cols grid over
 * the original image: each cell takes the value of the patch its centre lands on once fitted.
 */
export function mapOverOriginal(map: ArrayLike<number>, grid: number, t: ImageTransform, size: number, out = { rows: 64, cols: 64 }): Float32Array {
  const m = new Float32Array(out.rows * out.cols);
  const patch = size / grid;
  for (let r = 0; r < out.rows; r++)
    for (let c = 0; c < out.cols; c++) {
      const x = ((c + 0.5) * t.width) / out.cols;
      const y = ((r + 0.5) * t.height) / out.rows;
      const pc = Math.min(grid - 1, Math.max(0, Math.floor((x * t.scale + t.dx) / patch)));
      const pr = Math.min(grid - 1, Math.max(0, Math.floor((y * t.scale + t.dy) / patch)));
      m[r * out.cols + c] = map[pr * grid + pc];
    }
  return m;
}
