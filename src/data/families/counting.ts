import { assignDepths, centre, type SceneObject } from "../scene.js";
import { COLOURS, COUNT_WORDS, SHAPE_PLURALS, SHAPES, type Shape } from "../vocab.js";
import { addObject, fill } from "./build.js";
import type { Family, Template } from "./family.js";

/** "how many <shapes> are there ?" (count/<shape>): 1 to 4; the rationale looks at each counted object. */
export const counting: Family = {
  name: "counting",
  templates: SHAPES.map((s): Template => ({ key: `count/${s}`, family: "counting", choices: COUNT_WORDS })),

  build(rng, ctx, t, answer) {
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
    assignDepths(rng, objects);
    return { template: t, question: `how many ${SHAPE_PLURALS[shape]} are there ?`, answer, objects, roles: { counted } };
  },

  answer(d) {
    const shape = d.template.key.split("/")[1];
    return COUNT_WORDS[d.objects.filter((o) => o.shape === shape).length - 1] ?? "?";
  },

  /** One step per counted object, in reading order (left to right), so the rationale is a deterministic function of the image. */
  steps(d) {
    const at = (i: number) => centre(d.objects[i]);
    return [...d.roles.counted!].sort((x, y) => at(x).cx - at(y).cx || at(x).cy - at(y).cy).map((i) => [i]);
  },

  /** One object of the counted shape added (in front of all) or removed. */
  flip(rng, ctx, f) {
    const shape = f.template.key.split("/")[1] as Shape;
    const r = f.roles;
    const objs = f.objects;
    const n = r.counted!.length;
    const add = n === 1 || (n < COUNT_WORDS.length && objs.length < 6 && (objs.length <= 3 || rng.next() < 0.5));
    if (add) {
      const k = addObject(rng, ctx, objs, [shape], COLOURS);
      if (k < 0) return false;
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
    f.answer = COUNT_WORDS[r.counted.length - 1];
    return true;
  },
};
