import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { generateDataset } from "../data/generate.js";
import { GENERATE_DEFAULTS } from "./generate.js";
import { readDatasetInfo } from "../data/manifest.js";
import { FAMILIES } from "../data/families/family.js";
import { isUserError, UserError } from "../errors.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { readRegularFile } from "../util/read-guard.js";
import { buildDirAtomic, writeFileAtomic } from "../util/atomic.js";
import type { FamilyWeights } from "../train/family-weights.js";
import { trainTeacher } from "./pretrain.js";
import { quoteInput } from "../util/errors-text.js";

/**
 * A teacher recipe: the phases that make a teacher, one after another, each with the data it
 * trains on (generated into the run's folder) and its training flags. Phase p starts from phase
 * p-1's weights unless it says otherwise; the first starts from `init_from` or from scratch.
 * Demo and evaluation seeds (>= 100) are refused: a teacher never trains on them.
 */
const num = (lo: number, hi: number) => z.number().min(lo).max(hi);
const count = z.number().int().positive();

const dataSpec = z
  .object({
    seed: z.number().int().min(0).max(99, { message: "seeds >= 100 are demo and evaluation seeds; a teacher never trains on them" }),
    teacher_train: count,
    train: count.default(100),
    test: count.default(100),
    size: count.default(GENERATE_DEFAULTS.size),
    patch: count.default(GENERATE_DEFAULTS.patch),
    prior: num(0, 1).default(GENERATE_DEFAULTS.prior),
  })
  .strict();

const familyWeights = z.object(Object.fromEntries(FAMILIES.map((f) => [f, num(0, 100).optional()]))).strict();

// Unset fields take the teacher stage's defaults (TEACHER_DEFAULTS, TRAINER_DEFAULTS): one home for each.
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
    /** Model config file (default: the built-in teacher size). */
    config: z.string().optional(),
  })
  .strict();

const phaseSpec = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: "a phase name is lower-case letters, digits and dashes (it names the phase's folder)" }),
    data: dataSpec,
    train: trainSpec,
    /** A model folder (relative to the recipe file), or { "phase": name } of an earlier phase (default: the previous phase; the first: from scratch). */
    init_from: z.union([z.string(), z.object({ phase: z.string() }).strict()]).optional(),
  })
  .strict();

const recipeSchema = z
  .object({
    description: z.string().optional(),
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

/** What a recipe run reads and writes (the output guard's declaration; `train teacher --recipe` shares it). */
export const RECIPE_IO: IoSpec = { recipe: input(), out: outputFolder("model", "run") };

/** Reads and checks a recipe file: an unknown key or phase, a bad value, names the file and the key. */
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
  const seen = new Set<string>();
  recipe.phases.forEach((p, i) => {
    if (seen.has(p.name)) throw new UserError(`${file}: phases[${i}].name: phase ${quoteInput(p.name)} is named twice`);
    const from = p.init_from;
    if (from && typeof from === "object" && !seen.has(from.phase))
      throw new UserError(`${file}: phases[${i}].init_from.phase: unknown phase ${quoteInput(from.phase)} (earlier phases: ${[...seen].join(", ") || "none"})`);
    seen.add(p.name);
  });
  return recipe;
}

/** Where a recipe run keeps a phase's data and its training run. */
export function phaseDirs(out: string, phase: RecipePhase): { data: string; run: string } {
  return { data: join(out, `data-${phase.name}`), run: join(out, phase.name) };
}

/** A resumed recipe must keep the phases (and the start) of the one the run began with; it may add phases after them. */
function checkExtends(file: string, before: Recipe, now: Recipe, out: string): void {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(before.init_from, now.init_from))
    throw new UserError(`${file}: init_from differs from the recipe the run in ${out} was started with; resume with the same recipe or choose another --out`);
  before.phases.forEach((p, i) => {
    if (!same(p, now.phases[i]))
      throw new UserError(
        `${file}: phases[${i}] differs from the recipe the run in ${out} was started with (phase "${p.name}"); resume with the same phases (new ones may follow them) or choose another --out`,
      );
  });
}

/** The step a phase's run has checkpointed (0: not started). */
function phaseStep(runDir: string): number {
  const file = join(runDir, "trainer_state.json");
  if (!existsSync(file)) return 0;
  const state = JSON.parse(readFileSync(file, "utf8")) as { step?: unknown; elapsed_s?: unknown };
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
  resume?: boolean;
  quiet?: boolean;
  /** Progress lines (phase started, skipped, done). */
  log?: (line: string) => void;
}

export interface RecipeRunResult {
  /** The last phase's folder: the teacher. */
  model: string;
  /** Training seconds summed over the phases' runs (their checkpointed elapsed time). */
  trainSeconds: number;
}

/**
 * Runs a recipe's phases in order into `out` (`out/data-<phase>`, `out/<phase>`). With `resume`,
 * finished phases are skipped and the current one continues from its checkpoint; without it, a
 * folder that already holds a recipe run is refused.
 */
export async function runRecipe(file: string, out: string, opts: RecipeRunOptions = {}): Promise<RecipeRunResult> {
  return withOutputs(RECIPE_IO, { recipe: file, out }, () => runRecipeInto(file, out, opts));
}

async function runRecipeInto(file: string, out: string, opts: RecipeRunOptions): Promise<RecipeRunResult> {
  const recipe = readRecipe(file);
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
  // A recipe's model folders are where the recipe is, not where it is run from.
  const here = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(dirname(resolve(file)), p));
  let previous: string | undefined = here(recipe.init_from);
  let seconds = 0;
  for (const [i, phase] of recipe.phases.entries()) {
    const dirs = phaseDirs(out, phase);
    const from =
      phase.init_from === undefined
        ? i === 0
          ? here(recipe.init_from)
          : previous
        : typeof phase.init_from === "string"
          ? here(phase.init_from)
          : names.get(phase.init_from.phase);
    const t = phase.train;
    const done = phaseStep(dirs.run);
    if (done >= t.steps) {
      log(`phase ${phase.name}: finished (step ${done}), skipped`);
    } else {
      if (t.warmup !== undefined && t.warmup >= t.steps)
        throw new UserError(`${file}: phases[${i}].train.warmup ${t.warmup} must be smaller than steps ${t.steps}`);
      log(
        `phase ${phase.name}: ${done > 0 ? `resuming at step ${done}` : "starting"} (data seed ${phase.data.seed}, ${t.steps} steps${from ? `, from ${from}` : ""})`,
      );
      await ensureData(dirs.data, phase.data, !!opts.quiet);
      // Stopped before its first checkpoint: nothing to continue, so the phase starts again.
      if (done === 0) rmSync(dirs.run, { recursive: true, force: true });
      await trainTeacher({
        data: dirs.data,
        out: dirs.run,
        config: t.config,
        initFrom: from,
        auxPatch: t.aux_patch,
        answerWeight: t.answer_weight,
        groundAttention: t.ground_attention,
        groundTarget: t.ground_target,
        familyWeight: t.family_weight && (Object.fromEntries(Object.entries(t.family_weight).filter(([, w]) => w !== undefined)) as FamilyWeights),
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
      });
      log(`phase ${phase.name}: done, model in ${dirs.run}`);
    }
    const state = JSON.parse(readFileSync(join(dirs.run, "trainer_state.json"), "utf8")) as { elapsed_s: number };
    seconds += state.elapsed_s;
    names.set(phase.name, dirs.run);
    previous = dirs.run;
  }
  return { model: previous!, trainSeconds: seconds };
}
