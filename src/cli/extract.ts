import { Command, InvalidArgumentError, Option } from "commander";
import { EXTRACT_DEFAULTS, EXTRACT_IO, extract, extractOptionsSchema, type ExtractStageOptions } from "../stages/extract.js";
import { declareIo } from "./io.js";
import { parseLayerSpec } from "../model/readout.js";
import { PRESETS } from "../stages/presets.js";
import { givenOptions } from "./options.js";
import { choicesOf, optionParser } from "./parse.js";

export function register(program: Command): void {
  const d = EXTRACT_DEFAULTS;
  declareIo(program.command("extract"), EXTRACT_IO)
    .description("run the teacher and write its white-box signals (trajectories + V_top) in the LaViT layout")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--out <dir>", "signals folder to write")
    .option("--teacher <dir>", "teacher model folder", d.teacher)
    .option("--split <split>", "split to extract", d.split)
    .addOption(new Option("--method <m>", "trajectory signal").choices(choicesOf(extractOptionsSchema.shape, "method")).default(d.method))
    .addOption(
      new Option("--layout <l>", "signals layout: lavit's (safetensors) or the official LaViT one (.pth, for its PyTorch trainer)")
        .choices(choicesOf(extractOptionsSchema.shape, "layout"))
        .default(d.layout),
    )
    .option("--topk <k>", "top-k patch indices stored per step", optionParser(extractOptionsSchema.shape, "topk"), d.topk)
    .option("--tau <t>", "softmax temperature of the gradient method", optionParser(extractOptionsSchema.shape, "tau"), d.tau)
    .option("--layers <l>", "decoder layers the attention maps average: all, last:N, or official (the last 8, all when fewer)", parseLayers, d.layers)
    .addOption(
      new Option("--queries <q>", "query rows of step t's map: the step's own tokens, or every token after the image up to step t (official)")
        .choices(choicesOf(extractOptionsSchema.shape, "queries"))
        .default(d.queries),
    )
    .addOption(
      new Option(
        "--gradient-recipe <r>",
        "--method gradient: lavit (one pass per step, min-max, softmax) or official (one map per token, softmax(|g|/tau), at most 10 per step, weighted by strength)",
      )
        .choices(choicesOf(extractOptionsSchema.shape, "gradientRecipe"))
        .default(d.gradientRecipe),
    )
    .addOption(
      new Option("--vtop-layer <l>", "V_top after the final norm, or the last layer's output before it (official)")
        .choices(choicesOf(extractOptionsSchema.shape, "vtopLayer"))
        .default(d.vtopLayer),
    )
    .option("--only-correct", "keep only the samples the teacher answers correctly (official)")
    .addOption(
      new Option("--preset <p>", "official: all of the public code's extraction choices at once (docs/fidelity.md)").choices([...PRESETS]).default(d.preset),
    )
    .option("--limit <n>", "only the first n samples", optionParser(extractOptionsSchema.shape, "limit"))
    .option("--allow-outside-root", "read manifest images that lead outside the --data folder")
    .option("--force", "replace an existing --out folder made by lavit extract")
    .option("--quiet", "no progress output")
    .action(async (_: unknown, cmd: Command) => {
      await extract(givenOptions<ExtractStageOptions>(cmd));
    });
}

function parseLayers(value: string) {
  const spec = parseLayerSpec(value);
  if (!spec) throw new InvalidArgumentError(`--layers must be all, official or last:N, got "${value}"`);
  return spec;
}
