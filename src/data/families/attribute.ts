import { assignDepths, makeObject, type SceneObject } from "../scene.js";
import { COLOURS, SHAPES, type Colour, type Shape } from "../vocab.js";
import { addObject, fill, recentre, recolourTarget, without } from "./build.js";
import type { Family, Template } from "./family.js";

/**
 * "what color is the <shape> ?" (attr_color/<shape>) and "what shape is the <colour> object ?"
 * (attr_shape/<colour>): one object has the asked shape (colour); the rationale looks at it.
 */
export const attribute: Family = {
  name: "attribute",
  templates: [
    ...SHAPES.map((s): Template => ({ key: `attr_color/${s}`, family: "attribute", choices: COLOURS })),
    ...COLOURS.map((c): Template => ({ key: `attr_shape/${c}`, family: "attribute", choices: SHAPES })),
  ],

  build(rng, ctx, t, answer) {
    const [kind, asked] = t.key.split("/");
    const objects: SceneObject[] = [];
    if (kind === "attr_color") {
      const shape = asked as Shape;
      const target = addObject(rng, ctx, objects, [shape], [answer as Colour]);
      if (target < 0) return null;
      fill(rng, ctx, objects, 3, [shape]);
      assignDepths(rng, objects);
      return { template: t, question: `what color is the ${shape} ?`, answer, objects, roles: { target } };
    }
    const colour = asked as Colour;
    const target = addObject(rng, ctx, objects, [answer as Shape], [colour]);
    if (target < 0) return null;
    fill(rng, ctx, objects, 3, [], [colour]);
    assignDepths(rng, objects);
    return { template: t, question: `what shape is the ${colour} object ?`, answer, objects, roles: { target } };
  },

  answer(d) {
    const [kind, asked] = d.template.key.split("/");
    if (kind === "attr_color") {
      const hits = d.objects.filter((o) => o.shape === asked);
      return hits.length === 1 ? hits[0].colour : "?";
    }
    const hits = d.objects.filter((o) => o.colour === asked);
    return hits.length === 1 ? hits[0].shape : "?";
  },

  steps(d) {
    return [[d.roles.target!]];
  },

  flip(rng, ctx, f) {
    if (f.template.key.startsWith("attr_color/")) return recolourTarget(rng, f);
    // A new shape in the same place and colour.
    const objs = f.objects;
    const t = objs[f.roles.target!];
    const taken = objs.filter((o) => o !== t && o.colour === t.colour).map((o) => o.shape);
    const replaced = makeObject(ctx, { shape: rng.pick(without(SHAPES, t.shape, ...taken)), colour: t.colour, size: t.size });
    replaced.depth = t.depth;
    objs[f.roles.target!] = replaced;
    if (!recentre(rng, ctx, replaced, t, objs)) return false;
    f.answer = replaced.shape;
    return true;
  },
};
