import { resolve } from "node:path";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit } from "../data/dataset.js";
import { loadModelFor } from "../model/load.js";
import { SHIPPED_TEACHER } from "../model/shipped.js";
import { extractSignals, type ExtractSummary, type SignalMethod } from "../signals/extract.js";
import { buildDirAtomic } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { checkReplaceable } from "../util/marker.js";
import { assertOutputApart, assertOutputLocation } from "../util/paths.js";
import type { SignalsLayout } from "../signals/layout.js";

export const EXTRACT_DEFAULTS = {
  teacher: SHIPPED_TEACHER,
  split: "train",
  method: "attention" as SignalMethod,
  layout: "lavit" as SignalsLayout,
  topk: 8,
  tau: 0.05,
};

export interface ExtractStageOptions {
  /** Dataset folder. */
  data: string;
  /** Signals folder to write. */
  out: string;
  teacher?: string;
  split?: string;
  method?: SignalMethod;
  /** lavit's layout (safetensors V_top) or the official LaViT builder's (.pth V_top, its paths and names). */
  layout?: SignalsLayout;
  topk?: number;
  tau?: number;
  /** Only the first n samples. */
  limit?: number;
  /** Read manifest images that lead outside the dataset folder. */
  allowOutsideRoot?: boolean;
  force?: boolean;
  quiet?: boolean;
}

/** Runs the teacher on a split and writes its white-box signals (trajectories + V_top). */
export async function extract(opts: ExtractStageOptions): Promise<ExtractSummary> {
  const o = { ...EXTRACT_DEFAULTS, ...opts };
  await initEngine();
  assertOutputLocation(o.out);
  assertOutputApart(o.out, [
    { flag: "--data", path: o.data },
    { flag: "--teacher", path: o.teacher },
  ]);
  const out = resolve(o.out);
  checkReplaceable(out, "signals", !!o.force);
  const data = loadSplit(o.data, o.split, o.limit, { allowOutsideRoot: o.allowOutsideRoot });
  if (o.topk > (data.info.size / data.info.patch) ** 2) throw new UserError(`--topk ${o.topk} exceeds the number of image patches`);
  const teacher = loadModelFor(o.teacher, data, o.data);
  try {
    // Paths inside are relative to the final folder, so compute them as if written there.
    const summary = await withLock(out, () => buildDirAtomic(out, (tmp) => extractSignals(teacher.vlm, teacher.tokenizer, data, tmp, { method: o.method, topk: o.topk, tau: o.tau, quiet: o.quiet, finalDir: out, layout: o.layout }), "signals"));
    if (!o.quiet)
      process.stderr.write(
        `signals for ${summary.count} samples in ${o.out}: teacher accuracy ${summary.teacher_accuracy.toFixed(3)}, grounding mass ${summary.grounding_mass.toFixed(3)} (uniform ${summary.grounding_mass_uniform.toFixed(3)}; ${Object.entries(summary.grounding_mass_by_family).map(([f, m]) => `${f} ${m.toFixed(3)}`).join(", ")})\n`,
      );
    return summary;
  } finally {
    teacher.vlm.dispose();
  }
}
