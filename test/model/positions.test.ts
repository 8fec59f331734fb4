import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { UserError } from "../../src/errors.js";
import { generate } from "../../src/model/generate.js";
import { longestSequence, promptIds, targetIds } from "../../src/model/sequence.js";
import { buildVlm, patchBatch } from "../../src/model/vlm.js";
import { targetText } from "../../src/data/sample.js";
import { teacherTask } from "../../src/train/teacher.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";

describe("decoder.max_positions", () => {
  let data: LoadedSplit;
  let longest: number;
  let promptLength: number;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 30, train: 2, test: 2 });
    const tok = data.tokenizer;
    const prompts = data.samples.map((s) => promptIds(tok, 16, s.question));
    longest = longestSequence(
      prompts.length,
      (i) => prompts[i],
      (i) => targetIds(tok, targetText(data.samples[i])),
    ).length;
    promptLength = prompts[0].length;
  });

  it("trains on sequences up to it, and refuses a split with a longer one, naming the sample and the field", () => {
    const fits = buildVlm(tinyConfig(data.tokenizer.size, { maxPositions: longest }), 1);
    expect(() => teacherTask(fits, data)).not.toThrow();
    fits.dispose();
    const short = buildVlm(tinyConfig(data.tokenizer.size, { maxPositions: longest - 1 }), 1);
    expect(() => teacherTask(short, data)).toThrow(UserError);
    expect(() => teacherTask(short, data)).toThrow(
      new RegExp(`sample \\d+ of .* takes ${longest} positions, more than the model's decoder.max_positions ${longest - 1}`),
    );
    short.dispose();
  });

  it("refuses to generate from a prompt longer than it", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { maxPositions: promptLength - 1 }), 1);
    const patches = patchBatch([data.images[0]], 32, 8);
    const prompt = promptIds(data.tokenizer, 16, data.samples[0].question);
    expect(() => generate(vlm, patches, [prompt], { maxNewTokens: 2, eos: data.tokenizer.id("<eos>") })).toThrow(
      /the prompt .* takes \d+ positions, more than the model's decoder\.max_positions/,
    );
    tf.dispose(patches);
    vlm.dispose();
  });
});
