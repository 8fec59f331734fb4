/**
 * Heatmap panels: the image enlarged, a patch-level map blended over it in a warm colour
 * ramp, and optionally the ground-truth patches outlined. Panels are tiled into one PNG.
 */
export interface Panel {
  rgb: Uint8Array;
  size: number;
}

function ramp(v: number): [number, number, number] {
  // black-red-yellow-white ("hot"), readable over the grey background
  const x = Math.max(0, Math.min(1, v));
  return [Math.min(255, 765 * x), Math.max(0, Math.min(255, 765 * x - 255)), Math.max(0, Math.min(255, 765 * x - 510))];
}

export function heatmapPanel(image: Uint8Array, size: number, grid: number, map: ArrayLike<number> | null, outline: readonly number[] = [], scale = 4, alpha = 0.6): Panel {
  const out = size * scale;
  const rgb = new Uint8Array(out * out * 3);
  // Min-max for display: averaged attention is often nearly flat, and its shape is the point.
  let hi = -Infinity;
  let lo = Infinity;
  if (map) for (let i = 0; i < map.length; i++) (hi = Math.max(hi, map[i])), (lo = Math.min(lo, map[i]));
  const cell = out / grid;
  const gt = new Set(outline);
  for (let y = 0; y < out; y++)
    for (let x = 0; x < out; x++) {
      const s = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 3;
      const d = (y * out + x) * 3;
      const pr = Math.floor(y / cell);
      const pc = Math.floor(x / cell);
      const p = pr * grid + pc;
      let r = image[s];
      let g = image[s + 1];
      let b = image[s + 2];
      if (map) {
        const [hr, hg, hb] = ramp(hi > lo ? (map[p] - lo) / (hi - lo) : 0);
        r = r * (1 - alpha) + hr * alpha;
        g = g * (1 - alpha) + hg * alpha;
        b = b * (1 - alpha) + hb * alpha;
      }
      if (gt.has(p)) {
        const lx = x - pc * cell;
        const ly = y - pr * cell;
        const edge =
          (ly < 2 && !gt.has(p - grid)) || (ly >= cell - 2 && !gt.has(p + grid)) || (lx < 2 && (pc === 0 || !gt.has(p - 1))) || (lx >= cell - 2 && (pc === grid - 1 || !gt.has(p + 1)));
        if (edge) [r, g, b] = [0, 255, 255];
      }
      rgb[d] = r;
      rgb[d + 1] = g;
      rgb[d + 2] = b;
    }
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
