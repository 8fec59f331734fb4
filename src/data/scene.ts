import type { Rng } from "../util/rng.js";
import type { MaskCache } from "./shapes.js";
import type { BenchmarkSetting } from "./settings.js";
import { CELL_WORDS, type Colour, type Shape, type SizeClass } from "./vocab.js";

/**
 * One object of a scene. `depth` is a distance rank: smaller is nearer the viewer and is
 * painted later, so it occludes larger depths. Depths are distinct even integers when a scene
 * is built, which leaves odd slots free so a minimal pair can move one object in front of or
 * behind another without renumbering the rest.
 */
export interface SceneObject {
  shape: Shape;
  colour: Colour;
  size: SizeClass;
  /** Top-left corner of the bounding box, in pixels (integers). */
  x0: number;
  y0: number;
  w: number;
  h: number;
  depth: number;
}

export interface SceneContext {
  size: number;
  patch: number;
  masks: MaskCache;
  /** Absent: the default setting. */
  setting?: BenchmarkSetting;
}

export function centre(o: SceneObject): { cx: number; cy: number } {
  return { cx: o.x0 + o.w / 2, cy: o.y0 + o.h / 2 };
}

/**
 * Minimum centre offset for "left of" / "above" to count; smaller offsets are ambiguous. One
 * cell of the rationale's place grid, so two objects a spatial question compares are always
 * in different columns (rows), and their places decide the answer.
 */
export function spatialMargin(size: number): number {
  return size / CELL_WORDS.length;
}

export function makeObject(ctx: SceneContext, kind: { shape: Shape; colour: Colour; size: SizeClass }): SceneObject {
  const { g } = ctx.masks.get(kind.shape, kind.size);
  return { ...kind, x0: 0, y0: 0, w: g.w, h: g.h, depth: 0 };
}

/** Region (in centre coordinates) an object's centre must fall into. */
export interface CentreRange {
  cxMin?: number;
  cxMax?: number;
  cyMin?: number;
  cyMax?: number;
}

function radius(o: SceneObject): number {
  return Math.max(o.w, o.h) / 2;
}

/** Distance rule between two placed objects: apart (mild overlap at most) or clearly overlapping. */
export type Proximity = "apart" | "overlap";

function proximityOk(a: SceneObject, b: SceneObject, rule: Proximity): boolean {
  const ca = centre(a);
  const cb = centre(b);
  const d = Math.hypot(ca.cx - cb.cx, ca.cy - cb.cy);
  const rr = radius(a) + radius(b);
  return rule === "apart" ? d >= 0.85 * rr : d >= 0.4 * rr && d <= 0.72 * rr;
}

/**
 * Places `o` (mutating x0/y0) at a random spot inside the image and the centre range, apart
 * from every already placed object except those listed in `overlapWith`, which it must
 * overlap. Returns false when no spot was found in a bounded number of tries.
 */
export function place(
  rng: Rng,
  ctx: SceneContext,
  o: SceneObject,
  placed: readonly SceneObject[],
  range: CentreRange = {},
  overlapWith: readonly SceneObject[] = [],
): boolean {
  const S = ctx.size;
  let xLo = 1;
  let xHi = S - 1 - o.w;
  let yLo = 1;
  let yHi = S - 1 - o.h;
  if (range.cxMin !== undefined) xLo = Math.max(xLo, Math.ceil(range.cxMin - o.w / 2));
  if (range.cxMax !== undefined) xHi = Math.min(xHi, Math.floor(range.cxMax - o.w / 2));
  if (range.cyMin !== undefined) yLo = Math.max(yLo, Math.ceil(range.cyMin - o.h / 2));
  if (range.cyMax !== undefined) yHi = Math.min(yHi, Math.floor(range.cyMax - o.h / 2));
  if (xLo > xHi || yLo > yHi) return false;
  for (let attempt = 0; attempt < 40; attempt++) {
    o.x0 = rng.int(xLo, xHi);
    o.y0 = rng.int(yLo, yHi);
    let ok = true;
    for (const p of placed) {
      if (p === o) continue;
      if (!proximityOk(o, p, overlapWith.includes(p) ? "overlap" : "apart")) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** Distinct even depths in random order (see SceneObject.depth). */
export function assignDepths(rng: Rng, objects: SceneObject[]): void {
  const ranks = rng.shuffle(objects.map((_, i) => i));
  objects.forEach((o, i) => (o.depth = 2 * ranks[i]));
}

export function cloneObjects(objects: readonly SceneObject[]): SceneObject[] {
  return objects.map((o) => ({ ...o }));
}
