import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { generateDataset } from "../data/generate.js";
import { GENERATE_DEFAULTS } from "./generate.js";
import { readDatasetInfo } from "../data/manifest.js";
import { FAMILIES } from "../data/families/family.js";
import { Tokenizer } from "../data/tokenizer.js";
import { isUserError, UserError } from "../errors.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { readRegularFile } from "../util/read-guard.js";
import { buildDirAtomic, writeFileAtomic } from "../util/atomic.js";
import type { FamilyWeights } from "../train/family-weights.js";
import type { StepInfo } from "../train/result.js";
import { quickConfig } from "../model/presets.js";
import { TEACHER_DEFAULTS, trainBase, trainTeacher } from "./pretrain.js";
import { quoteInput } from "../util/errors-text.js";

/**
 * A recipe: the phases that make a model (the teacher, or the student base), one after another,
 * each with the data it trains on (generated into the run's folder) and its training flags.
 * Phase p starts from phase p-1's weights unless it says otherwise; the first starts from
 * `init_from` or from scratch. A recipe marked `from_scratch` starts nowhere but from random
 * weights and its own earlier phases. Demo, study and evaluation seeds (>= 100) are refused:
 * a recipe never trains on them.
 */
const num = (lo: number, hi: number) => z.number().min(lo).max(hi);
const count = z.number().int().positive();

/** The model a recipe makes, and the stage (`lavit train <stage>`) that trains it. */
export const RECIPE_MODELS = { teacher: "teacher", "student-base": "base" } as const;
export type RecipeModel = keyof typeof RECIPE_MODELS;
const STAGES = ["teacher", "base"] as const;
type Stage = (typeof STAGES)[number];

/** The defaults of a recipe's own keys (a phase's training flags default to its stage's). */
export const RECIPE_DEFAULTS = { from_scratch: false } as const;

/**
 * `--quick`: the same phases, starts and resumes at toy sizes (tiny data, a few steps, the tiny
 * model of `quickConfig`), to check the machinery in seconds; its model is no teacher.
 */
export const QUICK = {
  data: { teacher_train: 96, train: 8, test: 8, size: 32, patch: 8 },
  train: { steps: 4, warmup: 1, batch_size: 4, log_every: 1, checkpoint_every: 2 },
} as const;

const dataSpec = z
  .object({
    seed: z.number().int().min(0).max(99, { message: "seeds >= 100 are demo, study and evaluation seeds; a recipe never trains on them" }),
    teacher_train: count,
    train: count.default(100),
    test: count.default(100),
    size: count.default(GENERATE_DEFAULTS.size),
    patch: count.default(GENERATE_DEFAULTS.patch),
    prior: num(0, 1).default(GENERATE_DEFAULTS.prior),
  })
  .strict();

const familyWeights = z.object(Object.fromEntries(FAMILIES.map((f) => [f, num(0, 100).optional()]))).strict();

/** Keys only a teacher phase takes (the student base answers no question and has no grounding term). */
const TEACHER_ONLY = ["answer_weight", "ground_attention", "ground_target", "family_weight", "vision_only"] as const;

// Unset fields take the stage's defaults (TEACHER_DEFAULTS or BASE_DEFAULTS, TRAINER_DEFAULTS): one home for each.
const trainSpec = z
  .object({
    steps: count,
    batch_size: count.optional(),
    lr: num(0, 1).optional(),
    warmup: z.number().int().nonnegative().optional(),
    min_lr_ratio: num(0, 1).optional(),
    weight_decay: num(0, 1).optional(),
    clip: num(0, 1e6).optional(),
    seed: z.number().int().nonnegative().optional(),
    log_every: count.optional(),
    checkpoint_every: count.optional(),
    aux_patch: num(0, 100).optional(),
    answer_weight: num(0, 100).optional(),
    ground_attention: num(0, 100).optional(),
    ground_target: z.number().gt(0).max(1).optional(),
    family_weight: familyWeights.optional(),
    /** Teacher phases: the vision tower alone on the per-patch heads (no text). */
    vision_only: z.boolean().optional(),
    /** Model config file, relative to the recipe file (default: the stage's built-in size). */
    config: z.string().optional(),
  })
  .strict();

const phaseRef = z.object({ phase: z.string() }).strict();

const phaseSpec = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: "a phase name is lower-case letters, digits and dashes (it names the phase's folder)" }),
    /** Which stage trains the phase (default: the stage of the recipe's model). */
    stage: z.enum(STAGES).optional(),
    data: dataSpec,
    train: trainSpec,
    /** A model folder (relative to the recipe file), or { "phase": name } of an earlier phase (default: the previous phase; the first: the recipe's init_from, else from scratch). */
    init_from: z.union([z.string(), phaseRef]).optional(),
    /** Base phases: the vision tower (and its per-patch heads) from this model folder or earlier phase; the rest from scratch. */
    vision_from: z.union([z.string(), phaseRef]).optional(),
  })
  .strict();

const recipeSchema = z
  .object({
    description: z.string().optional(),
    /** What the recipe makes: its last phase's stage trains this model. */
    model: z.enum(Object.keys(RECIPE_MODELS) as [RecipeModel, ...RecipeModel[]]),
    /** Only random weights and the recipe's own earlier phases: no init_from or vision_from outside it. */
    from_scratch: z.boolean().optional(),
    /** Model folder the first phase starts from, relative to the recipe file (default: from scratch). */
    init_from: z.string().optional(),
    phases: z.array(phaseSpec).min(1),
  })
  .strict();

export type Recipe = z.infer<typeof recipeSchema>;
export type RecipePhase = z.infer<typeof phaseSpec>;

function keyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}

/** What a recipe run reads and writes (the output guard's declaration; `train teacher|base --recipe` share it). */
export const RECIPE_IO: IoSpec = { recipe: input(), out: outputFolder("model", "run") };

/** The stage that trains a phase. */
export function phaseStage(recipe: Recipe, phase: RecipePhase): Stage {
  return phase.stage ?? RECIPE_MODELS[recipe.model];
}

/** Reads and checks a recipe file: an unknown key or phase, a bad value or a start outside a from-scratch recipe names the file and the key. */
export function readRecipe(file: string): Recipe {
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFile(file, "utf8"));
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: not a readable JSON recipe (${(e as Error).message.split("\n")[0]})`);
  }
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === "unrecognized_keys") {
      const where = keyPath(issue.path);
      throw new UserError(`${file}: unknown key ${issue.keys.map((k) => `"${where ? `${where}.` : ""}${k}"`).join(", ")}`);
    }
    throw new UserError(`${file}: ${keyPath(issue.path) || "(top level)"}: ${issue.message}`);
  }
  const recipe = parsed.data;
  checkStarts(file, recipe);
  checkPhaseFlags(file, recipe);
  return recipe;
}

/**
 * The flag combinations a phase's stage refuses, refused when the recipe is read (before any
 * phase runs, so a late phase cannot fail hours in) and named by the recipe's keys.
 */
function checkPhaseFlags(file: string, recipe: Recipe): void {
  recipe.phases.forEach((p, i) => {
    const t = p.train;
    const at = `${file}: phases[${i}].train`;
    if (t.warmup !== undefined && t.warmup >= t.steps) throw new UserError(`${at}.warmup: ${t.warmup} must be smaller than steps ${t.steps}`);
    if (!t.vision_only) return;
    if (!((t.aux_patch ?? TEACHER_DEFAULTS.auxPatch) > 0))
      throw new UserError(`${at}.vision_only: trains the vision tower on the per-patch heads, so aux_patch must be above 0`);
    if ((t.ground_attention ?? TEACHER_DEFAULTS.groundAttention) > 0)
      throw new UserError(`${at}.vision_only: trains no text, so it cannot be combined with ground_attention`);
  });
}

/** Where each phase starts: earlier phases only, of a stage whose weights fit; nothing outside a from-scratch recipe. */
function checkStarts(file: string, recipe: Recipe): void {
  const scratch = recipe.from_scratch ?? RECIPE_DEFAULTS.from_scratch;
  const outside = (key: string, dir: string) =>
    new UserError(
      `${file}: ${key}: ${quoteInput(dir)} is outside the recipe; a "from_scratch": true recipe starts only from random weights and its own earlier phases ({ "phase": "<name>" })`,
    );
  if (scratch && recipe.init_from !== undefined) throw outside("init_from", recipe.init_from);
  const stages = new Map<string, Stage>();
  recipe.phases.forEach((p, i) => {
    const at = `phases[${i}]`;
    const stage = phaseStage(recipe, p);
    if (stages.has(p.name)) throw new UserError(`${file}: ${at}.name: phase ${quoteInput(p.name)} is named twice`);
    if (stage === "base") {
      const key = TEACHER_ONLY.find((k) => p.train[k] !== undefined);
      if (key) throw new UserError(`${file}: ${at}.train.${key}: a base phase has no ${key} (only teacher phases do)`);
    } else if (p.vision_from !== undefined) throw new UserError(`${file}: ${at}.vision_from: only a base phase takes a vision tower from elsewhere`);
    if (p.init_from !== undefined && p.vision_from !== undefined)
      throw new UserError(`${file}: ${at}: init_from and vision_from exclude each other (init_from already sets the vision tower)`);
    for (const key of ["init_from", "vision_from"] as const) {
      const from = p[key];
      if (typeof from === "string") {
        if (scratch) throw outside(`${at}.${key}`, from);
      } else if (from !== undefined) {
        const other = stages.get(from.phase);
        if (!other)
          throw new UserError(
            `${file}: ${at}.${key}.phase: unknown phase ${quoteInput(from.phase)} (earlier phases: ${[...stages.keys()].join(", ") || "none"})`,
          );
        if (key === "init_from" && other !== stage)
          throw new UserError(
            `${file}: ${at}.init_from.phase: phase ${quoteInput(from.phase)} is a ${other} phase and this one a ${stage} phase (their sizes differ)`,
          );
      }
    }
    const previous = recipe.phases[i - 1];
    if (previous && p.init_from === undefined && p.vision_from === undefined && phaseStage(recipe, previous) !== stage)
      throw new UserError(
        `${file}: ${at}: follows a ${phaseStage(recipe, previous)} phase, whose weights a ${stage} phase cannot take; say where it starts (init_from or vision_from)`,
      );
    stages.set(p.name, stage);
  });
  const last = recipe.phases.length - 1;
  const want = RECIPE_MODELS[recipe.model];
  if (phaseStage(recipe, recipe.phases[last]) !== want)
    throw new UserError(`${file}: phases[${last}].stage: the last phase makes the recipe's model (${recipe.model}), so it is a ${want} phase`);
}

/** Whether a phase starts from a model folder outside the recipe (whose size and image geometry a quick run must keep). */
function startsOutside(recipe: Recipe): boolean {
  return recipe.init_from !== undefined || recipe.phases.some((p) => typeof p.init_from === "string" || typeof p.vision_from === "string");
}

/**
 * The recipe at `--quick` sizes: every phase, start and flag kept, the data and steps tiny. The
 * model and images shrink too (`quickConfig`), unless the recipe starts from a model folder:
 * then they keep that model's size.
 */
export function quickRecipe(recipe: Recipe): Recipe {
  const { size, patch, ...counts } = QUICK.data;
  const tiny = !startsOutside(recipe);
  return {
    ...recipe,
    phases: recipe.phases.map((p) => ({
      ...p,
      data: { ...p.data, ...counts, ...(tiny ? { size, patch } : {}) },
      train: { ...p.train, ...QUICK.train, ...(tiny ? { config: undefined } : {}) },
    })),
  };
}

/**
 * Where a recipe run keeps a phase's data and its training run. Phases that ask for the same data
 * share the first one's folder (`data-<first>`): generated once, the same samples either way.
 */
export function phaseDirs(out: string, recipe: Recipe, phase: RecipePhase): { data: string; run: string } {
  const first = recipe.phases.find((p) => isDeepStrictEqual(p.data, phase.data)) ?? phase;
  return { data: join(out, `data-${first.name}`), run: join(out, phase.name) };
}

/** A resumed recipe must keep the phases (and the start) of the one the run began with; it may add phases after them. */
function checkExtends(file: string, before: Recipe, now: Recipe, out: string): void {
  // Key order is the writer's (a quick run's added keys come last), so compare values, not text.
  const plain = (a: unknown) => (a === undefined ? a : JSON.parse(JSON.stringify(a)));
  const same = (a: unknown, b: unknown) => isDeepStrictEqual(plain(a), plain(b));
  for (const key of ["model", "from_scratch", "init_from"] as const)
    if (!same(before[key], now[key]))
      throw new UserError(
        `${file}: ${key} differs from the recipe the run in ${out} was started with; resume with the same recipe (and --quick or not) or choose another --out`,
      );
  before.phases.forEach((p, i) => {
    if (!same(p, now.phases[i]))
      throw new UserError(
        `${file}: phases[${i}] differs from the recipe the run in ${out} was started with (phase "${p.name}"); resume with the same phases (new ones may follow them, --quick or not as before) or choose another --out`,
      );
  });
}

/** The step a phase's run has checkpointed (0: not started). */
function phaseStep(runDir: string): number {
  const file = join(runDir, "trainer_state.json");
  if (!existsSync(file)) return 0;
  const state = JSON.parse(readFileSync(file, "utf8")) as { step?: unknown };
  return typeof state.step === "number" ? state.step : 0;
}

async function ensureData(dir: string, spec: RecipePhase["data"], quiet: boolean): Promise<void> {
  const want = {
    seed: spec.seed,
    setting: "default" as const,
    size: spec.size,
    patch: spec.patch,
    prior: spec.prior,
    teacherTrain: spec.teacher_train,
    train: spec.train,
    test: spec.test,
  };
  if (existsSync(join(dir, "dataset.json"))) {
    const info = readDatasetInfo(dir);
    if (info.seed !== want.seed || info.size !== want.size || info.patch !== want.patch || info.splits["teacher-train"] !== want.teacherTrain)
      throw new UserError(
        `${dir}: holds data of seed ${info.seed} (${info.splits["teacher-train"]} teacher-train samples), not the recipe's seed ${want.seed} (${want.teacherTrain}); choose another --out`,
      );
    return;
  }
  await buildDirAtomic(dir, (tmp) => generateDataset(tmp, { ...want, quiet }), "dataset");
}

export interface RecipeRunOptions {
  /** The model the command makes: a recipe for another is refused. */
  model: RecipeModel;
  resume?: boolean;
  /** Run the recipe's `--quick` variant (`quickRecipe`). */
  quick?: boolean;
  quiet?: boolean;
  /** Progress lines (phase started, skipped, done). */
  log?: (line: string) => void;
  /** After every step of a phase; throwing stops the run with that step's checkpoint kept, as a crash would. */
  onStep?: (phase: string, info: StepInfo) => void | Promise<void>;
}

export interface RecipeRunResult {
  /** The last phase's folder: the model. */
  model: string;
  /** sha256 of its model.safetensors. */
  sha256: string;
  /** Training seconds summed over the phases' runs (their checkpointed elapsed time). */
  trainSeconds: number;
}

/**
 * Runs a recipe's phases in order into `out` (`out/data-<phase>`, `out/<phase>`). With `resume`,
 * finished phases are skipped and the current one continues from its checkpoint; without it, a
 * folder that already holds a recipe run is refused.
 */
export async function runRecipe(file: string, out: string, opts: RecipeRunOptions): Promise<RecipeRunResult> {
  return withOutputs(RECIPE_IO, { recipe: file, out }, () => runRecipeInto(file, out, opts));
}

/** The tiny model config of a quick run's stage, written beside its phases (the stages read configs from files). */
function quickConfigFile(out: string, stage: Stage, data: RecipePhase["data"]): string {
  const file = join(out, `quick-${stage}.json`);
  writeFileAtomic(file, JSON.stringify(quickConfig(stage, Tokenizer.forGrammar().size, data.size, data.patch), null, 2) + "\n");
  return file;
}

async function runRecipeInto(file: string, out: string, opts: RecipeRunOptions): Promise<RecipeRunResult> {
  const read = readRecipe(file);
  if (read.model !== opts.model)
    throw new UserError(`${file}: model: the recipe makes a ${read.model}; run it with \`lavit train ${RECIPE_MODELS[read.model]} --recipe\``);
  const recipe = opts.quick ? quickRecipe(read) : read;
  const log = opts.log ?? (() => {});
  const copy = join(out, "recipe.json");
  const text = JSON.stringify(recipe, null, 2) + "\n";
  if (existsSync(copy)) {
    if (!opts.resume) throw new UserError(`${out} already holds a recipe run (recipe.json); pass --resume to continue it or choose another --out`);
    checkExtends(file, readRecipe(copy), recipe, out);
    // A recipe may grow phases at its end between resumes; what already ran stays as it was.
    writeFileAtomic(copy, text);
  } else {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(copy, text);
  }
  const names = new Map<string, string>();
  // A recipe's model folders and configs are where the recipe is, not where it is run from.
  const here = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(dirname(resolve(file)), p));
  const where = (ref: RecipePhase["init_from"]) => (ref === undefined ? undefined : typeof ref === "string" ? here(ref) : names.get(ref.phase));
  let previous: string | undefined;
  let seconds = 0;
  for (const [i, phase] of recipe.phases.entries()) {
    const dirs = phaseDirs(out, recipe, phase);
    const stage = phaseStage(recipe, phase);
    const visionFrom = where(phase.vision_from);
    const from = phase.init_from !== undefined ? where(phase.init_from) : visionFrom !== undefined ? undefined : i === 0 ? here(recipe.init_from) : previous;
    const t = phase.train;
    const done = phaseStep(dirs.run);
    if (done >= t.steps) {
      log(`phase ${phase.name}: finished (step ${done}), skipped`);
    } else {
      log(
        `phase ${phase.name} (${stage}): ${done > 0 ? `resuming at step ${done}` : "starting"} (data seed ${phase.data.seed}, ${t.steps} steps${
          from ? `, from ${from}` : visionFrom ? `, vision tower from ${visionFrom}` : ", from scratch"
        })`,
      );
      await ensureData(dirs.data, phase.data, !!opts.quiet);
      // Stopped before its first checkpoint: nothing to continue, so the phase starts again.
      if (done === 0) rmSync(dirs.run, { recursive: true, force: true });
      const common = {
        data: dirs.data,
        out: dirs.run,
        config: opts.quick && !startsOutside(recipe) ? quickConfigFile(out, stage, phase.data) : here(t.config),
        initFrom: from,
        auxPatch: t.aux_patch,
        steps: t.steps,
        batchSize: t.batch_size,
        lr: t.lr,
        warmup: t.warmup,
        minLrRatio: t.min_lr_ratio,
        weightDecay: t.weight_decay,
        clip: t.clip,
        seed: t.seed,
        logEvery: t.log_every,
        checkpointEvery: t.checkpoint_every,
        resume: done > 0 && !!opts.resume,
        quiet: opts.quiet,
        onStep: opts.onStep && ((info: StepInfo) => opts.onStep!(phase.name, info)),
      };
      if (stage === "base") await trainBase({ ...common, visionFrom });
      else
        await trainTeacher({
          ...common,
          answerWeight: t.answer_weight,
          groundAttention: t.ground_attention,
          groundTarget: t.ground_target,
          visionOnly: t.vision_only,
          familyWeight: t.family_weight && (Object.fromEntries(Object.entries(t.family_weight).filter(([, w]) => w !== undefined)) as FamilyWeights),
        });
      log(`phase ${phase.name}: done, model in ${dirs.run}`);
    }
    const state = JSON.parse(readFileSync(join(dirs.run, "trainer_state.json"), "utf8")) as { elapsed_s: number };
    seconds += state.elapsed_s;
    names.set(phase.name, dirs.run);
    previous = dirs.run;
  }
  const model = previous!;
  const sha256 = createHash("sha256")
    .update(readFileSync(join(model, "model.safetensors")))
    .digest("hex");
  return { model, sha256, trainSeconds: seconds };
}
