import { groundTruthPatches } from "../ground-truth.js";
import { objectName } from "../names.js";
import { occludedPixels, occlusionCoverage, overlapArea } from "../render.js";
import { assignDepths, makeObject, place, type SceneObject } from "../scene.js";
import { COLOURS, SHAPES, YES_NO } from "../vocab.js";
import { addObject, fill, freshKind, without } from "./build.js";
import type { Draft, Family } from "./family.js";

/** A depth question's two objects, nearer one first. */
export function depthOrder(d: Pick<Draft, "objects" | "roles">): { front: number; back: number } {
  const [a, b] = [d.roles.a!, d.roles.b!];
  return d.objects[a].depth < d.objects[b].depth ? { front: a, back: b } : { front: b, back: a };
}

/** "is the <a> in front of / behind the <b> ?" (depth/front, depth/behind): two overlapping objects, yes or no. */
export const depth: Family = {
  name: "depth",
  templates: [
    { key: "depth/front", family: "depth", choices: YES_NO },
    { key: "depth/behind", family: "depth", choices: YES_NO },
  ],

  build(rng, ctx, t, answer) {
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
  },

  answer(d) {
    const aFront = d.objects[d.roles.a!].depth < d.objects[d.roles.b!].depth;
    return (d.template.key === "depth/front") === aFront ? "yes" : "no";
  },

  steps(d) {
    return [[d.roles.a!], [d.roles.b!]];
  },

  /**
   * Two last steps, both looking where the two objects overlap: `look hidden blue`, the colour
   * hidden there (the one behind), then `look red circle in front` (or `behind`), where the
   * question's first object is, in fixed words, so the answer is "yes" exactly when that word
   * is the question's (see spatial.verdict for why). Reading off which of two colours is on top
   * and comparing it with the first object in one step asks for two moves at once; split, each
   * step is one first-order move: copy the colour the overlap hides, then match it with the
   * first object's.
   */
  verdict(d, comp, _coverage, ctx) {
    const a = d.roles.a!;
    const { front, back } = depthOrder(d);
    const patches = groundTruthPatches(occlusionCoverage(comp, front, back, ctx.patch)).sort((x, y) => x - y);
    return [
      { text: `look hidden ${d.objects[back].colour}`, objects: [back], patches },
      { text: `look ${objectName(d.objects[a])} ${front === a ? "in front" : "behind"}`, objects: [a, d.roles.b!], patches },
    ];
  },

  /** The occlusion must be plain to see: a real overlap, hidden from the one behind, and seen where it happens. */
  check(d, comp, ctx) {
    const [a, b] = [d.roles.a!, d.roles.b!];
    if (d.objects[a].colour === d.objects[b].colour) return false;
    const small = Math.min(comp.fullArea[a], comp.fullArea[b]);
    if (overlapArea(d.objects, a, b, ctx) < 0.1 * small) return false;
    // The rationale's last steps look there.
    const { front, back } = depthOrder(d);
    return occludedPixels(comp, front, back).length >= 0.05 * small;
  },

  /** Odd depth slots are free: only a's depth changes, to just behind or just in front of b. */
  flip(_rng, _ctx, f, d) {
    const a = f.objects[f.roles.a!];
    const b = f.objects[f.roles.b!];
    a.depth = a.depth < b.depth ? b.depth + 1 : b.depth - 1;
    f.answer = d.answer === "yes" ? "no" : "yes";
    return true;
  },
};
