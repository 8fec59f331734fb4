/** Small RGB raster helpers shared by `data show` and the report's heatmaps. */

export type Rgb = readonly [number, number, number];

/** Nearest-neighbour enlargement of a square RGB image. */
export function enlarge(rgb: Uint8Array, size: number, scale: number): Uint8Array {
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
  return img;
}

/**
 * Outlines the region a set of grid patches covers on a square image `width` pixels wide:
 * only its outer boundary (edges shared by two patches of the set are skipped), `thickness`
 * pixels wide, `inset` pixels inside the patch border.
 */
export function outlinePatches(img: Uint8Array, width: number, grid: number, patches: readonly number[], colour: Rgb, inset = 0, thickness = 2): void {
  const set = new Set(patches);
  const cell = width / grid;
  for (const p of set) {
    const r = Math.floor(p / grid);
    const c = p % grid;
    const top = r === 0 || !set.has(p - grid);
    const bottom = r === grid - 1 || !set.has(p + grid);
    const left = c === 0 || !set.has(p - 1);
    const right = c === grid - 1 || !set.has(p + 1);
    const x0 = c * cell;
    const y0 = r * cell;
    for (let k = 0; k < cell; k++)
      for (let w = 0; w < thickness; w++) {
        if (top) setPixel(img, width, x0 + k, y0 + inset + w, colour);
        if (bottom) setPixel(img, width, x0 + k, y0 + cell - 1 - inset - w, colour);
        if (left) setPixel(img, width, x0 + inset + w, y0 + k, colour);
        if (right) setPixel(img, width, x0 + cell - 1 - inset - w, y0 + k, colour);
      }
  }
}

function setPixel(img: Uint8Array, width: number, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= width || y >= width) return;
  const i = (y * width + x) * 3;
  img[i] = c[0];
  img[i + 1] = c[1];
  img[i + 2] = c[2];
}
