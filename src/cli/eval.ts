import { Command, InvalidArgumentError, Option } from "commander";
import { THOUGHTS_READOUTS, type ThoughtsReadout } from "../eval/evaluate.js";
import type { ForcedAccuracy, ForcedResult } from "../eval/forced.js";
import type { VisionHeadsResult } from "../eval/vision-heads.js";
import type { GazeMetrics } from "../eval/gap.js";
import {
  ANSWER_PROBES,
  evaluate,
  EVALUATE_IO,
  evaluateOptionsSchema,
  evaluateTeacherForced,
  evaluateVisionTower,
  type AnswerProbe,
  type EvaluateOptions,
  type Evaluation,
} from "../stages/evaluate.js";
import { ANSWER_FORMATS } from "../data/manifest.js";
import { declareIo } from "./io.js";
import { UserError } from "../errors.js";
import { optionParser } from "./parse.js";

function gazeLine(g: GazeMetrics): string {
  const gap = [`grounding_mass ${g.grounding_mass === undefined ? "n/a (no boxes)" : g.grounding_mass.toFixed(3)}`, `entropy ${g.entropy.toFixed(3)}`];
  if (g.js_to_teacher !== undefined) gap.push(`js_to_teacher ${g.js_to_teacher.toFixed(3)}`, `topk_iou ${g.topk_iou!.toFixed(3)}`);
  return gap.join(", ");
}

const READOUT_NAMES: Record<ThoughtsReadout, string> = { head: "read by the trajectory head", attention: "read from their own attention" };

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function formatProbes(p: NonNullable<Evaluation["probes"]>): string[] {
  const lines: string[] = [];
  if (p.swap) {
    const s = p.swap;
    lines.push(
      `  swap probe (latents think over image A, the text sees image B; ${s.pairs} pairs): follows A ${pct(s.follow_a)}, B ${pct(s.follow_b)}, neither ${pct(s.neither)}`,
      `    latents masked (the constant): follows A ${pct(s.constant.follow_a)}, B ${pct(s.constant.follow_b)}, neither ${pct(s.constant.neither)}`,
    );
  }
  if (p.steer) {
    const s = p.steer;
    lines.push(
      `  steer probe (latents may look only at another object; ${s.samples} samples, ${s.skipped} without such an object's answer): answer changed ${pct(s.changed)}, became the other object's ${pct(s.to_other)}`,
      `    latents masked (the constant): changed ${pct(s.constant.changed)}, became the other object's ${pct(s.constant.to_other)}`,
    );
  }
  return lines;
}

function formatResult(r: Evaluation): string {
  const lines = [
    `${r.split}: accuracy ${r.accuracy.toFixed(3)} (${r.count} samples${r.answer_format === "free" ? ", free-text answers" : ""})${r.pair_accuracy !== undefined ? `, pair accuracy ${r.pair_accuracy.toFixed(3)}` : ", pair accuracy n/a (no pairs)"}`,
    ...(r.unknown_words ? [`  ${r.unknown_words} question words unknown to the model, read as <unk>`] : []),
    `  gaze while writing: ${gazeLine(r)}`,
    ...THOUGHTS_READOUTS.flatMap((k) => {
      const g = r[`thoughts_${k}`];
      return g ? [`  gaze of the latent thoughts, ${READOUT_NAMES[k]} (thoughts_${k}): ${gazeLine(g)}`] : [];
    }),
    ...(r.probes ? formatProbes(r.probes) : []),
  ];
  for (const [f, g] of Object.entries(r.families))
    lines.push(`  ${f.padEnd(10)} ${g.accuracy.toFixed(3)} (${g.count})${g.pair_accuracy !== undefined ? `  pairs ${g.pair_accuracy.toFixed(3)}` : ""}`);
  return lines.join("\n");
}

/** The stage's options as commander gives them: the image probe is a --no- flag, plus the CLI's own. */
type EvalFlags = Omit<EvaluateOptions, "noImageForAnswer"> & { imageForAnswer: boolean; json?: boolean; teacherForced?: boolean; visionHeads?: boolean };

function formatVisionHeads(r: VisionHeadsResult): string {
  const pct = (x: number) => x.toFixed(3);
  return [
    `${r.split}, ${r.count} images: per-patch heads of the vision tower (labelled = patches with an object, or with one hidden)`,
    ...Object.entries(r.heads).map(
      ([name, h]) =>
        `  ${name.padEnd(18)} labelled ${pct(h.labelled_accuracy)} (${h.labelled_patches} patches, said none ${pct(h.said_none)}), all ${pct(h.accuracy)}, false positives ${pct(h.false_positive)}`,
    ),
  ].join("\n");
}

function formatForced(r: ForcedResult): string {
  const line = (name: string, g: ForcedAccuracy) =>
    `${name}answer ${g.answer_accuracy.toFixed(3)}, rationale tokens ${g.rationale_token_accuracy.toFixed(3)}, steps ${g.step_accuracy.toFixed(3)}, last step ${g.last_step_accuracy.toFixed(3)}, by step ${g.step_accuracy_by_index.map((a) => a.toFixed(2)).join(" ")} (${g.count})`;
  return [line(`${r.split}, given the true rationale: `, r), ...Object.entries(r.families).map(([f, g]) => line(`  ${f.padEnd(10)} `, g))].join("\n");
}

/** --probe swap,steer, or the flag repeated. */
function collectProbes(value: string, previous: AnswerProbe[] = []): AnswerProbe[] {
  const given = value.split(",").map((v) => v.trim());
  for (const v of given)
    if (!(ANSWER_PROBES as readonly string[]).includes(v))
      throw new InvalidArgumentError(`--probe: unknown probe "${v}" (expected ${ANSWER_PROBES.join(", ")})`);
  return [...previous, ...(given as AnswerProbe[])];
}

export function register(program: Command): void {
  declareIo(program.command("eval"), EVALUATE_IO)
    .description("answer a split with a model (greedy): accuracy overall and per family, and where the model looks")
    .requiredOption("--model <dir>", "model folder (config.json, model.safetensors, tokenizer.json)")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--split <split>", "split to evaluate")
    .option("--teacher <dir>", "teacher model folder: adds js_to_teacher and topk_iou")
    .option("--limit <n>", "only the first n samples", optionParser(evaluateOptionsSchema.shape, "limit"))
    .option("--predictions <file>", "write one JSON line per sample (answer, prediction, generated text, gaze metrics)")
    .option("--dump-attention <dir>", "write the model's own per-step gaze maps to this folder, in the trajectory layout `lavit gap` reads")
    .option("--dump-thoughts <dir>", "likewise, where the model's latent thoughts look at each step (students with latents)")
    .addOption(
      new Option(
        "--thoughts-readout <r>",
        "what --dump-thoughts writes: the trajectory head's maps or the latents' own attention (default: head when the head was trained, else attention)",
      ).choices([...THOUGHTS_READOUTS]),
    )
    .option(
      "--probe <p>",
      "probe whether the answer reads the latent thoughts: swap (thoughts over one image, text over another) or steer (thoughts sent to another object); repeat or comma-separate",
      collectProbes,
    )
    .option("--force", "replace an existing --predictions file, and --dump-* folders an earlier eval wrote")
    .option("--mask-latents", "probe: hide the latent tokens from the generated text")
    .option("--no-image-for-answer", "probe: generated tokens cannot attend to the image (gate closed)")
    .option("--teacher-forced", "diagnostic: feed the true rationale and score the answer after it and each rationale token (models without latents)")
    .option("--vision-heads", "diagnostic: what the vision tower sees, read through its per-patch heads (teachers and bases trained with --aux-patch)")
    .addOption(
      new Option(
        "--answer-format <f>",
        'lavit: the word after "answer"; free: the whole text after the rationale, normalised (default: the dataset\'s)',
      ).choices([...ANSWER_FORMATS]),
    )
    .option("--allow-outside-root", "read manifest images that lead outside the --data folder")
    .option("--json", "print one JSON object")
    .option("--quiet", "no progress output")
    .action(async (f: EvalFlags) => {
      const quiet = f.quiet || f.json;
      const base = { model: f.model, data: f.data, split: f.split, limit: f.limit, quiet };
      if (f.visionHeads) {
        if (f.teacherForced || f.teacher || f.predictions || f.dumpAttention || f.dumpThoughts || f.maskLatents || !f.imageForAnswer || f.probe)
          throw new UserError(
            "--vision-heads takes none of --teacher-forced, --teacher, --predictions, --dump-attention, --dump-thoughts, --mask-latents, --no-image-for-answer, --probe",
          );
        const r = await evaluateVisionTower(base);
        process.stdout.write((f.json ? JSON.stringify(r) : formatVisionHeads(r)) + "\n");
        return;
      }
      if (f.teacherForced) {
        if (f.teacher || f.predictions || f.dumpAttention || f.dumpThoughts || f.maskLatents || !f.imageForAnswer || f.probe)
          throw new UserError(
            "--teacher-forced takes none of --teacher, --predictions, --dump-attention, --dump-thoughts, --mask-latents, --no-image-for-answer, --probe",
          );
        const r = await evaluateTeacherForced(base);
        process.stdout.write((f.json ? JSON.stringify(r) : formatForced(r)) + "\n");
        return;
      }
      const { result } = await evaluate({
        ...base,
        allowOutsideRoot: f.allowOutsideRoot,
        teacher: f.teacher,
        predictions: f.predictions,
        dumpAttention: f.dumpAttention,
        dumpThoughts: f.dumpThoughts,
        thoughtsReadout: f.thoughtsReadout,
        probe: f.probe,
        force: f.force,
        maskLatents: f.maskLatents,
        noImageForAnswer: !f.imageForAnswer,
        answerFormat: f.answerFormat,
      });
      process.stdout.write((f.json ? JSON.stringify(result) : formatResult(result)) + "\n");
    });
}
