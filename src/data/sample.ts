import { compose, paint, patchCoverage } from "./render.js";
import type { Sample } from "./manifest.js";
import { objectName, stepObjects, type Draft } from "./questions.js";
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
    for (const i of objs) {
      let best = -1;
      let bestCov = 0;
      for (const [p, c] of coverage[i]) {
        if (c >= GT_MIN_COVERAGE) patches.add(p);
        if (c > bestCov) [best, bestCov] = [p, c];
      }
      if (best >= 0 && ![...coverage[i].values()].some((c) => c >= GT_MIN_COVERAGE)) patches.add(best);
    }
    return { text: `look ${objs.map((i) => objectName(d.objects[i])).join(" ")}`, objects: objs, patches: [...patches].sort((a, b) => a - b) };
  });
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

/** The text a model generates after the question (and after its latent thoughts): rationale, then answer. */
export function targetText(s: Pick<Sample, "rationale" | "answer">): string {
  return [...s.rationale.map((r) => r.text), `answer ${s.answer}`].join(" ; ");
}
