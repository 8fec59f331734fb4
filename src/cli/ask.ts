import { Command } from "commander";
import { ask, ASK_DEFAULTS, ASK_IO, askOptionsSchema } from "../stages/ask.js";
import { declareIo } from "./io.js";
import { optionParser } from "./parse.js";

interface AskFlags {
  model: string;
  image: string;
  json?: boolean;
  heatmap?: string;
  maskLatents?: boolean;
  imageForAnswer: boolean;
  top: number;
  force?: boolean;
}

export function register(program: Command): void {
  declareIo(program.command("ask"), ASK_IO)
    .description("answer one question about one image, showing where each latent thought looks")
    .argument("<question>", 'the question, in the benchmark\'s words (e.g. "what color is the circle ?")')
    .requiredOption("--model <dir>", "model folder")
    .requiredOption("--image <file>", "PNG or JPEG of any size (fitted to the model's size, aspect kept, padded; the heatmap is drawn over it as given)")
    .option("--top <n>", "patches listed per latent step", optionParser(askOptionsSchema.shape, "top"), ASK_DEFAULTS.top)
    .option("--heatmap <png>", "write the image with each latent step's attention over it")
    .option("--force", "replace an existing --heatmap file")
    .option("--mask-latents", "probe: hide the latent tokens from the answer")
    .option("--no-image-for-answer", "probe: the answer cannot attend to the image (gate closed)")
    .option("--json", "print one JSON object")
    .action(async (question: string, f: AskFlags) => {
      const result = await ask({
        question,
        model: f.model,
        image: f.image,
        top: f.top,
        heatmap: f.heatmap,
        force: f.force,
        maskLatents: f.maskLatents,
        noImageForAnswer: !f.imageForAnswer,
      });
      if (f.json) process.stdout.write(JSON.stringify(result) + "\n");
      else {
        process.stdout.write(`${result.answer ?? "(no answer)"}\n  generated: ${result.generated}\n`);
        for (const s of result.latent_steps)
          process.stdout.write(`  ${s.latent} looks at patches ${s.top_patches.map((p) => `${p.patch} (r${p.row} c${p.col})`).join(", ")}\n`);
        if (!result.latent_steps.length) process.stdout.write("  (this model has no latent thoughts)\n");
        if (f.heatmap) process.stdout.write(`  heatmap: ${f.heatmap}\n`);
      }
    });
}
