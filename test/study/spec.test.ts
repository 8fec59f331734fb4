import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expandCells, parseShard, shardCells } from "../../src/study/cells.js";
import { firstDifference, loadStudy } from "../../src/study/spec.js";
import { UserError } from "../../src/errors.js";

const base = {
  name: "t",
  seeds: [1, 2],
  factors: { data: { train: [40, 80] }, student: { latents: [2, 4] } },
  variants: { lavit: {}, "no-align": { traj: false, vtop: false } },
  eval: { splits: ["test-ood"] },
};

function write(study: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "lavit-spec-")), "study.json");
  writeFileSync(file, JSON.stringify(study));
  return file;
}

function refusal(study: unknown): string {
  const file = write(study);
  try {
    loadStudy(file);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toContain(file);
    return (e as Error).message;
  }
  throw new Error("the study was accepted");
}

describe("study files", () => {
  it("expands the grid in a fixed order, data levels shared by neighbouring cells", () => {
    const cells = expandCells(loadStudy(write(base)));
    expect(cells).toHaveLength(2 * 2 * 2 * 2);
    expect(cells[0].id).toBe("seed-1_train-40_latents-2_lavit");
    expect(cells[1].id).toBe("seed-1_train-40_latents-2_no-align");
    expect(cells[1].student).toEqual({ latents: 2, traj: false, vtop: false });
    expect(cells[0].data).toEqual({ train: 40 });
    expect(cells.at(-1)!.id).toBe("seed-2_train-80_latents-4_no-align");
    expect(new Set(cells.map((c) => c.dataKey)).size).toBe(4);
  });

  it("refuses unknown factors, options, variants and metrics, naming the file and the key", () => {
    expect(refusal({ ...base, factors: { data: { trian: [1] } } })).toMatch(/factors\.data\.trian/);
    expect(refusal({ ...base, factors: { model: { x: [1] } } })).toMatch(/model/);
    expect(refusal({ ...base, variants: { lavit: { tarj: false } } })).toMatch(/variants\.lavit.*"tarj"/);
    expect(refusal({ ...base, metrics: ["acuracy"] })).toMatch(/metrics\[0\].*acuracy/);
    expect(refusal({ ...base, compare: [["lavit", "distil"]] })).toMatch(/compare\[0\].*distil/);
    expect(refusal({ ...base, student: { latents: 3 } })).toMatch(/factors\.student\.latents.*also fixed/);
    expect(refusal({ ...base, seeds: [1, 1] })).toMatch(/seeds/);
    expect(refusal({ ...base, extra: 1 })).toMatch(/extra/);
    // Values go through the stages' own checks, with the CLI's words.
    expect(refusal({ ...base, factors: { student: { latents: [4, -1] } } })).toMatch(/factors\.student\.latents\[1\]: --latents must be an integer/);
    expect(refusal({ ...base, student: { lr: "fast" } })).toMatch(/student: --lr must be a number/);
  });

  it("accepts the metrics an evaluation reports, dotted", () => {
    const ok = loadStudy(
      write({ ...base, metrics: ["accuracy", "thoughts_attention.js_to_teacher", "families.counting.accuracy", "probes.swap.constant.follow_b"] }),
    );
    expect(ok.metrics).toHaveLength(4);
  });

  it("parses shards and refuses 0/2, 3/2 and 1/0", () => {
    expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
    for (const bad of ["0/2", "3/2", "1/0", "1", "a/b", "-1/2"]) expect(() => parseShard(bad)).toThrow(/--shard must be I\/N/);
  });

  it("splits cells into contiguous shards that cover every cell once", () => {
    const cells = Array.from({ length: 11 }, (_, i) => i);
    for (const n of [1, 2, 3, 4, 11, 12]) {
      const parts = Array.from({ length: n }, (_, i) => shardCells(cells, { index: i + 1, count: n }));
      expect(parts.flat()).toEqual(cells);
      const sizes = parts.map((p) => p.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it("names the first place two specs differ", () => {
    expect(firstDifference({ a: 1, f: { data: { train: [1, 2] } } }, { a: 1, f: { data: { train: [1, 3] } } })).toBe("f.data.train");
    expect(firstDifference({ a: 1 }, { a: 1 })).toBeNull();
  });
});
