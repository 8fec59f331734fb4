import { familyOf } from "./families/index.js";
import type { Draft } from "./families/family.js";
import { groundTruthPatches } from "./ground-truth.js";
import type { Sample } from "./manifest.js";
import { locatedName } from "./names.js";
import { stepObjects } from "./questions.js";
import { compose, paint, patchCoverage } from "./render.js";
import type { SceneContext } from "./scene.js";

export interface RenderedSample {
  record: Sample;
  rgb: Uint8Array;
}

/**
 * Renders a draft and derives everything the manifest knows about it: per step, the objects
 * looked at and the patches they visibly cover (after occlusion, so ground truth matches the
 * PNG), then the family's verdict steps, if it has any.
 */
export function renderSample(d: Draft, ctx: SceneContext, id: string, noiseSeed: number, pair?: string): RenderedSample {
  const comp = compose(d.objects, ctx);
  const coverage = patchCoverage(comp, d.objects.length, ctx.patch);
  const rationale = stepObjects(d).map((objs) => {
    const patches = new Set<number>();
    for (const i of objs) for (const p of groundTruthPatches(coverage[i])) patches.add(p);
    return { text: `look ${objs.map((i) => locatedName(d.objects[i], ctx.size)).join(" ")}`, objects: objs, patches: [...patches].sort((a, b) => a - b) };
  });
  rationale.push(...(familyOf(d.template).verdict?.(d, comp, coverage, ctx) ?? []));
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
