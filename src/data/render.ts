import type { SceneContext, SceneObject } from "./scene.js";
import { BACKGROUND_RGB, COLOUR_RGB } from "./vocab.js";

/**
 * The composed scene: which object owns each pixel after occlusion (painter's algorithm,
 * farthest first), and per-object pixel counts. Everything visible about an object (its
 * mask, its patch coverage) is read from `owner`, so ground truth matches the PNG exactly.
 */
export interface Composition {
  size: number;
  /** Per pixel, index of the visible object, or -1 for background. */
  owner: Int16Array;
  /** Unoccluded mask area of each object, in pixels (clipped to the image). */
  fullArea: number[];
  /** Visible pixels of each object. */
  visibleArea: number[];
  /** Per pixel, the object directly beneath the visible one (what it occludes there), or -1. */
  under: Int16Array;
}

export function paintOrder(objects: readonly SceneObject[]): number[] {
  // Ties cannot occur (depths are distinct), but index keeps the order total anyway.
  return objects.map((_, i) => i).sort((a, b) => objects[b].depth - objects[a].depth || a - b);
}

export function compose(objects: readonly SceneObject[], ctx: SceneContext): Composition {
  const S = ctx.size;
  const owner = new Int16Array(S * S).fill(-1);
  const under = new Int16Array(S * S).fill(-1);
  const fullArea = new Array<number>(objects.length).fill(0);
  for (const i of paintOrder(objects)) {
    const o = objects[i];
    const { mask } = ctx.masks.get(o.shape, o.size);
    let area = 0;
    for (let y = 0; y < o.h; y++) {
      const py = o.y0 + y;
      if (py < 0 || py >= S) continue;
      for (let x = 0; x < o.w; x++) {
        const px = o.x0 + x;
        if (px < 0 || px >= S || !mask[y * o.w + x]) continue;
        under[py * S + px] = owner[py * S + px];
        owner[py * S + px] = i;
        area++;
      }
    }
    fullArea[i] = area;
  }
  const visibleArea = new Array<number>(objects.length).fill(0);
  for (let p = 0; p < owner.length; p++) if (owner[p] >= 0) visibleArea[owner[p]]++;
  return { size: S, owner, fullArea, visibleArea, under };
}

/** Pixels where both objects' unoccluded masks overlap (for depth questions). */
export function overlapArea(objects: readonly SceneObject[], i: number, j: number, ctx: SceneContext): number {
  const a = objects[i];
  const b = objects[j];
  const x0 = Math.max(a.x0, b.x0);
  const x1 = Math.min(a.x0 + a.w, b.x0 + b.w);
  const y0 = Math.max(a.y0, b.y0);
  const y1 = Math.min(a.y0 + a.h, b.y0 + b.h);
  if (x0 >= x1 || y0 >= y1) return 0;
  const ma = ctx.masks.get(a.shape, a.size).mask;
  const mb = ctx.masks.get(b.shape, b.size).mask;
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (ma[(y - a.y0) * a.w + (x - a.x0)] && mb[(y - b.y0) * b.w + (x - b.x0)]) n++;
  return n;
}

/** The patch (row * grid + col) that a pixel (row-major index) falls in. */
function patchOfPixel(pixel: number, size: number, patch: number): number {
  return Math.floor(Math.floor(pixel / size) / patch) * (size / patch) + Math.floor((pixel % size) / patch);
}

/** Fraction of each patch covered by each object's visible pixels (patch index = row * grid + col). */
export function patchCoverage(comp: Composition, nObjects: number, patch: number): Map<number, number>[] {
  const S = comp.size;
  const counts: Map<number, number>[] = Array.from({ length: nObjects }, () => new Map<number, number>());
  for (let pixel = 0; pixel < S * S; pixel++) {
    const o = comp.owner[pixel];
    if (o < 0) continue;
    const p = patchOfPixel(pixel, S, patch);
    counts[o].set(p, (counts[o].get(p) ?? 0) + 1);
  }
  const area = patch * patch;
  return counts.map((m) => {
    const out = new Map<number, number>();
    for (const p of [...m.keys()].sort((a, b) => a - b)) out.set(p, m.get(p)! / area);
    return out;
  });
}

/** Pixels (row-major indices) where `front` is visible over `back`. */
export function occludedPixels(comp: Composition, front: number, back: number): number[] {
  const out: number[] = [];
  for (let pixel = 0; pixel < comp.size * comp.size; pixel++) if (comp.owner[pixel] === front && comp.under[pixel] === back) out.push(pixel);
  return out;
}

/** Per patch, the fraction of it where `front` is visible over `back` (what a depth question's last step looks at). */
export function occlusionCoverage(comp: Composition, front: number, back: number, patch: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pixel of occludedPixels(comp, front, back)) {
    const cell = patchOfPixel(pixel, comp.size, patch);
    out.set(cell, (out.get(cell) ?? 0) + 1 / (patch * patch));
  }
  return out;
}

/** Amplitude of the uniform per-pixel brightness noise (mild: colours stay unambiguous). */
const NOISE = 10;

/**
 * RGB bytes (row-major, 3 per pixel). Noise comes from a tiny xorshift seeded per image, not
 * from the main Rng: it is drawn 4096+ times per image, and the two members of a minimal pair
 * share it so their images differ only where the changed object is.
 */
export function paint(objects: readonly SceneObject[], comp: Composition, noiseSeed: number): Uint8Array {
  const S = comp.size;
  const rgb = new Uint8Array(S * S * 3);
  let state = noiseSeed | 0 || 0x9e3779b9;
  for (let p = 0; p < S * S; p++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const n = ((state >>> 0) % (2 * NOISE + 1)) - NOISE;
    const o = comp.owner[p];
    const base = o >= 0 ? COLOUR_RGB[objects[o].colour] : BACKGROUND_RGB;
    for (let c = 0; c < 3; c++) {
      const v = base[c] + n;
      rgb[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return rgb;
}
