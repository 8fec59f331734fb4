import { Command, Option } from "commander";
import { parseFamilyWeights } from "../train/family-weights.js";
import { GATE_MODES, GATE_SCHEDULES } from "../train/gate.js";
import { TARGET_TEXTS } from "../train/target-text.js";
import {
  BASE_DEFAULTS,
  BASE_IO,
  TEACHER_DEFAULTS,
  TEACHER_IO,
  teacherOptionsSchema,
  trainBase,
  trainTeacher,
  type BaseOptions,
  type TeacherOptions,
} from "../stages/pretrain.js";
import { STUDENT_DEFAULTS, STUDENT_IO, studentOptionsSchema, trainStudent, type StudentOptions } from "../stages/train-student.js";
import { declareIo } from "./io.js";
import { PRESETS } from "../stages/presets.js";
import { addTrainerOptions, givenOptions } from "./options.js";
import { RECIPE_IO, runRecipe, type RecipeModel } from "../stages/recipe.js";
import { UserError } from "../errors.js";
import { SPLITS } from "../data/manifest.js";
import { choicesOf, optionParser } from "./parse.js";

/** Flags of the two models pretrained with the per-patch auxiliary heads, the teacher and the student base (each also made by a recipe). */
function addPretrainOptions(cmd: Command, size: "teacher" | "student", d: { steps: number; split: string; auxPatch: number }): Command {
  return addRecipeOptions(addTrainerOptions(cmd, d.steps, false))
    .option("--config <file>", `model config JSON (default: the built-in ${size} size)`)
    .option("--split <split>", "training split", d.split)
    .option("--init-from <dir>", "start from this model folder's weights (a new run: fresh optimiser and schedule)")
    .option(
      "--aux-patch <w>",
      "weight of the per-patch shape/colour/position loss on the vision tower (0 = off)",
      optionParser(teacherOptionsSchema.shape, "auxPatch"),
      d.auxPatch,
    );
}

interface RecipeFlags {
  data?: string;
  recipe?: string;
  quick?: boolean;
}

/** `--recipe FILE [--quick]` of `train teacher` and `train base`: false when the command trains one run from its flags instead. */
async function recipeRun(o: RecipeFlags & { out: string; resume?: boolean; quiet?: boolean }, model: RecipeModel): Promise<boolean> {
  if (!o.recipe) {
    if (o.quick) throw new UserError("--quick needs --recipe <file>");
    if (!o.data) throw new UserError("--data <dir> is required (or --recipe <file>)");
    return false;
  }
  const clash = Object.keys(o).find((k) => !["recipe", "out", "resume", "quiet", "quick"].includes(k));
  if (clash) throw new UserError(`--${clash.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} cannot be combined with --recipe (the recipe sets it)`);
  const r = await runRecipe(o.recipe, o.out, {
    model,
    resume: o.resume,
    quick: o.quick,
    quiet: o.quiet,
    log: (line) => !o.quiet && process.stderr.write(line + "\n"),
  });
  process.stderr.write(`recipe done: ${r.trainSeconds.toFixed(0)} s of training; the ${model} is ${r.model} (model.safetensors sha256 ${r.sha256})\n`);
  return true;
}

/** The recipe flags, the same on `train teacher` and `train base`. */
function addRecipeOptions(cmd: Command): Command {
  return cmd
    .option(
      "--recipe <file>",
      "run a recipe file's phases one after another into --out (data included); with --resume, finished phases are skipped and the current one continues",
    )
    .option("--quick", "with --recipe: the recipe's phases at toy sizes (tiny data, model and step counts), a check of the machinery in seconds");
}

export function register(program: Command): void {
  const trainCmd = program.command("train").description("train a teacher, a student base, or a student");
  addPretrainOptions(
    declareIo(trainCmd.command("teacher"), { ...TEACHER_IO, ...RECIPE_IO }).description(
      "train the teacher VLM on the teacher-train split (rationale + answer), or run a teacher recipe",
    ),
    "teacher",
    TEACHER_DEFAULTS,
  )
    .option(
      "--answer-weight <w>",
      "loss weight of the answer word relative to the rationale tokens",
      optionParser(teacherOptionsSchema.shape, "answerWeight"),
      TEACHER_DEFAULTS.answerWeight,
    )
    .option(
      "--family-weight <list>",
      "how often each question family is seen relative to the data, e.g. depth=3,attribute=0.5 (0 drops a family; unnamed families keep 1)",
      parseFamilyWeights,
    )
    .option(
      "--ground-attention <w>",
      "weight of the grounding term: each rationale step's attention to the image (as extraction reads it) pulled onto the step's ground-truth patches (0 = off)",
      optionParser(teacherOptionsSchema.shape, "groundAttention"),
      TEACHER_DEFAULTS.groundAttention,
    )
    .option(
      "--ground-target <mass>",
      "the grounding term's hinge: a step that already puts this much of its image attention on its patches costs nothing (1 = always pulled further)",
      optionParser(teacherOptionsSchema.shape, "groundTarget"),
      TEACHER_DEFAULTS.groundTarget,
    )
    .option(
      "--vision-only",
      "train the vision tower alone on the per-patch heads (no text; the decoder is left as it is): a cheap first phase for a teacher from scratch",
    )
    .action(async (_: unknown, cmd: Command) => {
      const o = givenOptions<TeacherOptions & RecipeFlags>(cmd);
      if (await recipeRun(o, "teacher")) return;
      await trainTeacher({ ...o, data: o.data! });
    });
  addPretrainOptions(
    declareIo(trainCmd.command("base"), { ...BASE_IO, ...RECIPE_IO }).description(
      "pretrain the student base model on scene descriptions of the teacher-train images (no questions), or run a student-base recipe; students start from it",
    ),
    "student",
    BASE_DEFAULTS,
  )
    .option(
      "--vision-from <dir>",
      "start the vision tower (and its per-patch heads) from this model folder's, e.g. the teacher's; its vision config must be the same",
    )
    .action(async (_: unknown, cmd: Command) => {
      const o = givenOptions<BaseOptions & RecipeFlags>(cmd);
      if (await recipeRun(o, "student-base")) return;
      await trainBase({ ...o, data: o.data! });
    });

  const d = STUDENT_DEFAULTS;
  addTrainerOptions(
    declareIo(trainCmd.command("student"), STUDENT_IO).description(
      "train a student: LaViT (latent visual thoughts, alignment, gating) or the distill baseline; the defaults are the demo's recipe",
    ),
    d.steps,
  )
    .addOption(
      new Option("--mode <mode>", "lavit, or distill (CE on the teacher's text only, no latents)")
        .choices(choicesOf(studentOptionsSchema.shape, "mode"))
        .default(d.mode),
    )
    .requiredOption("--signals <dir>", "teacher signals folder (from `lavit extract`)")
    .option("--teacher <dir>", "teacher model folder, to check the signals against its config")
    .option("--config <file>", "student model config JSON (default: the --init-from model's size, else the built-in student size)")
    .option("--split <split>", "split the signals were extracted from (default: from the signals' summary.json)")
    .option("--metadata <file>", "the official layout's metadata JSON, when not at data/metadata/ under --signals")
    .option("--allow-outside-root", "read signal files whose paths lead outside the --signals folder")
    .option("--strict", "refuse signals and a split that do not hold the same samples (default: train on those both have, and say how many are not)")
    .option(
      "--init-from <dir>",
      "start from this base model's weights (`lavit train base`), or `none` to train from scratch; the LaViT heads start fresh",
      d.initFrom ?? "none",
    )
    .option("--freeze-vision", "keep the --init-from vision tower as it is (the default when starting from a base)")
    .option("--no-freeze-vision", "train the --init-from vision tower too")
    .option("--latents <k>", "latent visual thought tokens K", optionParser(studentOptionsSchema.shape, "latents"), d.latents)
    .option("--w-vtop <w>", "weight of the V_top loss", optionParser(studentOptionsSchema.shape, "wVtop"), d.wVtop)
    .option("--w-traj <w>", "weight of the trajectory loss", optionParser(studentOptionsSchema.shape, "wTraj"), d.wTraj)
    .addOption(
      new Option(
        "--vtop-target <t>",
        "V_top target: per latent, pooled with its step's map; the mean over image tokens for every latent; or the mean from the last latent only (public code)",
      )
        .choices(choicesOf(studentOptionsSchema.shape, "vtopTarget"))
        .default(d.vtopTarget),
    )
    .option(
      "--traj-topk <k>",
      "sparsify teacher step distributions to their top k (0: keep them whole, as the public trainer)",
      optionParser(studentOptionsSchema.shape, "trajTopk"),
      d.trajTopk,
    )
    .addOption(
      new Option("--traj-source <s>", "align the trajectory head's read-out (public code) or the student's own attention")
        .choices(choicesOf(studentOptionsSchema.shape, "trajSource"))
        .default(d.trajSource),
    )
    .addOption(
      new Option("--traj-target <t>", "steps: latent k aligns to step k; first-last: step 1 from the last latent only (public code)")
        .choices(choicesOf(studentOptionsSchema.shape, "trajTarget"))
        .default(d.trajTarget),
    )
    .addOption(
      new Option(
        "--traj-head <f>",
        "alignment heads: lavit's (unbiased query scaled by 1/sqrt(d), lavit.* names) or the public code's (biased query, no scale, v_top_head.mlp.{0,2} and traj_head.query_proj)",
      )
        .choices(choicesOf(studentOptionsSchema.shape, "trajHead"))
        .default(d.trajHead),
    )
    .addOption(
      new Option(
        "--gate-schedule <s>",
        "how the sensory gate opens; two-stage: the public code's bottleneck then joint stages (CE + visual losses in both); two-stage-visual-only: CE off in the bottleneck stage",
      )
        .choices([...GATE_SCHEDULES])
        .default(d.gateSchedule),
    )
    .option(
      "--gate-open-at <f>",
      `fraction of training by which vision is fully open (two-stage: where stage 2 begins, default ${d.twoStage.gateOpenAt})`,
      optionParser(studentOptionsSchema.shape, "gateOpenAt"),
      d.gateOpenAt,
    )
    .option(
      "--stage2-lr-ratio <x>",
      `two-stage: stage 2's peak learning rate as a fraction of --lr (default with two-stage: ${d.twoStage.stage2LrRatio}, the public 2e-6 / 5e-6)`,
      optionParser(studentOptionsSchema.shape, "stage2LrRatio"),
    )
    .option("--stage2-reset-optimizer", "two-stage: start stage 2 with a fresh optimiser (the default with two-stage)")
    .option("--no-stage2-reset-optimizer", "two-stage: keep the optimiser state into stage 2")
    .addOption(
      new Option(
        "--preset <p>",
        "official: all of the public code's training choices at once (docs/fidelity.md); expects signals from `lavit extract --preset official`",
      )
        .choices([...PRESETS])
        .default(d.preset),
    )
    .addOption(
      new Option("--gate-mode <m>", "hard: hide a scheduled fraction of patches; soft: additive log-gate bias").choices([...GATE_MODES]).default(d.gateMode),
    )
    .option("--gate-prompt", "also gate the question tokens (the default with two-stage)")
    .option("--no-gate-prompt", "two-stage: leave the question open to the image in stage 1")
    .option(
      "--answer-weight <w>",
      "loss weight of the answer word relative to the rationale tokens (both modes alike)",
      optionParser(studentOptionsSchema.shape, "answerWeight"),
      d.answerWeight,
    )
    .addOption(
      new Option(
        "--target-text <t>",
        "what the student learns to write: the teacher's text (full), or without the grid coordinates of its look steps (no-coords; both modes alike)",
      )
        .choices([...TARGET_TEXTS])
        .default(d.targetText),
    )
    .option(
      "--eval-every <k>",
      "every k steps and at the last, answer --eval-split with the model being trained: a line of kind eval in metrics.jsonl (0 = off)",
      optionParser(studentOptionsSchema.shape, "evalEvery"),
      d.evalEvery,
    )
    .addOption(new Option("--eval-split <s>", "the split of --data those evaluations answer").choices([...SPLITS]).default(d.evalSplit))
    .option("--eval-limit <n>", "evaluate only the first n samples of --eval-split", optionParser(studentOptionsSchema.shape, "evalLimit"))
    .option("--no-traj", "drop the trajectory loss (ablation)")
    .option("--no-vtop", "drop the V_top loss (ablation)")
    .option("--no-gate", "no sensory gate (ablation)")
    .action(async (_: unknown, cmd: Command) => {
      const o = givenOptions<StudentOptions & { initFrom?: string }>(cmd);
      await trainStudent({ ...o, ...(o.initFrom === "none" ? { initFrom: null } : {}) });
    });
}
