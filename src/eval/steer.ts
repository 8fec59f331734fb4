import type { LoadedSplit } from "../data/dataset.js";
import { groundTruthPatches } from "../data/ground-truth.js";
import type { Sample } from "../data/manifest.js";
import { compose, patchCoverage } from "../data/render.js";
import type { SceneContext } from "../data/scene.js";
import { MaskCache } from "../data/shapes.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { generate } from "../model/generate.js";
import { parseAnswer, promptIds } from "../model/sequence.js";
import { patchBatch, type Vlm } from "../model/vlm.js";
import { progress } from "../util/progress.js";
import { chunksByLength, probeBias, share, steerBias } from "./probes.js";
import type { SteerFractions, SteerProbe } from "./probe-results.js";

/** Where the steer probe sends a sample's latents, and what its question would answer there. */
export interface SteerTarget {
  /** The other object's visible patches (its ground-truth region). */
  patches: number[];
  /** The question's answer about the other object. */
  answer: string;
}

export type { SteerFractions, SteerProbe } from "./probe-results.js";

/**
 * The steer target of an attribute question ("what color is the <shape> ?", "what shape is the
 * <colour> object ?"): the scene's other object whose colour (shape) differs from the answer,
 * the one with the largest visible region (first on ties), and its colour (shape). Null for the
 * other families, where "that object's answer" has no single meaning, and when no such object
 * is visible.
 */
export function steerTarget(sample: Sample, ctx: SceneContext): SteerTarget | null {
  const { template, objects, choices } = sample;
  // An imported sample has no scene to steer towards.
  if (!template || !objects || !choices) return null;
  const kind = sample.family === "attribute" ? template.split("/")[0] : "";
  const attribute = kind === "attr_color" ? "colour" : kind === "attr_shape" ? "shape" : null;
  const target = sample.rationale[0]?.objects?.[0];
  if (!attribute || target === undefined) return null;
  const coverage = patchCoverage(compose(objects, ctx), objects.length, ctx.patch);
  let best: SteerTarget | null = null;
  objects.forEach((o, j) => {
    const value = o[attribute];
    if (j === target || value === sample.answer || !choices.includes(value)) return;
    const patches = coverage[j].size ? groundTruthPatches(coverage[j]).sort((a, b) => a - b) : [];
    if (patches.length && (!best || patches.length > best.patches.length)) best = { patches, answer: value };
  });
  return best;
}

/** Greedy answers of the samples `index`, the latents of each restricted to `regions[i]` (null: not steered). */
function answers(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  index: readonly number[],
  regions: readonly (readonly number[] | null)[],
  latents: number,
  o: { maskLatents: boolean; batchSize?: number; maxNewTokens?: number },
  tick: (n: number) => void,
): (string | null)[] {
  const n = numPatches(vlm.config.vision);
  const prompts = index.map((i) => promptIds(tok, n, data.samples[i].question, latents));
  const out: (string | null)[] = new Array(index.length);
  for (const chunk of chunksByLength(
    prompts.map((p) => p.length),
    o.batchSize ?? 64,
  )) {
    const length = prompts[chunk[0]].length;
    const steer = regions.some(Boolean)
      ? steerBias(
          length,
          latents,
          n,
          chunk.map((k) => regions[k]),
        )
      : undefined;
    const patches = patchBatch(
      chunk.map((k) => data.images[index[k]]),
      data.info.size,
      data.info.patch,
    );
    try {
      const g = generate(
        vlm,
        patches,
        chunk.map((k) => prompts[k]),
        {
          maxNewTokens: o.maxNewTokens ?? 32,
          eos: tok.id("<eos>"),
          latents,
          biasFor: probeBias(length, latents, n, { maskLatents: o.maskLatents }),
          // The latents' keys and values come from a pass where they may look only at the region.
          ...(steer ? { latentPass: { bias: steer } } : {}),
        },
      );
      chunk.forEach((k, b) => (out[k] = parseAnswer(tok.decode(g.tokens[b]))));
    } finally {
      patches.dispose();
    }
    tick(chunk.length);
  }
  return out;
}

/** Fractions of steered answers that changed, and that changed to the other object's answer. */
export function steerFractions(
  targets: readonly Pick<SteerTarget, "answer">[],
  plain: readonly (string | null)[],
  steered: readonly (string | null)[],
): SteerFractions {
  const changed = steered.filter((a, i) => a !== plain[i]).length;
  const toOther = steered.filter((a, i) => a !== plain[i] && a === targets[i].answer).length;
  return { changed: share(changed, targets.length), to_other: share(toOther, targets.length) };
}

/** The steer probe on a split: the latents may look only at another object; does the answer follow them there? */
export function steerProbe(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  latents: number,
  o: { batchSize?: number; maxNewTokens?: number; quiet?: boolean } = {},
): SteerProbe {
  const ctx: SceneContext = { size: data.info.size, patch: data.info.patch, masks: new MaskCache(data.info.size) };
  const index: number[] = [];
  const targets: SteerTarget[] = [];
  data.samples.forEach((s, i) => {
    const t = steerTarget(s, ctx);
    if (t) {
      index.push(i);
      targets.push(t);
    }
  });
  const bar = progress(`steer probe ${data.split}`, 4 * index.length, { quiet: o.quiet });
  const run = (maskLatents: boolean): SteerFractions => {
    const plain = answers(
      vlm,
      tok,
      data,
      index,
      index.map(() => null),
      latents,
      { ...o, maskLatents },
      (k) => bar.tick(k),
    );
    const steered = answers(
      vlm,
      tok,
      data,
      index,
      targets.map((t) => t.patches),
      latents,
      { ...o, maskLatents },
      (k) => bar.tick(k),
    );
    return steerFractions(targets, plain, steered);
  };
  const result = { samples: index.length, skipped: data.samples.length - index.length, ...run(false), constant: run(true) };
  bar.stop();
  return result;
}
