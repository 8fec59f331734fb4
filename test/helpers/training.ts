import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GateConfig } from "../../src/train/gate.js";
import type { LavitSettings } from "../../src/train/student.js";
import type { TrainOptions } from "../../src/train/trainer.js";

/** A short run's trainer options, logged every step; each test overrides what it is about. */
export function trainOptions(o: Partial<TrainOptions> = {}): TrainOptions {
  return {
    steps: 6,
    batchSize: 4,
    lr: 3e-3,
    warmup: 1,
    minLrRatio: 0.1,
    weightDecay: 0.05,
    clip: 1,
    seed: 3,
    logEvery: 1,
    checkpointEvery: 3,
    resume: false,
    quiet: true,
    ...o,
  };
}

/** A LaViT student's loss settings: both alignment losses at weight 1, no gate, unless overridden. */
export function lavitSettings(o: Partial<Omit<LavitSettings, "gate">> = {}, gate: Partial<GateConfig> = {}): LavitSettings {
  return {
    latents: 2,
    wVtop: 1,
    wTraj: 1,
    vtopTarget: "pooled",
    trajTopk: 4,
    trajSource: "head",
    ...o,
    gate: { schedule: "none", openAt: 0.5, mode: "hard", gatePrompt: false, ...gate },
  };
}

export type MetricLine = Record<string, unknown> & { step: number; kind?: string };

/** A run folder's metrics.jsonl, one object a line. */
export function metricLines(dir: string): MetricLine[] {
  return readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as MetricLine);
}

/** The metrics without their wall-clock figure: what two runs of the same seed must share. */
export function timelessMetrics(dir: string): Omit<MetricLine, "elapsed_s">[] {
  return metricLines(dir).map(({ elapsed_s: _e, ...rest }) => rest);
}
