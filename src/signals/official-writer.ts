import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writePth } from "../io/pth.js";
import type { SignalsWriter, SignalsWriterOptions } from "./writer.js";
import { OFFICIAL_METADATA, trajectoryName, vtopName } from "./official-layout.js";

/**
 * Writes extracted signals in the official LaViT layout (see official-layout.ts), so that the
 * official trainer (json.load + torch.load) reads them: V_top as a torch.save .pth, absolute
 * feature paths into the folder's final place, images copied under data/images/<split>/.
 * question_id is the sample's id when that is an integer (the official builder's ids are), else
 * its index in the split; the lavit id rides along as `id` either way, and joins first.
 */
export function officialWriter(o: SignalsWriterOptions & { vtopDtype: "bf16" | "fp32" }): SignalsWriter {
  const vtopDir = join("data", "features", "vtop");
  const trajDir = join("data", "features", "trajectories");
  for (const d of [vtopDir, trajDir, join("data", "images", o.split), join("data", "metadata")]) mkdirSync(join(o.outDir, d), { recursive: true });
  const results: Record<string, unknown>[] = [];
  // The official extractors' names: min-max attention, or softmax over gradient saliency.
  const method = o.method === "attention" ? "attention_based" : "grad_step_nll";
  return {
    add(s) {
      const qid = /^\d+$/.test(s.sample.id) && Number.isSafeInteger(Number(s.sample.id)) ? Number(s.sample.id) : s.index;
      const traj = join(trajDir, trajectoryName(qid));
      const vtop = join(vtopDir, vtopName(qid));
      const steps = s.steps.map((st) => ({
        p_t: st.p_t,
        p_topk_idx: st.p_topk_idx,
        tau_used: o.method === "attention" ? "attention" : o.tau,
        method,
        text: st.text,
      }));
      writeFileSync(join(o.outDir, traj), JSON.stringify({ steps }, null, 1) + "\n");
      writePth(join(o.outDir, vtop), { dtype: o.vtopDtype, shape: [s.rows, s.dim], data: s.vTop });
      const image = `${o.split}/${s.sample.image}`;
      mkdirSync(dirname(join(o.outDir, "data", "images", image)), { recursive: true });
      copyFileSync(s.imageFile, join(o.outDir, "data", "images", image));
      results.push({
        question_id: qid,
        dataset: "lavit",
        split: o.split,
        question: s.sample.question,
        ground_truth_enriched: s.groundTruth,
        image_relative_path: image,
        v_top_path_abs: join(o.finalDir, vtop),
        attention_path_abs: join(o.finalDir, traj),
        id: s.sample.id,
        answer: s.sample.answer,
      });
    },
    finish() {
      const meta = {
        results,
        lavit: {
          split: o.split,
          question_id: "the sample's id when an integer, else its index in the split",
          grid: o.grid,
          method: o.method,
          teacher_hidden_size: o.teacherHiddenSize,
          vtop_dtype: o.vtopDtype,
        },
      };
      writeFileSync(join(o.outDir, OFFICIAL_METADATA), JSON.stringify(meta, null, 2) + "\n");
    },
  };
}
