import { compose, occlusionCoverage, paint, patchCoverage, type Composition } from "./render.js";
import type { Sample } from "./manifest.js";
import { depthOrder, locatedName, objectName, relationHolds, stepObjects, type Draft, type Relation } from "./questions.js";
import { spatialMargin } from "./scene.js";
import type { SceneContext } from "./scene.js";

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
  if (d.template.family === "depth" || d.template.family === "spatial") rationale.push(verdictStep(d, comp, coverage, ctx));
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
 * The last step of a yes/no question: of its two objects, the one its relation picks (the one
 * further left for "left of", the nearer for "in front of", the farther for "behind", ...),
 * with the relation's word: `look blue square left`. The answer is then "yes" exactly when the
 * picked object is the question's first. Why: a teacher trained to answer from the located
 * objects alone said p(yes) = 0.53 to every spatial and depth question, even fed the true
 * rationale, because the answer is the relation word times a comparison and neither alone
 * says anything about it (an XOR); picking one of two named objects by a relation is what it
 * does learn on multihop questions. A depth step looks where the two overlap; a spatial step
 * at the picked object.
 */
function verdictStep(d: Draft, comp: Composition, coverage: Map<number, number>[], ctx: SceneContext): Sample["rationale"][number] {
  const [kind, word] = d.template.key.split("/");
  const [a, b] = [d.roles.a!, d.roles.b!];
  if (kind === "depth") {
    const { front, back } = depthOrder(d);
    const picked = word === "front" ? front : back;
    const patches = groundTruthPatches(occlusionCoverage(comp, front, back, ctx.patch)).sort((x, y) => x - y);
    return { text: `look ${objectName(d.objects[picked])} ${word === "front" ? "in front" : "behind"}`, objects: [picked], patches };
  }
  const picked = relationHolds(word as Relation, d.objects[a], d.objects[b], spatialMargin(ctx.size)) ? a : b;
  return { text: `look ${objectName(d.objects[picked])} ${word}`, objects: [picked], patches: groundTruthPatches(coverage[picked]) };
}

/** The text a model generates after the question (and after its latent thoughts): rationale, then answer. */
export function targetText(s: Pick<Sample, "rationale" | "answer">): string {
  return [...s.rationale.map((r) => r.text), `answer ${s.answer}`].join(" ; ");
}
