import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkDecodedSample, type DecodedSample } from "../../src/signals/sample-check.js";
import { readSignals, type SampleSignals } from "../../src/signals/layout.js";
import { signalsInMemory } from "../../src/train/student.js";
import { checkSignals } from "../../src/signals/check.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { UserError } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";

const good = (): DecodedSample => ({
  name: "results.0 (sample a)",
  trajectoryFile: "t.json",
  pT: [[0.1, 0.2, 0.3, 0.4]],
  vTop: { file: "v.safetensors", rows: 4, dim: 3, data: new Float32Array(12).fill(0.5) },
});

describe("checkDecodedSample", () => {
  it("accepts a sound sample, with or without V_top", () => {
    expect(() => checkDecodedSample(good())).not.toThrow();
    expect(() => checkDecodedSample({ ...good(), vTop: undefined })).not.toThrow();
  });

  it("refuses p_t values that are not finite non-negative float32, naming the trajectory file and the index", () => {
    const s = good();
    for (const [bad, shown] of [
      [1e300, "1e+300"],
      [-0.1, "-0.1"],
      [NaN, "NaN"],
      [Infinity, "Infinity"],
    ] as const) {
      const pT = [[0.1, 0.2, bad, 0.4]];
      expect(() => checkDecodedSample({ ...s, pT })).toThrow(
        new UserError(`t.json: results.0 (sample a): steps.0.p_t.2 is ${shown}, not a finite non-negative number as float32`),
      );
    }
    // Largest finite float32 passes.
    expect(() => checkDecodedSample({ ...s, pT: [[3.4e38, 0, 0, 0]] })).not.toThrow();
  });

  it("refuses a step that sums to 0, also after float32 rounds tiny values away", () => {
    for (const p of [
      [0, 0, 0, 0],
      [1e-50, 0, 0, 0],
    ])
      expect(() => checkDecodedSample({ ...good(), pT: [[0.25, 0.25, 0.25, 0.25], p] })).toThrow(/t\.json: results\.0 \(sample a\): steps\.1\.p_t sums to 0/);
    expect(() => checkDecodedSample({ ...good(), pT: [[]] })).toThrow(/steps\.0\.p_t is empty/);
  });

  it("refuses a V_top of width 0, no rows, rows that do not match p_t, or a non-finite value", () => {
    const s = good();
    const v = s.vTop!;
    expect(() => checkDecodedSample({ ...s, vTop: { ...v, dim: 0, data: new Float32Array(0) } })).toThrow(
      "v.safetensors: results.0 (sample a): V_top has shape [4, 0]; it needs at least one row and a width > 0",
    );
    expect(() => checkDecodedSample({ ...s, pT: [[]], vTop: { ...v, rows: 0, data: new Float32Array(0) } })).toThrow(UserError);
    expect(() => checkDecodedSample({ ...s, vTop: { ...v, rows: 5, data: new Float32Array(15) } })).toThrow(
      "results.0 (sample a): t.json steps.0.p_t has 4 values but V_top v.safetensors has 5 rows (one per image token)",
    );
    const data = new Float32Array(12).fill(1);
    data[7] = -Infinity;
    expect(() => checkDecodedSample({ ...s, vTop: { ...v, data } })).toThrow("v.safetensors: results.0 (sample a): V_top holds -Infinity at row 2, column 1");
  });
});

/** A lavit-layout folder of two samples; `edit` changes the second's trajectory or V_top. */
function folder(edit: { pT?: number[]; vTop?: { shape: [number, number] } } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-samplecheck-"));
  mkdirSync(join(dir, "trajectories"));
  mkdirSync(join(dir, "v_top"));
  const results = ["a", "b"].map((id) => ({
    id,
    question: "q",
    image_relative_path: `${id}.png`,
    ground_truth_enriched: "look ; answer yes",
    v_top_path_abs: `v_top/${id}.safetensors`,
    attention_path_abs: `trajectories/${id}.json`,
  }));
  writeFileSync(join(dir, "metadata.json"), JSON.stringify({ grid: 2, results }));
  for (const id of ["a", "b"]) {
    const p_t = id === "b" && edit.pT ? edit.pT : [0.1, 0.2, 0.3, 0.4];
    writeFileSync(join(dir, "trajectories", `${id}.json`), JSON.stringify({ id, grid: 2, steps: [{ p_t, p_topk_idx: [0], method: "attention" }] }));
    const shape = id === "b" && edit.vTop ? edit.vTop.shape : [4, 3];
    writeSafetensors(join(dir, "v_top", `${id}.safetensors`), {
      v_top: { dtype: "F32", shape, data: new Float32Array(shape[0] * shape[1]).fill(0.5) },
    });
  }
  return dir;
}

describe("the lavit layout's reader (signals check and training) runs checkDecodedSample and checkSample on every sample", () => {
  it("reads a sound folder", () => {
    expect(readSignals(folder(), 2).samples).toHaveLength(2);
    expect(checkSignals(folder()).v_top_width).toBe(3);
  });

  it("refuses width 0, rows that do not match the grid, another width, and an all-zero step, naming the file", () => {
    let dir = folder({ vTop: { shape: [4, 0] } });
    expect(() => readSignals(dir, 2)).toThrow(`${join(dir, "v_top", "b.safetensors")}: results.1 (sample b): V_top has shape [4, 0]`);
    dir = folder({ vTop: { shape: [9, 3] } });
    expect(() => readSignals(dir, 2)).toThrow(/results\.1 \(sample b\): .*b\.json steps\.0\.p_t has 4 values but V_top .*b\.safetensors has 9 rows/);
    dir = folder({ vTop: { shape: [4, 5] } });
    expect(() => checkSignals(dir)).toThrow(/results\.1 \(sample b\): V_top has width 5, but the first sample read has 3/);
    dir = folder({ pT: [0, 0, 0, 0] });
    expect(() => readSignals(dir, 2)).toThrow(/b\.json: results\.1 \(sample b\): steps\.0\.p_t sums to 0/);
    // Without V_top (attention dumps), the steps are still checked.
    expect(() => readSignals(dir, 2, { vTop: false })).toThrow(/steps\.0\.p_t sums to 0/);
  });

  it("training's signals in memory pass the same width check", () => {
    const [a, b] = readSignals(folder(), 2).samples as SampleSignals[];
    expect(signalsInMemory([a, b]).vTopDim).toBe(3);
    const wide = { ...b, vTop: { rows: 4, dim: 5, data: new Float32Array(20) } };
    expect(() => signalsInMemory([a, wide])).toThrow(new UserError("signals in memory: sample 1: V_top has width 5, but the first sample read has 3"));
  });

  it("signals check exits 2 with one line naming the file", () => {
    const dir = folder({ vTop: { shape: [4, 0] } });
    const r = runCli(["signals", "check", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/b\.safetensors: results\.1 \(sample b\): V_top has shape \[4, 0\]/);
  });
});
