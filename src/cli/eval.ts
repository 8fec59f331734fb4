import { Command } from "commander";
import { initEngine } from "../engine/index.js";
import { loadSplit } from "../data/dataset.js";
import { loadWeightsInto, readModelFolder } from "../model/checkpoint.js";
import { buildVlm } from "../model/vlm.js";
import { predict, summarise, type EvalResult } from "../eval/evaluate.js";
import { writeFileAtomic } from "../util/atomic.js";
import { UserError } from "./errors.js";
import { parsePositiveInt } from "./parse.js";

function formatResult(r: EvalResult): string {
  const lines = [`${r.split}: accuracy ${r.accuracy.toFixed(3)} (${r.count} samples)${r.pair_accuracy !== undefined ? `, pair accuracy ${r.pair_accuracy.toFixed(3)}` : ""}`];
  for (const [f, g] of Object.entries(r.families)) lines.push(`  ${f.padEnd(10)} ${g.accuracy.toFixed(3)} (${g.count})${g.pair_accuracy !== undefined ? `  pairs ${g.pair_accuracy.toFixed(3)}` : ""}`);
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("eval")
    .description("answer a split with a model (greedy) and report accuracy overall and per family")
    .requiredOption("--model <dir>", "model folder (config.json, model.safetensors, tokenizer.json)")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--split <split>", "split to evaluate")
    .option("--limit <n>", "only the first n samples", parsePositiveInt("--limit"))
    .option("--predictions <file>", "write one JSON line per sample (answer, prediction, generated text)")
    .option("--mask-latents", "probe: hide the latent tokens from the generated text")
    .option("--no-image-for-answer", "probe: generated tokens cannot attend to the image (gate closed)")
    .option("--json", "print one JSON object")
    .option("--quiet", "no progress output")
    .action(async (f: { model: string; data: string; split: string; limit?: number; predictions?: string; json?: boolean; quiet?: boolean; maskLatents?: boolean; imageForAnswer: boolean }) => {
      await initEngine();
      const folder = readModelFolder(f.model);
      const data = loadSplit(f.data, f.split, f.limit);
      if (data.tokenizer.vocab.join(" ") !== folder.tokenizer.vocab.join(" ")) throw new UserError(`${f.model}/tokenizer.json differs from ${f.data}/tokenizer.json: the model was trained on another vocabulary`);
      if (folder.config.vision.image_size !== data.info.size || folder.config.vision.patch_size !== data.info.patch)
        throw new UserError(`${f.model}: the model takes ${folder.config.vision.image_size}px images in ${folder.config.vision.patch_size}px patches, the dataset has ${data.info.size}/${data.info.patch}`);
      const vlm = buildVlm(folder.config, 0);
      loadWeightsInto(vlm.store, folder.weights);
      const preds = predict(vlm, folder.tokenizer, data, { latents: folder.config.latent?.num_latents ?? 0, quiet: f.quiet || f.json, probes: { maskLatents: f.maskLatents, noImageForAnswer: !f.imageForAnswer } });
      const result = summarise(f.split, preds);
      if (f.predictions) writeFileAtomic(f.predictions, preds.map((p) => JSON.stringify(p)).join("\n") + "\n");
      process.stdout.write((f.json ? JSON.stringify(result) : formatResult(result)) + "\n");
      vlm.dispose();
    });
}
