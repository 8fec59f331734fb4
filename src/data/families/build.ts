import type { Rng } from "../../util/rng.js";
import { centre, makeObject, place, type CentreRange, type SceneContext, type SceneObject } from "../scene.js";
import { COLOURS, SHAPES, SIZES, type Colour, type Shape, type SizeClass } from "../vocab.js";
import type { Draft } from "./family.js";
import { BENCHMARK_SETTINGS } from "../settings.js";

// Scene building blocks the families share.

export function without<T>(all: readonly T[], ...exclude: T[]): T[] {
  return all.filter((x) => !exclude.includes(x));
}

/** Scenes never hold two objects of the same colour and shape, so "colour shape" names one object. */
export function freshKind(
  rng: Rng,
  objects: readonly SceneObject[],
  shapes: readonly Shape[],
  colours: readonly Colour[],
  size?: SizeClass,
  sizes: readonly SizeClass[] = SIZES,
): { shape: Shape; colour: Colour; size: SizeClass } | null {
  const options: [Shape, Colour][] = [];
  for (const s of shapes) for (const c of colours) if (!objects.some((o) => o.shape === s && o.colour === c)) options.push([s, c]);
  if (!options.length) return null;
  const [shape, colour] = rng.pick(options);
  return { shape, colour, size: size ?? rng.pick(sizes) };
}

/** Adds one object of a fresh kind, placed apart from the rest; its index, or -1. */
export function addObject(
  rng: Rng,
  ctx: SceneContext,
  objects: SceneObject[],
  shapes: readonly Shape[],
  colours: readonly Colour[],
  range: CentreRange = {},
  size?: SizeClass,
): number {
  const kind = freshKind(rng, objects, shapes, colours, size, (ctx.setting ?? BENCHMARK_SETTINGS.default).sizes);
  if (!kind) return -1;
  const o = makeObject(ctx, kind);
  if (!place(rng, ctx, o, objects, range)) return -1;
  objects.push(o);
  return objects.length - 1;
}

/** Distractors up to a random total in the setting's range (3..6 by default; at least `min`), never of the excluded shapes/colours. */
export function fill(
  rng: Rng,
  ctx: SceneContext,
  objects: SceneObject[],
  min: number,
  notShapes: readonly Shape[] = [],
  notColours: readonly Colour[] = [],
): void {
  const [fewest, most] = (ctx.setting ?? BENCHMARK_SETTINGS.default).objects;
  const total = Math.max(min, rng.int(fewest, most));
  const shapes = without(SHAPES, ...notShapes);
  const colours = without(COLOURS, ...notColours);
  for (let guard = 0; objects.length < total && guard < Math.max(12, 2 * total); guard++) addObject(rng, ctx, objects, shapes, colours);
}

/** Keeps an object's centre while its shape (and so its box) changes. */
export function recentre(rng: Rng, ctx: SceneContext, o: SceneObject, before: SceneObject, objects: SceneObject[]): boolean {
  const { cx, cy } = centre(before);
  return place(rng, ctx, o, objects, { cxMin: cx - 1, cxMax: cx + 1, cyMin: cy - 1, cyMax: cy + 1 });
}

/**
 * The flip of a "what color is ..." question: the target takes a colour no other object of its
 * shape has (nor the distractor), which becomes the answer.
 */
export function recolourTarget(rng: Rng, f: Draft): true {
  const { roles: r, objects } = f;
  const t = objects[r.target!];
  const avoid = [t.colour, ...(r.distractor !== undefined ? [objects[r.distractor].colour] : [])];
  const taken = objects.filter((o) => o !== t && o.shape === t.shape).map((o) => o.colour);
  t.colour = rng.pick(without(COLOURS, ...avoid, ...taken));
  f.answer = t.colour;
  return true;
}
