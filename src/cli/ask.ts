import { Command } from "commander";
import { initEngine, scoped, tf } from "../engine/index.js";
import { encodePng } from "../data/png.js";
import { readSizedImage } from "../data/images.js";
import { loadWeightsInto, readModelFolder } from "../model/checkpoint.js";
import { numPatches } from "../model/config.js";
import { generateGreedy } from "../model/generate.js";
import { parseAnswer, promptIds } from "../model/sequence.js";
import { buildVlm, decoderForward, embedWithImage, IMAGE_START, patchify, projectVision, visionForward } from "../model/vlm.js";
import { probeBias } from "../eval/probes.js";
import { heatmapPanel, tile } from "../report/heatmap.js";
import { writeFileAtomic } from "../util/atomic.js";
import { topkIndices } from "../signals/maps.js";
import { parsePositiveInt } from "./parse.js";

interface AskFlags {
  model: string;
  image: string;
  json?: boolean;
  heatmap?: string;
  maskLatents?: boolean;
  imageForAnswer: boolean;
  top: number;
}

export function register(program: Command): void {
  program
    .command("ask")
    .description("answer one question about one image, showing where each latent thought looks")
    .argument("<question>", "the question, in the benchmark's words (e.g. \"what color is the circle ?\")")
    .requiredOption("--model <dir>", "model folder")
    .requiredOption("--image <png>", "image; must have the model's size (no silent resizing)")
    .option("--top <n>", "patches listed per latent step", parsePositiveInt("--top"), 5)
    .option("--heatmap <png>", "write the image with each latent step's attention over it")
    .option("--mask-latents", "probe: hide the latent tokens from the answer")
    .option("--no-image-for-answer", "probe: the answer cannot attend to the image (gate closed)")
    .option("--json", "print one JSON object")
    .action(async (question: string, f: AskFlags) => {
      await initEngine();
      const folder = readModelFolder(f.model);
      const cfg = folder.config;
      const img = readSizedImage(f.image, cfg.vision.image_size, { shownAs: `--image ${f.image}`, whose: "the model's image size: resize it first" });
      const vlm = buildVlm(cfg, 0);
      loadWeightsInto(vlm.store, folder.weights);
      const n = numPatches(cfg.vision);
      const grid = Math.round(Math.sqrt(n));
      const K = cfg.latent?.num_latents ?? 0;
      const prompt = promptIds(folder.tokenizer, n, question, K);
      const patches = tf.tensor3d(patchify(img.rgb, cfg.vision.image_size, cfg.vision.patch_size), [1, n, cfg.vision.patch_size ** 2 * 3]);
      const generated = generateGreedy(vlm, patches, [prompt], { maxNewTokens: 32, eos: folder.tokenizer.id("<eos>"), biasFor: probeBias(prompt.length, K, n, { maskLatents: f.maskLatents, noImageForAnswer: !f.imageForAnswer }) })[0];
      const text = folder.tokenizer.decode(generated);
      // Where each latent looks: its attention to the image tokens, averaged over layers and heads.
      const maps = scoped(() => {
        if (!K) return [] as Float32Array[];
        const ids = tf.tensor2d([prompt], [1, prompt.length], "int32");
        const out = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), { returnProbs: true });
        const mean = tf.mean(tf.stack(out.probs!.map((p) => tf.mean(p, 1))), 0);
        const rows = tf.slice(mean, [0, prompt.length - K, IMAGE_START], [1, K, n]).dataSync() as Float32Array;
        return Array.from({ length: K }, (_, k) => Float32Array.from(rows.subarray(k * n, (k + 1) * n)));
      });
      patches.dispose();
      vlm.dispose();
      const latentSteps = maps.map((m, k) => ({ latent: `<lvr${k + 1}>`, top_patches: topkIndices(m, f.top).map((p) => ({ patch: p, row: Math.floor(p / grid), col: p % grid, weight: +m[p].toFixed(4) })) }));
      if (f.heatmap) {
        const panels = [heatmapPanel(img.rgb, cfg.vision.image_size, grid, null), ...maps.map((m) => heatmapPanel(img.rgb, cfg.vision.image_size, grid, m))];
        const t = tile(panels, panels.length);
        writeFileAtomic(f.heatmap, encodePng(t.rgb, t.width, t.height));
      }
      const result = { question, answer: parseAnswer(text), generated: text.replace(/\s*<eos>\s*$/, ""), latent_steps: latentSteps };
      if (f.json) process.stdout.write(JSON.stringify(result) + "\n");
      else {
        process.stdout.write(`${result.answer ?? "(no answer)"}\n  generated: ${result.generated}\n`);
        for (const s of latentSteps) process.stdout.write(`  ${s.latent} looks at patches ${s.top_patches.map((p) => `${p.patch} (r${p.row} c${p.col})`).join(", ")}\n`);
        if (!K) process.stdout.write("  (this model has no latent thoughts)\n");
        if (f.heatmap) process.stdout.write(`  heatmap: ${f.heatmap}\n`);
      }
    });
}
