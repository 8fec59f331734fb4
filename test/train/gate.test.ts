import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../src/engine/index.js";
import { NEG_INF } from "../../src/model/nn.js";
import { gateBias, gateValue, type GateSchedule } from "../../src/train/gate.js";
import { stageBoundary } from "../../src/train/two-stage.js";
import { Rng } from "../../src/util/rng.js";

describe("sensory gate", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("follows its schedules at start, middle and end", () => {
    const g = (schedule: GateSchedule, step: number) => gateValue({ schedule, openAt: 0.5, mode: "hard", gatePrompt: false }, step, 100);
    expect([g("none", 0), g("none", 50)]).toEqual([1, 1]);
    expect([g("two-stage", 0), g("two-stage", 49), g("two-stage", 50), g("two-stage", 99)]).toEqual([0, 0, 1, 1]);
    expect([g("linear", 0), g("linear", 25), g("linear", 50), g("linear", 99)]).toEqual([0, 0.5, 1, 1]);
    expect(g("cosine", 0)).toBe(0);
    expect(g("cosine", 25)).toBeCloseTo(0.5);
    expect(g("cosine", 99)).toBe(1);
  });

  it("opens a two-stage gate at the first step of stage 2, also when openAt * steps is not whole", () => {
    for (const [openAt, total] of [
      [0.5, 100],
      [0.4, 20],
      [0.3, 7],
      [0.25, 10],
    ]) {
      const b = stageBoundary(openAt, total);
      const g = (step: number) => gateValue({ schedule: "two-stage", openAt, mode: "hard", gatePrompt: false }, step, total);
      expect([g(b - 1), g(b)], `openAt ${openAt} of ${total} steps`).toEqual([0, 1]);
    }
  });

  it("blocks exactly the gated rows from the image columns and nothing else", () => {
    const t = 10;
    const imageStart = 2;
    const n = 4;
    // rows 8, 9 gated (the answer); rows 6, 7 are latents and must stay open
    const closed = gateBias([{ rows: [8, 9] }], t, imageStart, n, 0, "hard", new Rng(1))!;
    const v = closed.arraySync()[0][0];
    for (let r = 0; r < t; r++)
      for (let c = 0; c < t; c++) {
        const blocked = (r === 8 || r === 9) && c >= imageStart && c < imageStart + n;
        expect(v[r][c], `${r},${c}`).toBe(blocked ? NEG_INF : 0);
      }
    // half open, hard: exactly half of the patches hidden per gated row, the same set within a sample
    const half = gateBias([{ rows: [8, 9] }], t, imageStart, n, 0.5, "hard", new Rng(2))!.arraySync()[0][0];
    const hidden8 = half[8].slice(imageStart, imageStart + n).filter((x) => x === NEG_INF).length;
    expect(hidden8).toBe(2);
    expect(half[9]).toEqual(half[8]);
    expect(half[6].every((x) => x === 0)).toBe(true);
    const soft = gateBias([{ rows: [9] }], t, imageStart, n, 0.25, "soft", new Rng(3))!.arraySync()[0][0];
    expect(soft[9][imageStart]).toBeCloseTo(Math.log(0.25), 5);
    expect(soft[9][0]).toBe(0);
    expect(gateBias([{ rows: [9] }], t, imageStart, n, 1, "soft", new Rng(3))).toBeNull();
  });

  it("a hard gate a quarter open hides three quarters of the patches, a fresh subset per sample", () => {
    const t = 20;
    const imageStart = 2;
    const n = 16;
    const bias = gateBias([{ rows: [19] }, { rows: [18, 19] }], t, imageStart, n, 0.25, "hard", new Rng(5))!;
    const v = bias.arraySync();
    bias.dispose();
    const hidden = (b: number, r: number) => v[b][0][r].slice(imageStart, imageStart + n).flatMap((x, j) => (x === NEG_INF ? [j] : []));
    expect(hidden(0, 19)).toHaveLength(12);
    expect(hidden(1, 18)).toHaveLength(12);
    expect(hidden(1, 19)).toEqual(hidden(1, 18));
    // The subsets are drawn per sample: two samples hiding the same 12 of 16 patches would be a 1 in 1820 coincidence.
    expect(hidden(1, 19)).not.toEqual(hidden(0, 19));
    // Ungated rows and the text columns are untouched.
    expect(v[0][0][18].every((x) => x === 0)).toBe(true);
    expect(v[0][0][19].slice(0, imageStart).every((x) => x === 0)).toBe(true);
    // A quarter open, soft: every image column of a gated row gets log(0.25); a quarter closed, hard: 4 of 16 hidden.
    const soft = gateBias([{ rows: [19] }], t, imageStart, n, 0.25, "soft", new Rng(5))!;
    const s = soft.arraySync()[0][0][19];
    soft.dispose();
    for (let j = 0; j < n; j++) expect(s[imageStart + j]).toBeCloseTo(Math.log(0.25), 5);
    const mostlyOpen = gateBias([{ rows: [19] }], t, imageStart, n, 0.75, "hard", new Rng(5))!;
    expect(mostlyOpen.arraySync()[0][0][19].filter((x) => x === NEG_INF)).toHaveLength(4);
    mostlyOpen.dispose();
  });
});
