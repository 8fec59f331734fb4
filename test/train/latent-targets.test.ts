import { describe, expect, it } from "vitest";
import type { SampleSignals } from "../../src/signals/layout.js";
import { latentTargets, type LavitSettings } from "../../src/train/student.js";
import { lavitSettings } from "../helpers/training.js";

/**
 * A teacher sample written by hand: 3 steps over a 2x2 grid, step s looking only at patch s,
 * and V_top row r = 10^r in every column, so a pooled target names the patch it pooled.
 */
function threeSteps(): SampleSignals {
  const n = 4;
  const dim = 3;
  const steps = [0, 1, 2].map((s) => Float32Array.from({ length: n }, (_, j) => (j === s ? 1 : 0)));
  const data = Float32Array.from({ length: n * dim }, (_, i) => 10 ** Math.floor(i / dim));
  return {
    result: {} as SampleSignals["result"],
    steps,
    topk: steps.map((_, s) => [s]),
    vTop: { rows: n, dim, data },
  };
}

const base = lavitSettings({ latents: 3, trajTopk: 0 });

/** Per latent: the patch its trajectory target puts all its mass on, and the V_top row its target pooled. */
function chosen(sig: SampleSignals, s: LavitSettings): { traj: number[]; vtop: number[] } {
  const t = latentTargets(sig, s);
  const n = sig.steps[0].length;
  const dim = sig.vTop.dim;
  const traj = Array.from({ length: s.latents }, (_, k) => Array.from(t.traj.subarray(k * n, (k + 1) * n)).indexOf(1));
  const vtop = Array.from({ length: s.latents }, (_, k) => Math.round(Math.log10(t.vtop[k * dim])));
  return { traj, vtop };
}

describe("latent targets of a multi-step rationale", () => {
  it("latent k reconstructs step k, its V_top pooled where that step looked", () => {
    expect(chosen(threeSteps(), base)).toEqual({ traj: [0, 1, 2], vtop: [0, 1, 2] });
  });

  it("spreads fewer or more latents over the steps in order", () => {
    // K = 2 of T = 3: steps 0 and 1 (floor(k * T / K)); K = 6: each step twice.
    expect(chosen(threeSteps(), { ...base, latents: 2 })).toEqual({ traj: [0, 1], vtop: [0, 1] });
    expect(chosen(threeSteps(), { ...base, latents: 6 })).toEqual({ traj: [0, 0, 1, 1, 2, 2], vtop: [0, 0, 1, 1, 2, 2] });
    const two = threeSteps();
    two.steps = two.steps.slice(0, 2);
    expect(chosen(two, { ...base, latents: 4 }).traj).toEqual([0, 0, 1, 1]);
  });

  it("first-last: every latent's trajectory target is the first step (the loss then keeps the last latent's)", () => {
    expect(chosen(threeSteps(), { ...base, trajTarget: "first-last" }).traj).toEqual([0, 0, 0]);
    expect(chosen(threeSteps(), { ...base, trajTarget: "steps" }).traj).toEqual([0, 1, 2]);
  });

  it("mean: every latent gets V_top's mean over the image rows, whatever its step", () => {
    const sig = threeSteps();
    const t = latentTargets(sig, { ...base, vtopTarget: "mean" });
    const mean = (1 + 10 + 100 + 1000) / 4;
    expect([...t.vtop].map((v) => +v.toFixed(3))).toEqual(Array(9).fill(mean));
    // The trajectory targets still follow the steps.
    expect(chosen(sig, { ...base, vtopTarget: "mean" }).traj).toEqual([0, 1, 2]);
  });

  it("sparsifies each latent's own step to its top k", () => {
    const sig = threeSteps();
    sig.steps = [Float32Array.from([0.5, 0.3, 0.2, 0]), Float32Array.from([0.1, 0.2, 0.3, 0.4])];
    const t = latentTargets(sig, { ...base, latents: 2, trajTopk: 2 });
    expect([...t.traj].map((v) => +v.toFixed(4))).toEqual([0.625, 0.375, 0, 0, 0, 0, 0.4286, 0.5714]);
    const whole = latentTargets(sig, { ...base, latents: 2, trajTopk: 0 });
    expect([...whole.traj].map((v) => +v.toFixed(4))).toEqual([0.5, 0.3, 0.2, 0, 0.1, 0.2, 0.3, 0.4]);
  });

  it("pools on V_top's grid when the step maps live on another", () => {
    // Maps on a 2x2 grid, V_top on the teacher's 4x4: the pooling weights still sum to 1, and a
    // map on one corner patch pools mostly from that corner's rows.
    const sig = threeSteps();
    const rows = 16;
    sig.vTop = { rows, dim: rows, data: Float32Array.from({ length: rows * rows }, (_, i) => (i % (rows + 1) === 0 ? 1 : 0)) };
    const t = latentTargets(sig, { ...base, latents: 1 });
    const w = [...t.vtop];
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const topLeft = [0, 1, 4, 5].reduce((a, r) => a + w[r], 0);
    expect(topLeft).toBeGreaterThan(0.5);
  });
});
