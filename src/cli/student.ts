import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { initEngine } from "../engine/index.js";
import { loadSplit, type LoadedSplit } from "../data/dataset.js";
import { initFromFolder, readModelFolder } from "../model/checkpoint.js";
import type { ParamStore } from "../model/params.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { readVlmConfig, type VlmConfig } from "../model/config.js";
import { studentConfig } from "../model/presets.js";
import { buildVlm } from "../model/vlm.js";
import { readSignals, type SampleSignals } from "../signals/layout.js";
import { TARGET_TEXTS, type TargetText, studentTargetText } from "../train/target-text.js";
import { GATE_MODES, GATE_SCHEDULES, type GateMode, type GateSchedule } from "../train/gate.js";
import { lavitTask, type LavitSettings } from "../train/student.js";
import { teacherTask } from "../train/teacher.js";
import { addTrainerOptions, trainerOptions, trainToFolder, type CommonTrainFlags } from "./train.js";
import { UserError } from "../errors.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";

export interface StudentFlags extends CommonTrainFlags, Omit<LavitSettings, "gate"> {
  mode: "lavit" | "distill";
  signals: string;
  teacher?: string;
  config?: string;
  split?: string;
  initFrom?: string;
  gateSchedule: GateSchedule;
  gateOpenAt: number;
  gateMode: GateMode;
  gatePrompt?: boolean;
  traj: boolean;
  vtop: boolean;
  gate: boolean;
  freezeVision?: boolean;
  answerWeight: number;
  targetText: TargetText;
}

/** LaViT-only flags; giving one with --mode distill is a contradiction, not a no-op. */
const LAVIT_ONLY = ["latents", "wVtop", "wTraj", "vtopTarget", "trajTopk", "trajSource", "gateSchedule", "gateOpenAt", "gateMode", "gatePrompt", "traj", "vtop", "gate"] as const;
const FLAG: Record<(typeof LAVIT_ONLY)[number], string> = {
  latents: "--latents", wVtop: "--w-vtop", wTraj: "--w-traj", vtopTarget: "--vtop-target", trajTopk: "--traj-topk", trajSource: "--traj-source",
  gateSchedule: "--gate-schedule", gateOpenAt: "--gate-open-at", gateMode: "--gate-mode", gatePrompt: "--gate-prompt", traj: "--no-traj", vtop: "--no-vtop", gate: "--no-gate",
};

/** Training samples that have signals, in the signals' order, and the split they come from. */
function joinSignals(f: StudentFlags): { data: LoadedSplit; signals: SampleSignals[] } {
  const summaryFile = join(f.signals, "summary.json");
  const split = f.split ?? (existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as { split?: string }).split : undefined) ?? "train";
  const full = loadSplit(f.data, split);
  const { samples: signals } = readSignals(f.signals, full.info.size / full.info.patch);
  const byId = new Map(full.samples.map((s, i) => [s.id, i]));
  const order = signals.map((sig, k) => {
    const i = sig.result.id !== undefined ? byId.get(sig.result.id) : undefined;
    if (i === undefined) throw new UserError(`${join(f.signals, "metadata.json")}: results.${k} (id ${sig.result.id ?? "missing"}) is not a sample of ${f.data} split ${split}`);
    return i;
  });
  return { data: { ...full, samples: order.map((i) => full.samples[i]), images: order.map((i) => full.images[i]) }, signals };
}

export async function runStudent(f: StudentFlags, sources: (name: string) => string | undefined): Promise<void> {
  if (f.mode === "distill") {
    const given = LAVIT_ONLY.filter((k) => sources(k) === "cli");
    if (given.length) throw new UserError(`${FLAG[given[0]]} has no meaning with --mode distill (the baseline has no latents, alignment losses or gate)`);
  }
  if (f.mode === "lavit" && f.latents === 0) throw new UserError("--latents 0 leaves LaViT nothing to align; use --mode distill for a student without latents");
  await initEngine();
  const joined = joinSignals(f);
  const data = joined.data;
  // Rewritten once here, so both students' tasks read the text they are to learn as it stands.
  const signals = f.targetText === "full" ? joined.signals : joined.signals.map((s) => ({ ...s, result: { ...s.result, ground_truth_enriched: studentTargetText(s.result.ground_truth_enriched, f.targetText) } }));
  const vDim = signals[0].vTop.dim;
  for (const s of signals) if (s.vTop.dim !== vDim) throw new UserError(`${join(f.signals, s.result.v_top_path_abs)}: V_top width ${s.vTop.dim}, but results.0 has ${vDim}`);
  if (f.teacher) {
    const t = readModelFolder(f.teacher);
    if (t.config.decoder.hidden_size !== vDim) throw new UserError(`${f.signals}: V_top width ${vDim} disagrees with the teacher config ${join(f.teacher, "config.json")} (hidden_size ${t.config.decoder.hidden_size})`);
  }
  const latents = f.mode === "lavit" ? f.latents : 0;
  // A student starting from a base has the base's size (on --resume too: the checkpoint has it);
  // the base's vocabulary may be a prefix of the data's (initFromFolder checks), so the data's size wins.
  const sizeSource = f.config ?? (f.initFrom ? join(f.initFrom, "config.json") : undefined);
  const sized = sizeSource ? readVlmConfig(sizeSource) : studentConfig(data.tokenizer.size, data.info.size, data.info.patch);
  const config: VlmConfig = {
    ...sized,
    decoder: f.config ? sized.decoder : { ...sized.decoder, vocab_size: data.tokenizer.size },
    latent: latents > 0 ? { num_latents: latents, teacher_hidden_size: vDim } : undefined,
  };
  if (config.vision.image_size !== data.info.size || config.vision.patch_size !== data.info.patch) throw new UserError(`${sizeSource ?? "the built-in student config"}: vision image_size/patch_size do not match the dataset (${data.info.size}/${data.info.patch})`);
  const vlm = buildVlm(config, f.seed);
  if (f.initFrom && !f.resume) initFromBase(vlm.store, config, data.tokenizer, f.initFrom);
  const opts = trainerOptions(f);
  if (f.freezeVision && !f.initFrom) throw new UserError("--freeze-vision needs --init-from: a vision tower trained from nothing cannot stay as it starts");
  const settings = { mode: f.mode, init_from: f.initFrom ?? null, ...(f.freezeVision ? { freeze_vision: true } : {}), signals: f.signals, samples: data.samples.length, latents, wVtop: f.vtop ? f.wVtop : 0, wTraj: f.traj ? f.wTraj : 0, vtopTarget: f.vtopTarget, trajTopk: f.trajTopk, trajSource: f.trajSource, gate: f.gate ? f.gateSchedule : "none", gateOpenAt: f.gateOpenAt, gateMode: f.gateMode, gatePrompt: !!f.gatePrompt, ...(f.answerWeight !== 1 ? { answer_weight: f.answerWeight } : {}), ...(f.targetText !== "full" ? { target_text: f.targetText } : {}) };
  if (!f.quiet) process.stderr.write(`student (${f.mode}): ${vlm.store.count().toLocaleString("en-US")} parameters, ${latents} latents, ${data.samples.length} samples with signals\n`);
  let task;
  if (f.mode === "distill") {
    task = teacherTask(vlm, data, { kind: "student-distill", targets: signals.map((s) => s.result.ground_truth_enriched), frozenVision: !!f.freezeVision, answerWeight: f.answerWeight });
    task.settings = settings;
  } else {
    const s: LavitSettings = {
      latents,
      wVtop: settings.wVtop,
      wTraj: settings.wTraj,
      vtopTarget: f.vtopTarget,
      trajTopk: f.trajTopk,
      trajSource: f.trajSource,
      gate: { schedule: f.gate ? f.gateSchedule : "none", openAt: f.gateOpenAt, mode: f.gateMode, gatePrompt: !!f.gatePrompt },
      answerWeight: f.answerWeight,
    };
    task = lavitTask(vlm, data, signals, s, opts.steps, f.seed, settings, !!f.freezeVision);
  }
  await trainToFolder(f.out, task, opts, vlm);
}

/**
 * Starts a student from a base model (`lavit train base`): same vision tower and decoder;
 * the LaViT heads, absent from the base, keep their fresh initialisation.
 */
function initFromBase(store: ParamStore, config: VlmConfig, tokenizer: Tokenizer, dir: string): void {
  initFromFolder(store, dir, { config, tokenizer }, (name) => name.startsWith("lavit."));
}

export function registerStudent(trainCmd: Command): void {
  const cmd = addTrainerOptions(trainCmd.command("student").description("train a student: LaViT (latent visual thoughts, alignment, gating) or the distill baseline"), { steps: 800, lr: 1e-3, batchSize: 32 });
  cmd
    .addOption(new Option("--mode <mode>", "lavit, or distill (CE on the teacher's text only, no latents)").choices(["lavit", "distill"]).default("lavit"))
    .requiredOption("--signals <dir>", "teacher signals folder (from `lavit extract`)")
    .option("--teacher <dir>", "teacher model folder, to check the signals against its config")
    .option("--config <file>", "student model config JSON (default: the --init-from model's size, else the built-in student size)")
    .option("--split <split>", "split the signals were extracted from (default: from the signals' summary.json)")
    .option("--init-from <dir>", "start from this base model's weights (`lavit train base`); the LaViT heads start fresh")
    .option("--latents <k>", "latent visual thought tokens K", parsePositiveInt("--latents", true), 4)
    .option("--w-vtop <w>", "weight of the V_top loss", parseNumberIn("--w-vtop", 0, 100), 0.3)
    .option("--w-traj <w>", "weight of the trajectory loss", parseNumberIn("--w-traj", 0, 100), 0.3)
    .addOption(new Option("--vtop-target <t>", "V_top target per step: pooled with the teacher's step attention, or the plain mean (public code)").choices(["pooled", "mean"]).default("pooled"))
    .option("--traj-topk <k>", "sparsify teacher step distributions to their top k", parsePositiveInt("--traj-topk"), 8)
    .addOption(new Option("--traj-source <s>", "align the trajectory head's read-out (public code) or the student's own attention").choices(["head", "attention"]).default("head"))
    .addOption(new Option("--gate-schedule <s>", "how the sensory gate opens").choices([...GATE_SCHEDULES]).default("cosine"))
    .option("--gate-open-at <f>", "fraction of training by which vision is fully open", parseNumberIn("--gate-open-at", 0, 1), 0.6)
    .addOption(new Option("--gate-mode <m>", "hard: hide a scheduled fraction of patches; soft: additive log-gate bias").choices([...GATE_MODES]).default("hard"))
    .option("--gate-prompt", "also gate the question tokens")
    .option("--answer-weight <w>", "loss weight of the answer word relative to the rationale tokens (both modes alike)", parseNumberIn("--answer-weight", 0, 100), 1)
    .addOption(new Option("--target-text <t>", "what the student learns to write: the teacher's text (full), or without the grid coordinates of its look steps (no-coords; both modes alike)").choices([...TARGET_TEXTS]).default("full"))
    .option("--freeze-vision", "keep the --init-from vision tower as it is (both students alike; as VLM fine-tuning usually does, and faster)")
    .option("--no-traj", "drop the trajectory loss (ablation)")
    .option("--no-vtop", "drop the V_top loss (ablation)")
    .option("--no-gate", "no sensory gate (ablation)")
    .action(async (f: StudentFlags, command: Command) => runStudent(f, (name) => command.getOptionValueSource(name)));
}
