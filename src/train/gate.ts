import type { GateMode, GateSchedule } from "./gate-options.js";
import { tf } from "../engine/index.js";
import { NEG_INF } from "../model/nn.js";
import type { Rng } from "../util/rng.js";

export { GATE_SCHEDULES, GATE_MODES, type GateSchedule, type GateMode } from "./gate-options.js";

export interface GateConfig {
  schedule: GateSchedule;
  /** Fraction of training by which vision is fully open again. */
  openAt: number;
  mode: GateMode;
  /** Also gate the question tokens, not only the answer (rationale) tokens. */
  gatePrompt: boolean;
}

/**
 * How open the sensory gate is at a step: 0 = answer tokens cannot see the image at all,
 * 1 = normal attention. `two-stage` is the public code's bottleneck-then-joint schedule (the
 * stage boundary at openAt); `two-stage-visual-only` gates the same way but trains the
 * bottleneck stage on the visual losses alone, as the public README (not its code) describes.
 * `closed` never opens: the text never sees the image, in training and at inference, so the
 * latent thoughts are the only way in (a bottleneck, to tell "alignment does not help" from
 * "the reopened gate lets the answer go around the thoughts").
 */
export function gateValue(g: GateConfig, step: number, totalSteps: number): number {
  if (g.schedule === "none") return 1;
  if (g.schedule === "closed") return 0;
  const openStep = g.openAt * totalSteps;
  if (openStep <= 0) return 1;
  const x = Math.min(1, step / openStep);
  switch (g.schedule) {
    case "two-stage":
    case "two-stage-visual-only":
      return step < openStep ? 0 : 1;
    case "linear":
      return x;
    case "cosine":
      return 0.5 * (1 - Math.cos(Math.PI * x));
  }
}

/** Positions of one sequence, for building its gate rows. */
export interface GateRows {
  /** Rows (query positions) the gate applies to. */
  rows: number[];
}

/**
 * The gate as an additive attention bias [B, 1, T, T] over the image columns
 * [imageStart, imageStart + n): `soft` adds log(gate) to every gated row; `hard` hides a
 * fraction (1 - gate) of the image patches from the gated rows, a fresh random subset per
 * sample and step. Latent rows are never in `rows`, so the latents always see the image.
 */
export function gateBias(gated: readonly GateRows[], t: number, imageStart: number, n: number, value: number, mode: GateMode, rng: Rng): tf.Tensor4D | null {
  if (value >= 1) return null;
  const b = gated.length;
  const bias = new Float32Array(b * t * t);
  const soft = value <= 0 ? NEG_INF : Math.log(value);
  const hideCount = Math.round((1 - value) * n);
  for (let i = 0; i < b; i++) {
    let cols: number[];
    if (mode === "soft" || value <= 0) cols = [...Array(n).keys()];
    else cols = rng.shuffle([...Array(n).keys()]).slice(0, hideCount);
    const amount = mode === "soft" ? soft : NEG_INF;
    for (const r of gated[i].rows) for (const c of cols) bias[(i * t + r) * t + imageStart + c] = amount;
  }
  return tf.tensor4d(bias, [b, 1, t, t]);
}

export function isTwoStage(schedule: GateSchedule): boolean {
  return schedule === "two-stage" || schedule === "two-stage-visual-only";
}
