import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../util/rng.js";
import { progress } from "../util/progress.js";
import { DATASET_FORMAT, formatManifest, SPLITS, type DatasetInfo, type Sample, type Split } from "./manifest.js";
import { encodePng } from "./png.js";
import { fnv1a } from "../util/hash.js";
import { allTemplates } from "./families/index.js";
import { FAMILIES, type Template } from "./families/family.js";
import { buildDraft, flipDraft, priorAnswer } from "./questions.js";
import { renderSample } from "./sample.js";
import { MaskCache } from "./shapes.js";
import type { SceneContext } from "./scene.js";
import { Tokenizer } from "./tokenizer.js";
import { BENCHMARK_SETTINGS, type SettingName } from "./settings.js";
import { breathe } from "../util/interrupt.js";

export interface GenerateOptions {
  seed: number;
  /** The benchmark setting (data/settings.ts). */
  setting: SettingName;
  size: number;
  patch: number;
  prior: number;
  teacherTrain: number;
  train: number;
  test: number;
  quiet?: boolean;
}

/**
 * How the answer of each sample is drawn, per split. `teacher-train` is balanced (the teacher
 * must look); `train`/`test-id` favour each template's prior answer with probability `prior`;
 * `test-ood` only ever asks for non-prior answers, so a blind prior scores zero there.
 */
function drawAnswer(rng: Rng, split: Split, t: Template, prior: number): string {
  const p = priorAnswer(t);
  const others = t.choices.filter((c) => c !== p);
  switch (split) {
    case "teacher-train":
      return rng.pick(t.choices);
    case "train":
    case "test-id":
      return rng.next() < prior ? p : rng.pick(others);
    case "test-ood":
      return rng.pick(others);
    case "test-pairs":
      // The first member carries the prior answer, its partner a different one: a pair is
      // only won by looking.
      return p;
  }
}

/** Uniform over families, then over the family's templates. */
function drawTemplate(rng: Rng): Template {
  const family = rng.pick(FAMILIES);
  return rng.pick(allTemplates().filter((t) => t.family === family));
}

/** Each sample has its own stream, so a sample depends only on (seed, split, index). */
function sampleRng(seed: number, split: Split, index: number): Rng {
  return new Rng(fnv1a(`${seed}/${split}/${index}`) ^ Math.imul(seed, 0x9e3779b1));
}

function sampleId(i: number, suffix = ""): string {
  return `${String(i).padStart(6, "0")}${suffix}`;
}

/** The samples of a split, one at a time (record and PNG bytes), so the writer can yield between them. */
export function* generateSplit(split: Split, count: number, opts: GenerateOptions, ctx: SceneContext): Generator<{ record: Sample; png: Buffer }> {
  for (let i = 0; i < count;) {
    const rng = sampleRng(opts.seed, split, i);
    if (split === "test-pairs") {
      // `count` samples = count/2 pairs (an odd count rounds down to whole pairs).
      if (i + 1 >= count) break;
      const pairIndex = i / 2;
      let done = false;
      for (let attempt = 0; attempt < 20 && !done; attempt++) {
        const t = drawTemplate(rng);
        const first = buildDraft(rng, ctx, t, drawAnswer(rng, split, t, opts.prior));
        const second = flipDraft(rng, ctx, first);
        if (!second) continue;
        const noise = rng.int(0, 0x7fffffff);
        const pair = sampleId(pairIndex);
        for (const [d, suffix] of [
          [first, "a"],
          [second, "b"],
        ] as const) {
          const { record, rgb } = renderSample(d, ctx, sampleId(pairIndex, suffix), noise, pair);
          yield { record, png: encodePng(rgb, ctx.size, ctx.size) };
        }
        done = true;
      }
      if (!done) throw new Error(`could not build minimal pair ${pairIndex} (seed ${opts.seed})`);
      i += 2;
      continue;
    }
    const t = drawTemplate(rng);
    const d = buildDraft(rng, ctx, t, drawAnswer(rng, split, t, opts.prior));
    const { record, rgb } = renderSample(d, ctx, sampleId(i), rng.int(0, 0x7fffffff));
    yield { record, png: encodePng(rgb, ctx.size, ctx.size) };
    i += 1;
  }
}

export function splitSizes(opts: GenerateOptions): Record<Split, number> {
  return { "teacher-train": opts.teacherTrain, train: opts.train, "test-id": opts.test, "test-ood": opts.test, "test-pairs": opts.test - (opts.test % 2) };
}

/** Writes a complete dataset into `dir` (which the caller makes atomic by building it in a temp folder). */
export async function generateDataset(dir: string, opts: GenerateOptions): Promise<DatasetInfo> {
  const ctx: SceneContext = { size: opts.size, patch: opts.patch, masks: new MaskCache(opts.size), setting: BENCHMARK_SETTINGS[opts.setting] };
  const sizes = splitSizes(opts);
  const total = SPLITS.reduce((a, s) => a + sizes[s], 0);
  const bar = progress("generating", total, { quiet: opts.quiet });
  for (const split of SPLITS) {
    const imagesDir = join(dir, split, "images");
    mkdirSync(imagesDir, { recursive: true });
    const records: Sample[] = [];
    for (const { record, png } of generateSplit(split, sizes[split], opts, ctx)) {
      writeFileSync(join(dir, split, record.image), png);
      records.push(record);
      bar.tick(1, { split });
      await breathe();
    }
    writeFileSync(join(dir, split, "manifest.jsonl"), formatManifest(records));
  }
  bar.stop();
  const info: DatasetInfo = {
    format: DATASET_FORMAT,
    seed: opts.seed,
    // The default setting is not written, so a default dataset is byte for byte what earlier lavits made.
    ...(opts.setting !== "default" ? { setting: opts.setting } : {}),
    size: opts.size,
    patch: opts.patch,
    prior: opts.prior,
    splits: sizes,
  };
  writeFileSync(join(dir, "dataset.json"), JSON.stringify(info, null, 2) + "\n");
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(Tokenizer.forGrammar().toJSON(), null, 2) + "\n");
  return info;
}
