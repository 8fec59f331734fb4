import { initEngine, scoped, tf } from "../engine/index.js";
import { withDefaults } from "./defaults.js";
import { UserError } from "../errors.js";
import { encodePng } from "../data/png.js";
import { readImageAny } from "../data/read-image.js";
import { freeAnswer } from "../eval/answers.js";
import { fitImage, fitTransform, mapOverOriginal } from "../data/import/fit-image.js";
import { overlayPanel, tileRasters } from "../report/overlay.js";
import { probeBias } from "../eval/probes.js";
import { loadWeightsInto, readModelFolder } from "../model/checkpoint.js";
import { numPatches } from "../model/config.js";
import { generateGreedy } from "../model/generate.js";
import { imageRowsAttention } from "../model/readout.js";
import { checkQuestionFits, parseAnswer, promptIds } from "../model/sequence.js";
import { buildVlm, decoderForward, embedWithImage, patchify, projectVision, visionForward } from "../model/vlm.js";
import { heatmapPanel, tile } from "../report/heatmap.js";
import { topkIndices } from "../signals/maps.js";
import { writeFileAtomic } from "../util/atomic.js";
import { input, outputFile, withOutputs, type IoSpec } from "../util/io-guard.js";
import { quoteInput } from "../util/errors-text.js";
import { z } from "zod";
import { flag, named, positiveInt, text, validateOptions } from "./options-schema.js";

/** The grid a fitted image's map is resampled to when drawn over the original. */
const ORIGINAL_GRID = { rows: 64, cols: 64 };

export const ASK_DEFAULTS = { top: 5, maxNewTokens: 32 } as const;

export interface AskOptions {
  /** The question, in the benchmark's words (e.g. "what color is the circle ?"). */
  question: string;
  model: string;
  /** PNG or JPEG of any size: fitted to the model's size as `lavit data import` fits images (aspect kept, padded). */
  image: string;
  /** Patches listed per latent step. */
  top?: number;
  /** Write the image with each latent step's attention over it. */
  heatmap?: string;
  maskLatents?: boolean;
  noImageForAnswer?: boolean;
  /** Replace an existing --heatmap file. */
  force?: boolean;
}

/** What `ask` reads and writes (the output guard's declaration; the CLI shares it). */
export const ASK_IO: IoSpec = { model: input(), image: input(), heatmap: outputFile() };

/** The options of `ask` and their ranges (the CLI's parsers read them from here). */
export const askOptionsSchema = named(
  z
    .object({
      question: z.string(),
      model: text(),
      image: text(),
      top: positiveInt().optional(),
      heatmap: text().optional(),
      force: flag().optional(),
      maskLatents: flag().optional(),
      noImageForAnswer: flag().optional(),
    })
    .strict(),
  "ask option",
);

export interface AskResult {
  question: string;
  answer: string | null;
  generated: string;
  latent_steps: { latent: string; top_patches: { patch: number; row: number; col: number; weight: number }[] }[];
  /** A model with an open vocabulary: the question's words it read as <unk>. */
  unknown_words?: string[];
}

/** Answers one question about one image, with where each latent thought looks. */
export async function ask(opts: AskOptions): Promise<AskResult> {
  validateOptions(askOptionsSchema, opts);
  const o = withDefaults(ASK_DEFAULTS, opts);
  if (!o.question.trim()) throw new UserError("the question is empty");
  return withOutputs(ASK_IO, o, () => askWith(o));
}

async function askWith(o: AskOptions & typeof ASK_DEFAULTS): Promise<AskResult> {
  await initEngine();
  const folder = readModelFolder(o.model);
  const cfg = folder.config;
  checkQuestionFits(cfg, o.question, cfg.latent?.num_latents ?? 0, "the question");
  const original = readImageAny(o.image);
  const size = cfg.vision.image_size;
  const fit = original.width === size && original.height === size ? null : fitTransform(o.image, original.width, original.height, size);
  const img = { rgb: fit ? fitImage(original, fit, size) : original.rgb };
  const unknown = folder.tokenizer.unknownWords(o.question);
  if (unknown.length && !folder.tokenizer.open)
    throw new UserError(
      `--model ${o.model} knows only the words it was trained on (the shipped models: the benchmark's), not ${unknown
        .slice(0, 5)
        .map((w) => quoteInput(w))
        .join(
          ", ",
        )}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""}: ask in its words, or train your own teacher on your data (\`lavit data import\`, then \`lavit train teacher\`)`,
    );
  const vlm = buildVlm(cfg, 0);
  let maps: Float32Array[];
  let text: string;
  const n = numPatches(cfg.vision);
  const grid = Math.round(Math.sqrt(n));
  const K = cfg.latent?.num_latents ?? 0;
  try {
    loadWeightsInto(vlm.store, folder.weights);
    const prompt = promptIds(folder.tokenizer, n, o.question, K);
    const patches = tf.tensor3d(patchify(img.rgb, cfg.vision.image_size, cfg.vision.patch_size), [1, n, cfg.vision.patch_size ** 2 * 3]);
    try {
      const bias = probeBias(prompt.length, K, n, { maskLatents: o.maskLatents, noImageForAnswer: o.noImageForAnswer });
      const generated = generateGreedy(vlm, patches, [prompt], { maxNewTokens: o.maxNewTokens, eos: folder.tokenizer.id("<eos>"), biasFor: bias })[0];
      text = folder.tokenizer.decode(generated);
      maps = scoped(() => {
        if (!K) return [] as Float32Array[];
        const ids = tf.tensor2d([prompt], [1, prompt.length], "int32");
        const out = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), { returnProbs: true });
        const rows = imageRowsAttention(out.probs!, prompt.length - K, K, n).dataSync() as Float32Array;
        return Array.from({ length: K }, (_, k) => Float32Array.from(rows.subarray(k * n, (k + 1) * n)));
      });
    } finally {
      patches.dispose();
    }
  } finally {
    vlm.dispose();
  }
  const latentSteps = maps.map((m, k) => ({
    latent: `<lvr${k + 1}>`,
    top_patches: topkIndices(m, o.top).map((p) => ({ patch: p, row: Math.floor(p / grid), col: p % grid, weight: +m[p].toFixed(4) })),
  }));
  if (o.heatmap) {
    // Over the image as given: a fitted image's maps are drawn back through its transform.
    const t = fit
      ? tileRasters(
          [null, ...maps].map((m) =>
            m ? overlayPanel(original, mapOverOriginal(m, grid, fit, size), ORIGINAL_GRID) : overlayPanel(original, null, ORIGINAL_GRID),
          ),
          maps.length + 1,
        )
      : tile(
          [null, ...maps].map((m) => heatmapPanel(img.rgb, size, grid, m)),
          maps.length + 1,
        );
    writeFileAtomic(o.heatmap, encodePng(t.rgb, t.width, t.height));
  }
  return {
    question: o.question,
    // A model trained on imported data may answer in several words: all of them after the marker.
    answer: folder.tokenizer.open ? freeAnswer(text) : parseAnswer(text),
    generated: text.replace(/\s*<eos>\s*$/, ""),
    latent_steps: latentSteps,
    ...(unknown.length ? { unknown_words: unknown } : {}),
  };
}
