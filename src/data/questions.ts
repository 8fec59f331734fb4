import type { Rng } from "../util/rng.js";
import { fnv1a } from "../util/hash.js";
import { familyOf } from "./families/index.js";
import type { Draft, Roles, Template } from "./families/family.js";
import { objectName } from "./names.js";
import { compose } from "./render.js";
import { cloneObjects, type SceneContext } from "./scene.js";
import { CELL_WORDS, COLOURS, COUNT_WORDS, SHAPES, SHAPE_PLURALS, YES_NO } from "./vocab.js";

// The question generator: what every family shares (the draw, the checks, the minimal pair's
// retry loop); what differs per family lives in families/<family>.ts.

/** Every word a question, rationale or answer can contain (the tokenizer's vocabulary). */
export function grammarWords(): string[] {
  const words = [
    "what",
    "color",
    "is",
    "the",
    "shape",
    "object",
    "how",
    "many",
    "are",
    "there",
    "in",
    "front",
    "of",
    "behind",
    "?",
    "left",
    "right",
    "above",
    "below",
    "look",
    "answer",
    ";",
    ...SHAPES,
    ...Object.values(SHAPE_PLURALS),
    ...COLOURS,
    ...YES_NO,
    ...COUNT_WORDS,
    // Last, in the order they joined, so an older format's vocabulary is a prefix of this one.
    ...CELL_WORDS,
    "hidden",
  ];
  return [...new Set(words)];
}

/** The answer the skewed `train` split favours for this template: a fixed property of its key, the same for every seed. */
export function priorAnswer(t: Template): string {
  return t.choices[fnv1a(t.key) % t.choices.length];
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
  const roles: Roles = {
    target: at(r.target),
    anchor: at(r.anchor),
    a: at(r.a),
    b: at(r.b),
    distractor: at(r.distractor),
    counted: r.counted?.map((i) => at(i)!),
  };
  for (const k of Object.keys(roles) as (keyof Roles)[]) if (roles[k] === undefined) delete roles[k];
  return { ...d, objects: order.map((i) => d.objects[i]), roles };
}

/** A scene whose true answer to `t` is `answer`, checked; an Error when 200 tries found none. */
export function buildDraft(rng: Rng, ctx: SceneContext, t: Template, answer: string): Draft {
  const family = familyOf(t);
  for (let attempt = 0; attempt < 200; attempt++) {
    const d = family.build(rng, ctx, t, answer);
    if (!d) continue;
    const shuffled = shuffleObjects(rng, d);
    if (checkDraft(shuffled, ctx)) return shuffled;
  }
  throw new Error(`could not build a scene for ${t.key} = ${answer} at size ${ctx.size}`);
}

/** Recomputes the answer from the objects alone: the generator's own consistency check. */
export function answerFromScene(d: Draft, ctx: SceneContext): string {
  return familyOf(d.template).answer(d, ctx);
}

/** The objects each "look" rationale step looks at: 1..4 steps (spatial and depth questions add verdict steps, see sample.ts). */
export function stepObjects(d: Draft): number[][] {
  return familyOf(d.template).steps(d);
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
  return familyOf(d.template).check?.(d, comp, ctx) ?? true;
}

function cloneDraft(d: Draft): Draft {
  const roles: Roles = { ...d.roles };
  if (d.roles.counted) roles.counted = [...d.roles.counted];
  return { ...d, objects: cloneObjects(d.objects), roles };
}

/**
 * The partner of a minimal pair: the same question, one object changed (its colour, shape,
 * position or depth; or one counted object added or removed), and a different answer.
 */
export function flipDraft(rng: Rng, ctx: SceneContext, d: Draft): Draft | null {
  const family = familyOf(d.template);
  for (let attempt = 0; attempt < 60; attempt++) {
    const f = cloneDraft(d);
    if (!family.flip(rng, ctx, f, d)) continue;
    if (f.answer !== d.answer && checkDraft(f, ctx)) return f;
  }
  return null;
}
