import { objectName } from "../names.js";
import { assignDepths, spatialMargin, type SceneObject } from "../scene.js";
import { COLOURS, SHAPES, type Colour, type Shape } from "../vocab.js";
import { addObject, fill, recolourTarget, without } from "./build.js";
import type { Family, Roles, Template } from "./family.js";
import { OPPOSITE_RELATION, RELATION_PHRASE, relationHolds, relationRange, type Relation } from "./relations.js";

/**
 * "what color is the <shape> left of / above the <anchor> ?" (multihop_color/<relation>/<shape>):
 * find the anchor, then the object of that shape on the asked side of it.
 */
export const multihop: Family = {
  name: "multihop",
  templates: (["left", "above"] as const).flatMap((r) =>
    SHAPES.map((s): Template => ({ key: `multihop_color/${r}/${s}`, family: "multihop", choices: COLOURS })),
  ),

  build(rng, ctx, t, answer) {
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
    assignDepths(rng, objects);
    return { template: t, question: `what color is the ${shape} ${RELATION_PHRASE[rel]} the ${objectName(objects[anchor])} ?`, answer, objects, roles };
  },

  answer(d, ctx) {
    const [, rel, shape] = d.template.key.split("/") as [string, Relation, Shape];
    const m = spatialMargin(ctx.size);
    const anchor = d.objects[d.roles.anchor!];
    const same = d.objects.filter((o) => o.shape === shape && o !== anchor);
    const hits = same.filter((o) => relationHolds(rel, o, anchor, m));
    // Every other object of that shape must be clearly on the other side.
    const clear = same.every((o) => hits.includes(o) || relationHolds(OPPOSITE_RELATION[rel], o, anchor, m));
    return hits.length === 1 && clear ? hits[0].colour : "?";
  },

  steps(d) {
    return [[d.roles.anchor!], [d.roles.target!]];
  },

  flip(rng, _ctx, f) {
    return recolourTarget(rng, f);
  },
};
