import { compose, occlusionCoverage, paint, patchCoverage, type Composition } from "./render.js";
import type { Sample } from "./manifest.js";
import { depthOrder, locatedName, objectName, OPPOSITE_RELATION, relationHolds, stepObjects, type Draft, type Relation } from "./questions.js";
import { spatialMargin, type SceneContext } from "./scene.js";

/** A patch counts as ground truth for a step when the step's object covers this much of it. */
export const GT_MIN_COVERAGE = 1 / 8;

export interface RenderedSample {
  record: Sample;
  rgb: Uint8Array;
}

/**
 * Renders a draft and derives everything the manifest knows about it: per step, the objects
 * looked at and the patches they visibly cover (after occlusion, so ground truth matches the
 * PNG). An object too small to cover 1/8 of any patch still contributes its best patch.
 */
export function renderSample(d: Draft, ctx: SceneContext, id: string, noiseSeed: number, pair?: string): RenderedSample {
  const comp = compose(d.objects, ctx);
  const coverage = patchCoverage(comp, d.objects.length, ctx.patch);
  const rationale = stepObjects(d).map((objs) => {
    const patches = new Set<number>();
    for (const i of objs) for (const p of groundTruthPatches(coverage[i])) patches.add(p);
    return { text: `look ${objs.map((i) => locatedName(d.objects[i], ctx.size)).join(" ")}`, objects: objs, patches: [...patches].sort((a, b) => a - b) };
  });
  if (d.template.family === "depth" || d.template.family === "spatial") rationale.push(...verdictSteps(d, comp, coverage, ctx));
  const record: Sample = {
    id,
    image: `images/${id}.png`,
    question: d.question,
    answer: d.answer,
    family: d.template.family,
    template: d.template.key,
    choices: [...d.template.choices],
    rationale,
    objects: d.objects.map((o) => ({ ...o })),
    ...(pair !== undefined ? { pair } : {}),
    noise_seed: noiseSeed,
  };
  return { record, rgb: paint(d.objects, comp, noiseSeed) };
}

function groundTruthPatches(coverage: Map<number, number>): number[] {
  const enough = [...coverage].filter(([, c]) => c >= GT_MIN_COVERAGE).map(([p]) => p);
  if (enough.length || !coverage.size) return enough;
  return [[...coverage].reduce((best, e) => (e[1] > best[1] ? e : best))[0]];
}

/**
 * The last step of a yes/no question: where the question's first object is relative to the
 * second, on the question's axis, in fixed words: `look red circle left` (or `right`, `above`,
 * `below`, `in front`, `behind`) whatever the question asked. The answer is then "yes" exactly
 * when that word is the question's. Why: the yes/no answer is the asked direction times a
 * comparison, and neither alone says anything about it (an XOR). A teacher made to answer
 * straight from the located objects stayed at chance on every such question, even given the
 * true rationale; one made to first name the object the asked relation picks learned the
 * answer from that name but not the pick, which is the same XOR again. Said this way, the
 * step is a plain comparison (first-order in what the teacher sees) and the answer a match of
 * two words, which it learns. A spatial step looks at both objects.
 *
 * A depth question gets one more step before that one, `look hidden blue`: the colour hidden
 * where the two overlap (the one behind). Reading off which of two colours is on top and
 * comparing it with the first object in one step stayed near chance, given the true rationale,
 * while the teacher's vision tower did label the hidden colour (docs/experiments/teacher-history.md).
 * Split, each step is one first-order move: copy the colour the
 * overlap hides, then match it with the first object's. Both look where the two overlap.
 */
function verdictSteps(d: Draft, comp: Composition, coverage: Map<number, number>[], ctx: SceneContext): Sample["rationale"] {
  const [kind, asked] = d.template.key.split("/");
  const [a, b] = [d.roles.a!, d.roles.b!];
  const name = objectName(d.objects[a]);
  if (kind === "depth") {
    const { front, back } = depthOrder(d);
    const patches = groundTruthPatches(occlusionCoverage(comp, front, back, ctx.patch)).sort((x, y) => x - y);
    return [
      { text: `look hidden ${d.objects[back].colour}`, objects: [back], patches },
      { text: `look ${name} ${front === a ? "in front" : "behind"}`, objects: [a, b], patches },
    ];
  }
  const rel = asked as Relation;
  const side = relationHolds(rel, d.objects[a], d.objects[b], spatialMargin(ctx.size)) ? rel : OPPOSITE_RELATION[rel];
  const patches = [...new Set([...groundTruthPatches(coverage[a]), ...groundTruthPatches(coverage[b])])].sort((x, y) => x - y);
  return [{ text: `look ${name} ${side}`, objects: [a, b], patches }];
}

/** The text a model generates after the question (and after its latent thoughts): rationale, then answer. */
export function targetText(s: Pick<Sample, "rationale" | "answer">): string {
  return [...s.rationale.map((r) => r.text), `answer ${s.answer}`].join(" ; ");
}
