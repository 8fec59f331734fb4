import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptOrRefuse } from "../helpers/fuzz.js";
import { readSignals } from "../../src/signals/layout.js";
import { writeSafetensors } from "../../src/io/safetensors.js";

const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A lavit-layout folder with one sample, whose metadata, trajectory and V_top bytes the test chooses. */
function folder(meta: unknown, traj: unknown, vtop: Uint8Array | null): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-sigfuzz-"));
  mkdirSync(join(dir, "trajectories"));
  mkdirSync(join(dir, "v_top"));
  writeFileSync(join(dir, "metadata.json"), typeof meta === "string" ? meta : JSON.stringify(meta));
  writeFileSync(join(dir, "trajectories", "a.json"), typeof traj === "string" ? traj : JSON.stringify(traj));
  if (vtop) writeFileSync(join(dir, "v_top", "a.safetensors"), vtop);
  else writeSafetensors(join(dir, "v_top", "a.safetensors"), { v_top: { dtype: "F32", shape: [4, 3], data: new Float32Array(12).fill(0.5) } });
  return dir;
}

const result = {
  id: "a",
  question: "q",
  image_relative_path: "img.png",
  ground_truth_enriched: "look ; answer yes",
  v_top_path_abs: "v_top/a.safetensors",
  attention_path_abs: "trajectories/a.json",
};
const trajectory = { id: "a", grid: 2, steps: [{ p_t: [0.1, 0.2, 0.3, 0.4], p_topk_idx: [3], method: "attention" }] };

describe("the signals layout under fuzz", () => {
  it("reads the valid folder the fuzzing starts from", () => {
    expect(readSignals(folder({ results: [result] }, trajectory, null), 2).samples).toHaveLength(1);
  });

  it("refuses arbitrary metadata with a UserError", () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, fc.string()), (meta) => acceptOrRefuse(() => readSignals(folder(meta, trajectory, null), 2))),
      { numRuns: 150, seed: 11 },
    );
  });

  it("refuses results with mutated fields, paths that leave the folder included", () => {
    const field = fc.constantFrom(...Object.keys(result));
    const value = fc.oneof(anyJson, fc.constantFrom("../../etc/passwd", "/etc/passwd", "", "trajectories", "v_top/../../x"));
    fc.assert(
      fc.property(field, value, (k, v) => acceptOrRefuse(() => readSignals(folder({ results: [{ ...result, [k]: v }] }, trajectory, null), 2))),
      { numRuns: 150, seed: 12 },
    );
  });

  it("refuses arbitrary trajectories with a UserError", () => {
    const step = fc.record({
      p_t: fc.oneof(fc.array(fc.double(), { maxLength: 20 }), anyJson),
      p_topk_idx: fc.oneof(fc.array(fc.integer()), anyJson),
      method: fc.oneof(fc.constantFrom("attention", "gradient"), fc.string()),
    });
    const traj = fc.oneof(anyJson, fc.record({ id: fc.string(), grid: fc.integer(), steps: fc.array(step, { maxLength: 4 }) }));
    fc.assert(
      fc.property(traj, (t) => acceptOrRefuse(() => readSignals(folder({ results: [result] }, t, null), 2))),
      { numRuns: 200, seed: 13 },
    );
  });

  it("refuses arbitrary V_top bytes with a UserError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => acceptOrRefuse(() => readSignals(folder({ results: [result] }, trajectory, bytes), 2))),
      { numRuns: 200, seed: 14 },
    );
  });
});
