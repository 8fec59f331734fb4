import type { Rng } from "../util/rng.js";
import { compose, occludedPixels, overlapArea } from "./render.js";
import { assignDepths, centre, cloneObjects, makeObject, place, spatialMargin, type CentreRange, type SceneContext, type SceneObject } from "./scene.js";
import { CELL_WORDS, COLOURS, COUNT_WORDS, SHAPES, SHAPE_PLURALS, SIZES, YES_NO, type Colour, type Shape, type SizeClass } from "./vocab.js";

export const FAMILIES = ["attribute", "spatial", "depth", "counting", "multihop"] as const;
export type Family = (typeof FAMILIES)[number];

export const RELATIONS = ["left", "right", "above", "below"] as const;
export type Relation = (typeof RELATIONS)[number];
const RELATION_PHRASE: Record<Relation, string> = { left: "left of", right: "right of", above: "above", below: "below" };
export const OPPOSITE_RELATION: Record<Relation, Relation> = { left: "right", right: "left", above: "below", below: "above" };

/**
 * A question template. Its key names everything in the wording a language prior can latch
 * onto (the shape asked about, the relation, ...), so "the most frequent answer for this
 * template" is exactly what a model that never looks at the image can learn.
 */
export interface Template {
  key: string;
  family: Family;
  choices: readonly string[];
}

/** Object indices each role refers to; the rationale steps are derived from them. */
export interface Roles {
  target?: number;
  anchor?: number;
  a?: number;
  b?: number;
  counted?: number[];
  distractor?: number;
}

export interface Draft {
  template: Template;
  question: string;
  answer: string;
  objects: SceneObject[];
  roles: Roles;
}

export function objectName(o: Pick<SceneObject, "colour" | "shape">): string {
  return `${o.colour} ${o.shape}`;
}

/** "<colour> <shape> <column> <row>": an object named and located (see CELL_WORDS). */
export function locatedName(o: SceneObject, imageSize: number): string {
  const { cx, cy } = centre(o);
  const cell = (v: number) => CELL_WORDS[Math.min(CELL_WORDS.length - 1, Math.max(0, Math.floor((v * CELL_WORDS.length) / imageSize)))];
  return `${objectName(o)} ${cell(cx)} ${cell(cy)}`;
}

const TEMPLATES: Template[] = (() => {
  const t: Template[] = [];
  for (const s of SHAPES) t.push({ key: `attr_color/${s}`, family: "attribute", choices: COLOURS });
  for (const c of COLOURS) t.push({ key: `attr_shape/${c}`, family: "attribute", choices: SHAPES });
  for (const r of RELATIONS) t.push({ key: `spatial/${r}`, family: "spatial", choices: YES_NO });
  t.push({ key: "depth/front", family: "depth", choices: YES_NO });
  t.push({ key: "depth/behind", family: "depth", choices: YES_NO });
  for (const s of SHAPES) t.push({ key: `count/${s}`, family: "counting", choices: COUNT_WORDS });
  for (const r of ["left", "above"] as const) for (const s of SHAPES) t.push({ key: `multihop_color/${r}/${s}`, family: "multihop", choices: COLOURS });
  return t;
})();

export function allTemplates(): readonly Template[] {
  return TEMPLATES;
}

export function templateByKey(key: string): Template | undefined {
  return TEMPLATES.find((t) => t.key === key);
}

/** Every word a question, rationale or answer can contain (the tokenizer's vocabulary). */
export function grammarWords(): string[] {
  const words = [
    "what", "color", "is", "the", "shape", "object", "how", "many", "are", "there", "in", "front", "of", "behind", "?",
    "left", "right", "above", "below", "look", "answer", ";",
    ...SHAPES, ...Object.values(SHAPE_PLURALS), ...COLOURS, ...YES_NO, ...COUNT_WORDS,
    // Last, in the order they joined, so an older format's vocabulary is a prefix of this one.
    ...CELL_WORDS,
    "hidden",
  ];
  return [...new Set(words)];
}

/** FNV-1a, so a template's prior answer is a fixed property of its key, the same for every seed. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The answer the skewed `train` split favours for this template. */
export function priorAnswer(t: Template): string {
  return t.choices[fnv1a(t.key) % t.choices.length];
}

// ---------------------------------------------------------------------------------------
// Scene building blocks

/** Scenes never hold two objects of the same colour and shape, so "colour shape" names one object. */
function freshKind(rng: Rng, objects: readonly SceneObject[], shapes: readonly Shape[], colours: readonly Colour[], size?: SizeClass): { shape: Shape; colour: Colour; size: SizeClass } | null {
  const options: [Shape, Colour][] = [];
  for (const s of shapes) for (const c of colours) if (!objects.some((o) => o.shape === s && o.colour === c)) options.push([s, c]);
  if (!options.length) return null;
  const [shape, colour] = rng.pick(options);
  return { shape, colour, size: size ?? rng.pick(SIZES) };
}

function relationRange(rel: Relation, anchor: SceneObject, m: number): CentreRange {
  const { cx, cy } = centre(anchor);
  switch (rel) {
    case "left":
      return { cxMax: cx - m };
    case "right":
      return { cxMin: cx + m };
    case "above":
      return { cyMax: cy - m };
    case "below":
      return { cyMin: cy + m };
  }
}

export function relationHolds(rel: Relation, a: SceneObject, b: SceneObject, m: number): boolean {
  const ca = centre(a);
  const cb = centre(b);
  switch (rel) {
    case "left":
      return ca.cx <= cb.cx - m;
    case "right":
      return ca.cx >= cb.cx + m;
    case "above":
      return ca.cy <= cb.cy - m;
    case "below":
      return ca.cy >= cb.cy + m;
  }
}

function without<T>(all: readonly T[], ...exclude: T[]): T[] {
  return all.filter((x) => !exclude.includes(x));
}

/** Adds one object of a fresh kind, placed apart from the rest; its index, or -1. */
function addObject(rng: Rng, ctx: SceneContext, objects: SceneObject[], shapes: readonly Shape[], colours: readonly Colour[], range: CentreRange = {}, size?: SizeClass): number {
  const kind = freshKind(rng, objects, shapes, colours, size);
  if (!kind) return -1;
  const o = makeObject(ctx, kind);
  if (!place(rng, ctx, o, objects, range)) return -1;
  objects.push(o);
  return objects.length - 1;
}

/** Distractors up to a random total of 3..6 (at least `min`), never of the excluded shapes/colours. */
function fill(rng: Rng, ctx: SceneContext, objects: SceneObject[], min: number, notShapes: readonly Shape[] = [], notColours: readonly Colour[] = []): void {
  const total = Math.max(min, rng.int(3, 6));
  const shapes = without(SHAPES, ...notShapes);
  const colours = without(COLOURS, ...notColours);
  for (let guard = 0; objects.length < total && guard < 12; guard++) addObject(rng, ctx, objects, shapes, colours);
}

// ---------------------------------------------------------------------------------------
// Builders: each makes a scene whose true answer is `answer`, or returns null to retry.

type Builder = (rng: Rng, ctx: SceneContext, t: Template, answer: string) => Draft | null;

const buildAttrColour: Builder = (rng, ctx, t, answer) => {
  const shape = t.key.split("/")[1] as Shape;
  const objects: SceneObject[] = [];
  const target = addObject(rng, ctx, objects, [shape], [answer as Colour]);
  if (target < 0) return null;
  fill(rng, ctx, objects, 3, [shape]);
  return { template: t, question: `what color is the ${shape} ?`, answer, objects, roles: { target } };
};

const buildAttrShape: Builder = (rng, ctx, t, answer) => {
  const colour = t.key.split("/")[1] as Colour;
  const objects: SceneObject[] = [];
  const target = addObject(rng, ctx, objects, [answer as Shape], [colour]);
  if (target < 0) return null;
  fill(rng, ctx, objects, 3, [], [colour]);
  return { template: t, question: `what shape is the ${colour} object ?`, answer, objects, roles: { target } };
};

const buildSpatial: Builder = (rng, ctx, t, answer) => {
  const rel = t.key.split("/")[1] as Relation;
  const objects: SceneObject[] = [];
  const b = addObject(rng, ctx, objects, SHAPES, COLOURS);
  const wanted = answer === "yes" ? rel : OPPOSITE_RELATION[rel];
  const a = addObject(rng, ctx, objects, SHAPES, COLOURS, relationRange(wanted, objects[b], spatialMargin(ctx.size)));
  if (a < 0) return null;
  fill(rng, ctx, objects, 3);
  return { template: t, question: `is the ${objectName(objects[a])} ${RELATION_PHRASE[rel]} the ${objectName(objects[b])} ?`, answer, objects, roles: { a, b } };
};

const buildDepth: Builder = (rng, ctx, t, answer) => {
  const askFront = t.key === "depth/front";
  const objects: SceneObject[] = [];
  // Both large, so whichever is behind stays clearly visible around the occluder.
  const b = addObject(rng, ctx, objects, SHAPES, COLOURS, {}, "large");
  // Different colours: an occlusion between two objects of one colour is invisible.
  const kind = freshKind(rng, objects, SHAPES, without(COLOURS, objects[b].colour), "large");
  if (!kind) return null;
  const ao = makeObject(ctx, kind);
  if (!place(rng, ctx, ao, objects, {}, [objects[b]])) return null;
  objects.push(ao);
  const a = objects.length - 1;
  fill(rng, ctx, objects, 3);
  assignDepths(rng, objects);
  const aInFront = askFront === (answer === "yes");
  if (aInFront !== objects[a].depth < objects[b].depth) [objects[a].depth, objects[b].depth] = [objects[b].depth, objects[a].depth];
  const phrase = askFront ? "in front of" : "behind";
  return { template: t, question: `is the ${objectName(objects[a])} ${phrase} the ${objectName(objects[b])} ?`, answer, objects, roles: { a, b } };
};

const buildCount: Builder = (rng, ctx, t, answer) => {
  const shape = t.key.split("/")[1] as Shape;
  const n = COUNT_WORDS.indexOf(answer as (typeof COUNT_WORDS)[number]) + 1;
  const objects: SceneObject[] = [];
  const counted: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = addObject(rng, ctx, objects, [shape], COLOURS);
    if (k < 0) return null;
    counted.push(k);
  }
  fill(rng, ctx, objects, Math.min(6, n + 1), [shape]);
  return { template: t, question: `how many ${SHAPE_PLURALS[shape]} are there ?`, answer, objects, roles: { counted } };
};

const buildMultihop: Builder = (rng, ctx, t, answer) => {
  const [, rel, shape] = t.key.split("/") as [string, Relation, Shape];
  const m = spatialMargin(ctx.size);
  const objects: SceneObject[] = [];
  const anchor = addObject(rng, ctx, objects, without(SHAPES, shape), COLOURS);
  const target = addObject(rng, ctx, objects, [shape], [answer as Colour], relationRange(rel, objects[anchor], m));
  if (target < 0) return null;
  const roles: Roles = { anchor, target };
  // A same-shape distractor on the other side makes the relation, not the shape, decide.
  if (rng.next() < 0.75) {
    const d = addObject(rng, ctx, objects, [shape], without(COLOURS, answer as Colour), relationRange(OPPOSITE_RELATION[rel], objects[anchor], m));
    if (d >= 0) roles.distractor = d;
  }
  fill(rng, ctx, objects, 3, [shape]);
  return { template: t, question: `what color is the ${shape} ${RELATION_PHRASE[rel]} the ${objectName(objects[anchor])} ?`, answer, objects, roles };
};

const BUILDERS: Record<string, Builder> = {
  attr_color: buildAttrColour,
  attr_shape: buildAttrShape,
  spatial: buildSpatial,
  depth: buildDepth,
  count: buildCount,
  multihop_color: buildMultihop,
};

function kindOf(t: Template): string {
  return t.key.split("/")[0];
}

/**
 * Draws the object list in random order (so the index of an object says nothing about its
 * role) with random depths, keeping the roles pointing at the same objects.
 */
function shuffleObjects(rng: Rng, d: Draft): Draft {
  const order = rng.shuffle(d.objects.map((_, i) => i));
  const newIndex = new Map(order.map((old, i) => [old, i]));
  const at = (i?: number) => (i === undefined ? undefined : newIndex.get(i)!);
  const r = d.roles;
  const roles: Roles = { target: at(r.target), anchor: at(r.anchor), a: at(r.a), b: at(r.b), distractor: at(r.distractor), counted: r.counted?.map((i) => at(i)!) };
  for (const k of Object.keys(roles) as (keyof Roles)[]) if (roles[k] === undefined) delete roles[k];
  return { ...d, objects: order.map((i) => d.objects[i]), roles };
}

export function buildDraft(rng: Rng, ctx: SceneContext, t: Template, answer: string): Draft {
  const builder = BUILDERS[kindOf(t)];
  for (let attempt = 0; attempt < 200; attempt++) {
    const d = builder(rng, ctx, t, answer);
    if (!d) continue;
    if (t.family !== "depth") assignDepths(rng, d.objects);
    const shuffled = shuffleObjects(rng, d);
    if (checkDraft(shuffled, ctx)) return shuffled;
  }
  throw new Error(`could not build a scene for ${t.key} = ${answer} at size ${ctx.size}`);
}

/** Recomputes the answer from the objects alone: the generator's own consistency check. */
export function answerFromScene(d: Draft, ctx: SceneContext): string {
  const m = spatialMargin(ctx.size);
  const [kind, p1, p2] = d.template.key.split("/");
  const { roles: r, objects } = d;
  switch (kind) {
    case "attr_color": {
      const hits = objects.filter((o) => o.shape === p1);
      return hits.length === 1 ? hits[0].colour : "?";
    }
    case "attr_shape": {
      const hits = objects.filter((o) => o.colour === p1);
      return hits.length === 1 ? hits[0].shape : "?";
    }
    case "spatial": {
      const rel = p1 as Relation;
      const a = objects[r.a!];
      const b = objects[r.b!];
      return relationHolds(rel, a, b, m) ? "yes" : relationHolds(OPPOSITE_RELATION[rel], a, b, m) ? "no" : "?";
    }
    case "depth": {
      const aFront = objects[r.a!].depth < objects[r.b!].depth;
      return (p1 === "front") === aFront ? "yes" : "no";
    }
    case "count":
      return COUNT_WORDS[objects.filter((o) => o.shape === p1).length - 1] ?? "?";
    case "multihop_color": {
      const rel = p1 as Relation;
      const anchor = objects[r.anchor!];
      const same = objects.filter((o) => o.shape === p2 && o !== anchor);
      const hits = same.filter((o) => relationHolds(rel, o, anchor, m));
      // Every other object of that shape must be clearly on the other side.
      const clear = same.every((o) => hits.includes(o) || relationHolds(OPPOSITE_RELATION[rel], o, anchor, m));
      return hits.length === 1 && clear ? hits[0].colour : "?";
    }
  }
  return "?";
}

/** Minimum fraction of an object that must stay visible, for the objects a step looks at. */
const MIN_VISIBLE_STEP = 0.5;
/** For every object (counting needs them all): occlusion among "apart" objects is mild anyway. */
const MIN_VISIBLE_ANY = 0.35;

export function checkDraft(d: Draft, ctx: SceneContext): boolean {
  const n = d.objects.length;
  if (n < 2 || n > 6) return false;
  const names = new Set(d.objects.map(objectName));
  if (names.size !== n) return false;
  if (answerFromScene(d, ctx) !== d.answer) return false;
  const comp = compose(d.objects, ctx);
  for (let i = 0; i < n; i++) if (comp.visibleArea[i] < MIN_VISIBLE_ANY * comp.fullArea[i]) return false;
  for (const step of stepObjects(d)) for (const i of step) if (comp.visibleArea[i] < MIN_VISIBLE_STEP * comp.fullArea[i]) return false;
  if (d.template.family === "depth") {
    // The occlusion must be plain to see: a real overlap, hidden from the one behind.
    if (d.objects[d.roles.a!].colour === d.objects[d.roles.b!].colour) return false;
    const small = Math.min(comp.fullArea[d.roles.a!], comp.fullArea[d.roles.b!]);
    if (overlapArea(d.objects, d.roles.a!, d.roles.b!, ctx) < 0.1 * small) return false;
    // ... and seen where it happens: the rationale's last step looks there.
    const { front, back } = depthOrder(d);
    if (occludedPixels(comp, front, back).length < 0.05 * small) return false;
  }
  return true;
}

/** A depth question's two objects, nearer one first. */
export function depthOrder(d: Pick<Draft, "objects" | "roles">): { front: number; back: number } {
  const [a, b] = [d.roles.a!, d.roles.b!];
  return d.objects[a].depth < d.objects[b].depth ? { front: a, back: b } : { front: b, back: a };
}

/** The objects each rationale step looks at: T = 1..4 steps (spatial questions add a last step and depth questions two, see sample.ts). */
export function stepObjects(d: Draft): number[][] {
  const r = d.roles;
  switch (kindOf(d.template)) {
    case "attr_color":
    case "attr_shape":
      return [[r.target!]];
    case "spatial":
    case "depth":
      return [[r.a!], [r.b!]];
    case "count":
      // Reading order (left to right), so the rationale is a deterministic function of the image.
      return [...r.counted!].sort((x, y) => centre(d.objects[x]).cx - centre(d.objects[y]).cx || centre(d.objects[x]).cy - centre(d.objects[y]).cy).map((i) => [i]);
    case "multihop_color":
      return [[r.anchor!], [r.target!]];
  }
  throw new Error(`unknown template ${d.template.key}`);
}

// ---------------------------------------------------------------------------------------
// Minimal pairs: change one object so that the answer to the same question flips.

function cloneDraft(d: Draft): Draft {
  return { ...d, objects: cloneObjects(d.objects), roles: { ...d.roles, counted: d.roles.counted ? [...d.roles.counted] : undefined } };
}

/** Keeps an object's centre while its shape (and so its box) changes. */
function recentre(rng: Rng, ctx: SceneContext, o: SceneObject, before: SceneObject, objects: SceneObject[]): boolean {
  const { cx, cy } = centre(before);
  return place(rng, ctx, o, objects, { cxMin: cx - 1, cxMax: cx + 1, cyMin: cy - 1, cyMax: cy + 1 });
}

/**
 * The partner of a minimal pair: the same question, one object changed (its colour, shape,
 * position or depth; or one counted object added or removed), and a different answer.
 */
export function flipDraft(rng: Rng, ctx: SceneContext, d: Draft): Draft | null {
  const [kind, p1] = d.template.key.split("/");
  for (let attempt = 0; attempt < 60; attempt++) {
    const f = cloneDraft(d);
    const r = f.roles;
    const objs = f.objects;
    switch (kind) {
      case "attr_color":
      case "multihop_color": {
        const t = objs[r.target!];
        const avoid = [t.colour, ...(r.distractor !== undefined ? [objs[r.distractor].colour] : [])];
        const taken = objs.filter((o) => o !== t && o.shape === t.shape).map((o) => o.colour);
        t.colour = rng.pick(without(COLOURS, ...avoid, ...taken));
        f.answer = t.colour;
        break;
      }
      case "attr_shape": {
        const t = objs[r.target!];
        const taken = objs.filter((o) => o !== t && o.colour === t.colour).map((o) => o.shape);
        const replaced = makeObject(ctx, { shape: rng.pick(without(SHAPES, t.shape, ...taken)), colour: t.colour, size: t.size });
        replaced.depth = t.depth;
        objs[r.target!] = replaced;
        if (!recentre(rng, ctx, replaced, t, objs)) continue;
        f.answer = replaced.shape;
        break;
      }
      case "spatial": {
        const rel = p1 as Relation;
        const wanted = d.answer === "yes" ? OPPOSITE_RELATION[rel] : rel;
        if (!place(rng, ctx, objs[r.a!], objs, relationRange(wanted, objs[r.b!], spatialMargin(ctx.size)))) continue;
        f.answer = d.answer === "yes" ? "no" : "yes";
        break;
      }
      case "depth": {
        // Odd depth slots are free: only a's depth changes, to just behind or just in front of b.
        const a = objs[r.a!];
        const b = objs[r.b!];
        a.depth = a.depth < b.depth ? b.depth + 1 : b.depth - 1;
        f.answer = d.answer === "yes" ? "no" : "yes";
        break;
      }
      case "count": {
        const shape = p1 as Shape;
        const n = r.counted!.length;
        const add = n === 1 || (n < COUNT_WORDS.length && objs.length < 6 && (objs.length <= 3 || rng.next() < 0.5));
        if (add) {
          const k = addObject(rng, ctx, objs, [shape], COLOURS);
          if (k < 0) continue;
          objs[k].depth = 2 * objs.length + 1;
          r.counted = [...r.counted!, k];
        } else {
          const victim = rng.pick(r.counted!);
          objs.splice(victim, 1);
          r.counted = r.counted!.filter((i) => i !== victim).map((i) => (i > victim ? i - 1 : i));
          for (const key of ["target", "anchor", "a", "b", "distractor"] as const) {
            const v = r[key];
            if (v !== undefined && v > victim) r[key] = v - 1;
          }
        }
        f.answer = COUNT_WORDS[r.counted!.length - 1];
        break;
      }
    }
    if (!r.counted) delete r.counted;
    if (f.answer !== d.answer && checkDraft(f, ctx)) return f;
  }
  return null;
}
