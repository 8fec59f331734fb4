import type { Shape, SizeClass } from "./vocab.js";

/**
 * Shape geometry. Every shape lives in an integer-sized bounding box whose top-left corner is
 * on a pixel corner, and is rasterised by testing pixel centres. Sizes are chosen so that
 * axis-aligned edges fall on pixel boundaries and slanted edges never pass exactly through
 * a pixel centre (odd diamond diagonals), which keeps the pixel mask within a few percent of
 * the analytic area even for small objects.
 */
export interface Geometry {
  shape: Shape;
  w: number;
  h: number;
  /** Cross arm thickness (0 for other shapes). */
  t: number;
}

/** Reference extents at S = 64 (large ~ 20-24 px, small ~ 12-15 px: a patch or two at 8 px). */
const BASE: Record<Shape, Record<SizeClass, { w: number; h: number; t?: number }>> = {
  circle: { large: { w: 22, h: 22 }, small: { w: 13, h: 13 } },
  square: { large: { w: 19, h: 19 }, small: { w: 11, h: 11 } },
  triangle: { large: { w: 24, h: 21 }, small: { w: 15, h: 13 } },
  diamond: { large: { w: 25, h: 25 }, small: { w: 15, h: 15 } },
  cross: { large: { w: 21, h: 21, t: 7 }, small: { w: 13, h: 13, t: 5 } },
};

function scaled(v: number, imageSize: number): number {
  return Math.max(3, Math.round((v * imageSize) / 64));
}

export function geometry(shape: Shape, size: SizeClass, imageSize: number): Geometry {
  const b = BASE[shape][size];
  let w = scaled(b.w, imageSize);
  let h = scaled(b.h, imageSize);
  let t = 0;
  if (shape === "diamond" && w % 2 === 0) {
    // An even diagonal puts pixel centres exactly on the edges (area off by ~8%).
    w += 1;
    h = w;
  }
  if (shape === "cross") {
    t = scaled(b.t ?? 1, imageSize);
    // Same parity as the arm length so the bars' edges sit on pixel boundaries.
    if ((t - w) % 2 !== 0) t += 1;
    h = w;
  }
  return { shape, w, h, t };
}

/** Exact area of the ideal shape in pixel units. */
export function analyticArea(g: Geometry): number {
  switch (g.shape) {
    case "circle":
      return Math.PI * (g.w / 2) * (g.h / 2);
    case "square":
      return g.w * g.h;
    case "triangle":
      return (g.w * g.h) / 2;
    case "diamond":
      return (g.w * g.h) / 2;
    case "cross":
      return 2 * g.w * g.t - g.t * g.t;
  }
}

/** Whether the point (dx, dy), relative to the bounding-box centre, is inside the shape. */
function insideFn(g: Geometry): (dx: number, dy: number) => boolean {
  const hw = g.w / 2;
  const hh = g.h / 2;
  switch (g.shape) {
    case "circle": {
      const r2 = hw * hw;
      return (dx, dy) => dx * dx + dy * dy <= r2;
    }
    case "square":
      return (dx, dy) => Math.abs(dx) <= hw && Math.abs(dy) <= hh;
    case "triangle":
      // Apex at the top centre, base along the bottom edge.
      return (dx, dy) => {
        const fromTop = dy + hh;
        return fromTop >= 0 && fromTop <= g.h && Math.abs(dx) <= (hw * fromTop) / g.h;
      };
    case "diamond":
      return (dx, dy) => Math.abs(dx) / hw + Math.abs(dy) / hh <= 1;
    case "cross": {
      const ht = g.t / 2;
      return (dx, dy) => {
        const ax = Math.abs(dx);
        const ay = Math.abs(dy);
        return (ax <= hw && ay <= ht) || (ay <= hh && ax <= ht);
      };
    }
  }
}

/** The shape's pixel mask over its own bounding box (row-major, w*h). */
export function rasterize(g: Geometry): Uint8Array {
  const mask = new Uint8Array(g.w * g.h);
  const inside = insideFn(g);
  const hw = g.w / 2;
  const hh = g.h / 2;
  for (let y = 0; y < g.h; y++) {
    const dy = y + 0.5 - hh;
    for (let x = 0; x < g.w; x++) {
      if (inside(x + 0.5 - hw, dy)) mask[y * g.w + x] = 1;
    }
  }
  return mask;
}

/** Rasterising is pure in (shape, size, S), so masks are computed once per run. */
export class MaskCache {
  private readonly cache = new Map<string, { g: Geometry; mask: Uint8Array; area: number }>();
  constructor(readonly imageSize: number) {}

  get(shape: Shape, size: SizeClass): { g: Geometry; mask: Uint8Array; area: number } {
    const key = `${shape}/${size}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const g = geometry(shape, size, this.imageSize);
      const mask = rasterize(g);
      let area = 0;
      for (const v of mask) area += v;
      hit = { g, mask, area };
      this.cache.set(key, hit);
    }
    return hit;
  }
}
