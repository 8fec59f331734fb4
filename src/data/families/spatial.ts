import { groundTruthPatches } from "../ground-truth.js";
import { objectName } from "../names.js";
import { assignDepths, place, spatialMargin, type SceneObject } from "../scene.js";
import { COLOURS, SHAPES, YES_NO } from "../vocab.js";
import { addObject, fill } from "./build.js";
import type { Family, Template } from "./family.js";
import { OPPOSITE_RELATION, RELATION_PHRASE, RELATIONS, relationHolds, relationRange, type Relation } from "./relations.js";

/** "is the <a> left of / right of / above / below the <b> ?" (spatial/<relation>): yes or no. */
export const spatial: Family = {
  name: "spatial",
  templates: RELATIONS.map((r): Template => ({ key: `spatial/${r}`, family: "spatial", choices: YES_NO })),

  build(rng, ctx, t, answer) {
    const rel = t.key.split("/")[1] as Relation;
    const objects: SceneObject[] = [];
    const b = addObject(rng, ctx, objects, SHAPES, COLOURS);
    const wanted = answer === "yes" ? rel : OPPOSITE_RELATION[rel];
    const a = addObject(rng, ctx, objects, SHAPES, COLOURS, relationRange(wanted, objects[b], spatialMargin(ctx.size)));
    if (a < 0) return null;
    fill(rng, ctx, objects, 3);
    assignDepths(rng, objects);
    return {
      template: t,
      question: `is the ${objectName(objects[a])} ${RELATION_PHRASE[rel]} the ${objectName(objects[b])} ?`,
      answer,
      objects,
      roles: { a, b },
    };
  },

  answer(d, ctx) {
    const rel = d.template.key.split("/")[1] as Relation;
    const m = spatialMargin(ctx.size);
    const a = d.objects[d.roles.a!];
    const b = d.objects[d.roles.b!];
    return relationHolds(rel, a, b, m) ? "yes" : relationHolds(OPPOSITE_RELATION[rel], a, b, m) ? "no" : "?";
  },

  steps(d) {
    return [[d.roles.a!], [d.roles.b!]];
  },

  /**
   * The last step: where the question's first object is relative to the second, on the
   * question's axis, in fixed words: `look red circle left` (or `right`, `above`, `below`)
   * whatever the question asked. The answer is then "yes" exactly when that word is the
   * question's. Why: the yes/no answer is the asked direction times a comparison, and neither
   * alone says anything about it (an XOR). Said this way, the step is a plain comparison
   * (first-order in what the model sees) and the answer a match of two words. It looks at both
   * objects.
   */
  verdict(d, _comp, coverage, ctx) {
    const rel = d.template.key.split("/")[1] as Relation;
    const [a, b] = [d.roles.a!, d.roles.b!];
    const side = relationHolds(rel, d.objects[a], d.objects[b], spatialMargin(ctx.size)) ? rel : OPPOSITE_RELATION[rel];
    const patches = [...new Set([...groundTruthPatches(coverage[a]), ...groundTruthPatches(coverage[b])])].sort((x, y) => x - y);
    return [{ text: `look ${objectName(d.objects[a])} ${side}`, objects: [a, b], patches }];
  },

  /** Object a moves to the other side of b. */
  flip(rng, ctx, f, d) {
    const objs = f.objects;
    const rel = d.template.key.split("/")[1] as Relation;
    const wanted = d.answer === "yes" ? OPPOSITE_RELATION[rel] : rel;
    if (!place(rng, ctx, objs[f.roles.a!], objs, relationRange(wanted, objs[f.roles.b!], spatialMargin(ctx.size)))) return false;
    f.answer = d.answer === "yes" ? "no" : "yes";
    return true;
  },
};
