import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { extractSignals } from "../../src/signals/extract.js";
import { readSignals, resizeSquare } from "../../src/signals/layout.js";
import { massOn, stepPatches } from "../../src/signals/maps.js";
import { readSafetensors, toFloat32, writeSafetensors } from "../../src/io/safetensors.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";

const tiny = (vocab: number) => tinyConfig(vocab);

const PY_READER = `
import json, struct, sys, os
root = sys.argv[1]
meta = json.load(open(os.path.join(root, "metadata.json")))
out = []
for r in meta["results"]:
    traj = json.load(open(os.path.join(root, r["attention_path_abs"])))
    with open(os.path.join(root, r["v_top_path_abs"]), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    (name, t), = [(k, v) for k, v in header.items() if k != "__metadata__"]
    assert os.path.exists(os.path.normpath(os.path.join(root, r["image_relative_path"]))), r["image_relative_path"]
    out.append({"steps": [len(s["p_t"]) for s in traj["steps"]], "lo": min(min(s["p_t"]) for s in traj["steps"]), "hi": max(max(s["p_t"]) for s in traj["steps"]), "shape": t["shape"], "dtype": t["dtype"], "q": r["question"], "gt": r["ground_truth_enriched"]})
print(json.dumps(out))
`;

describe("signal extraction", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    await initEngine();
    const dir = await tinyDataset({ teacherTrain: 4, train: 6, test: 4 });
    data = loadSplit(dir, "train");
  });

  for (const method of ["attention", "gradient"] as const) {
    it(`writes the LaViT layout that a plain Python reader loads (${method})`, async () => {
      const teacher = buildVlm(tiny(data.tokenizer.size), 1);
      const out = mkdtempSync(join(tmpdir(), "lavit-sig-out-"));
      const before = tf.memory().numTensors;
      const summary = await extractSignals(teacher, data.tokenizer, data, out, { method, topk: 4, tau: 0.05, quiet: true });
      expect(tf.memory().numTensors).toBe(before);
      expect(summary.count).toBe(6);
      expect(summary.grounding_mass).toBeGreaterThanOrEqual(0);
      expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8"))).toHaveProperty("grounding_mass");
      const byFamily = Object.values(summary.grounding_mass_by_family);
      expect(Object.keys(summary.grounding_mass_by_family)).toEqual([...new Set(data.samples.map((x) => x.family))].sort());
      // The overall figure is a step-weighted mean of the families'.
      expect(summary.grounding_mass).toBeGreaterThanOrEqual(Math.min(...byFamily) - 1e-9);
      expect(summary.grounding_mass).toBeLessThanOrEqual(Math.max(...byFamily) + 1e-9);
      // The summary's figures, recomputed per step from what was written: the mass on the step's
      // patches, and even gaze's floor |patches| / n (a step past the rationale scored on all of it).
      const meta = JSON.parse(readFileSync(join(out, "metadata.json"), "utf8")) as { results: { id: string; attention_path_abs: string }[] };
      let [mass, floor, steps] = [0, 0, 0];
      for (const r of meta.results) {
        const sample = data.samples.find((x) => x.id === r.id)!;
        const written = JSON.parse(readFileSync(join(out, r.attention_path_abs), "utf8")) as { steps: { p_t: number[] }[] };
        written.steps.forEach((st, k) => {
          mass += massOn(st.p_t, stepPatches(sample, k));
          floor += stepPatches(sample, k).length / 16;
          steps++;
        });
      }
      expect(summary.mean_steps).toBeCloseTo(steps / 6, 10);
      expect(summary.grounding_mass).toBeCloseTo(mass / steps, 4);
      expect(summary.grounding_mass_uniform).toBeCloseTo(floor / steps, 10);
      expect(summary.grounding_mass_uniform).toBeGreaterThan(1.5 / 16);
      const py = spawnSync("python3", ["-c", PY_READER, out], { encoding: "utf8" });
      expect(py.status, py.stderr).toBe(0);
      const rows = JSON.parse(py.stdout) as { steps: number[]; lo: number; hi: number; shape: number[]; dtype: string }[];
      expect(rows).toHaveLength(6);
      for (const r of rows) {
        expect(r.steps.every((n) => n === 16)).toBe(true);
        expect(r.lo).toBeGreaterThanOrEqual(0);
        expect(r.hi).toBeLessThanOrEqual(1);
        expect(r.shape).toEqual([16, 24]);
        expect(r.dtype).toBe("F32");
      }
      const back = readSignals(out, 4);
      expect(back.samples[0].vTop.rows).toBe(16);
      const s0 = back.samples[0].steps[0];
      expect(s0.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      teacher.dispose();
    });
  }

  it("resizes maps bilinearly when the grids differ, and rejects a non-square map", async () => {
    // a 2x2 map up to 4x4 (align_corners = false): corners keep their values
    const up = resizeSquare([0, 1, 2, 3], 2, 4);
    expect(up[0]).toBeCloseTo(0);
    expect(up[3]).toBeCloseTo(1);
    expect(up[15]).toBeCloseTo(3);
    expect(up[1]).toBeCloseTo(0.25);
    const down = resizeSquare(
      Array.from({ length: 16 }, (_, i) => i),
      4,
      2,
    );
    expect(down[0]).toBeCloseTo(2.5); // mean of the top-left 2x2 block (0, 1, 4, 5)
    const teacher = buildVlm(tiny(data.tokenizer.size), 1);
    const out = mkdtempSync(join(tmpdir(), "lavit-sig-out-"));
    await extractSignals(teacher, data.tokenizer, { ...data, samples: data.samples.slice(0, 1), images: data.images.slice(0, 1) }, out, {
      method: "attention",
      topk: 4,
      tau: 0.05,
      quiet: true,
    });
    teacher.dispose();
    const meta = JSON.parse(readFileSync(join(out, "metadata.json"), "utf8"));
    const trajFile = join(out, meta.results[0].attention_path_abs);
    const traj = JSON.parse(readFileSync(trajFile, "utf8"));
    expect(readSignals(out, 8).samples[0].steps[0]).toHaveLength(64);
    traj.steps[0].p_t = traj.steps[0].p_t.slice(0, 15);
    writeFileSync(trajFile, JSON.stringify(traj));
    expect(() => readSignals(out, 4)).toThrow(/steps\.0\.p_t has 15 values, not a square patch grid/);
  });

  it("names the sample or file when a trajectory is missing or a signal is not finite", async () => {
    const teacher = buildVlm(tiny(data.tokenizer.size), 1);
    const fresh = async () => {
      const out = mkdtempSync(join(tmpdir(), "lavit-sig-bad-"));
      await extractSignals(teacher, data.tokenizer, { ...data, samples: data.samples.slice(0, 2), images: data.images.slice(0, 2) }, out, {
        method: "attention",
        topk: 4,
        tau: 0.05,
        quiet: true,
      });
      const meta = JSON.parse(readFileSync(join(out, "metadata.json"), "utf8"));
      return { out, traj: join(out, meta.results[1].attention_path_abs), vTop: join(out, meta.results[1].v_top_path_abs), id: meta.results[1].id as string };
    };
    let f = await fresh();
    rmSync(f.traj);
    expect(() => readSignals(f.out, 4)).toThrow(new RegExp(`results\\.1 \\(sample ${f.id}\\): trajectory file .* is missing`));
    f = await fresh();
    // Python's json.dump writes NaN as a bare word, which is not JSON.
    writeFileSync(f.traj, readFileSync(f.traj, "utf8").replace(/"p_t":\[[^,\]]+/, '"p_t":[NaN'));
    expect(() => readSignals(f.out, 4)).toThrow(new RegExp(`${f.id}\\.json: cannot read trajectory`));
    f = await fresh();
    const v = readSafetensors(f.vTop).tensors.get("v_top")!;
    const bad = toFloat32(v);
    bad[5] = Infinity;
    writeSafetensors(f.vTop, { v_top: { dtype: "F32", shape: v.shape, data: bad } });
    expect(() => readSignals(f.out, 4)).toThrow(new RegExp(`${f.id}\\.safetensors: results\\.1 \\(sample ${f.id}\\): V_top holds Infinity at row 0, column 5`));
    teacher.dispose();
  });
});
