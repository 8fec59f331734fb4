import { compose, occlusionCoverage, paint, patchCoverage, type Composition } from "./render.js";
import type { Sample } from "./manifest.js";
import { depthOrder, locatedName, objectName, stepObjects, type Draft } from "./questions.js";
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
  if (d.template.family === "depth") rationale.push(occlusionStep(d, comp, ctx.patch));
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
 * A depth question's last step: which of the two objects is in front, read where they overlap
 * (the patches in which the front one visibly covers the other). Without it the answer would
 * have to come from comparing two named objects' depths in one token, which a small teacher
 * never learns (it said "yes" to every depth question); naming the occluder is a perception
 * step like reading a colour, and the answer then follows from the names.
 */
function occlusionStep(d: Draft, comp: Composition, patch: number): Sample["rationale"][number] {
  const { front, back } = depthOrder(d);
  return { text: `look ${objectName(d.objects[front])} in front`, objects: [front], patches: groundTruthPatches(occlusionCoverage(comp, front, back, patch)).sort((x, y) => x - y) };
}

/** The text a model generates after the question (and after its latent thoughts): rationale, then answer. */
export function targetText(s: Pick<Sample, "rationale" | "answer">): string {
  return [...s.rationale.map((r) => r.text), `answer ${s.answer}`].join(" ; ");
}
