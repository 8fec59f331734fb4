import { beforeAll, describe, expect, it } from "vitest";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { gap } from "../../src/stages/gap.js";
import { readPng } from "../../src/data/png.js";
import { readOfficialSignals, OFFICIAL_METADATA } from "../../src/signals/official-layout.js";
import { officialWriter } from "../../src/signals/official-writer.js";
import { lavitWriter, type ExtractedSample } from "../../src/signals/extract.js";
import { openSignals, readSignals, detectLayout } from "../../src/signals/layout.js";
import { checkSignals } from "../../src/signals/check.js";
import { bestGrid, resizeGrid } from "../../src/signals/grid.js";
import { headerSize, imageSize, readJpeg } from "../../src/io/jpeg.js";
import { readImageAny } from "../../src/data/read-image.js";
import fc from "fast-check";
import { encodePng } from "../../src/data/png.js";
import { UserError } from "../../src/errors.js";
import type { Sample } from "../../src/data/manifest.js";
import { runPython, torchAvailable } from "../helpers/torch.js";
import { writePth } from "../../src/io/pth.js";
import { runCli } from "../helpers/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "lavit-official-"));
const hasTorch = torchAvailable();

function writeJpeg(file: string, width: number, height: number): void {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 7) % 256, (i * 3) % 256, 128, 255], i * 4);
  writeFileSync(file, jpeg.encode({ width, height, data }, 90).data);
}

const sum1 = (p: ArrayLike<number>) => {
  const s = Array.from(p).reduce((a, b) => a + b, 0);
  return Array.from(p, (v) => v / s);
};
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (Math.abs(got[i] - want[i]) > tol) expect(got[i], `${what}[${i}]`).toBeCloseTo(want[i], 6);
}

describe("grid rule", () => {
  it("picks the factorisation closest to the image's aspect, first best wins", () => {
    expect(bestGrid(8, 48, 24)).toEqual({ h: 2, w: 4 });
    expect(bestGrid(18, 48, 24)).toEqual({ h: 3, w: 6 });
    expect(bestGrid(16, 32, 32)).toEqual({ h: 4, w: 4 });
    expect(bestGrid(12, 30, 40)).toEqual({ h: 4, w: 3 });
    expect(bestGrid(7, 10, 10)).toEqual({ h: 1, w: 7 });
  });
  it("resizes bilinearly, identity on equal grids", () => {
    expect(Array.from(resizeGrid([1, 2, 3, 4], 2, 2, 2, 2))).toEqual([1, 2, 3, 4]);
    // 1x2 -> 1x4 (align_corners=false): [1, 1.25, 1.75, 2]
    expect(Array.from(resizeGrid([1, 2], 1, 2, 1, 4))).toEqual([1, 1.25, 1.75, 2]);
  });
});

describe("JPEG", () => {
  it("reads any size and names a file it cannot decode", () => {
    const dir = tmp();
    writeJpeg(join(dir, "x.jpg"), 37, 21);
    const img = readJpeg(join(dir, "x.jpg"));
    expect([img.width, img.height, img.rgb.length]).toEqual([37, 21, 37 * 21 * 3]);
    writeFileSync(join(dir, "bad.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    expect(() => readJpeg(join(dir, "bad.jpg"))).toThrow(UserError);
    expect(() => readJpeg(join(dir, "bad.jpg"))).toThrow(/bad\.jpg: not a JPEG lavit can decode/);
  });

  it("reads the size from the header alone, as the decoder finds it, and never throws on junk", () => {
    const dir = tmp();
    writeJpeg(join(dir, "x.jpg"), 37, 21);
    writeFileSync(join(dir, "x.png"), encodePng(new Uint8Array(5 * 3 * 3), 5, 3));
    const files = [join(dir, "x.jpg"), join(dir, "x.png"), ...["progressive.jpg", "cmyk.jpg"].map((f) => join(process.cwd(), "test", "fixtures", f))];
    for (const f of files) {
      const d = readImageAny(f);
      expect(imageSize(f), f).toEqual({ width: d.width, height: d.height });
    }
    const jpg = readFileSync(join(dir, "x.jpg"));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(400), (junk, cut) => {
        headerSize(junk);
        headerSize(Uint8Array.from([0xff, 0xd8, ...junk]));
        headerSize(jpg.subarray(0, cut));
      }),
      { numRuns: 2000 },
    );
  });

  it("reads progressive and Adobe CMYK JPEGs (made with libjpeg, test/fixtures/make_jpegs.c)", () => {
    for (const name of ["progressive.jpg", "cmyk.jpg"]) {
      const img = readJpeg(join(process.cwd(), "test", "fixtures", name));
      expect([img.width, img.height], name).toEqual([24, 16]);
      // Pixel (x, y) was written as RGB (10x, 15y, 200); chroma subsampling blurs red by a few levels.
      for (const [x, y] of [
        [0, 0],
        [23, 15],
        [12, 8],
      ]) {
        const at = (y * 24 + x) * 3;
        const got = Array.from(img.rgb.subarray(at, at + 3));
        [10 * x, 15 * y, 200].forEach((v, c) => expect(Math.abs(got[c] - v), `${name} (${x}, ${y})`).toBeLessThanOrEqual(16));
      }
    }
  });
});

interface Expected {
  d: number;
  target: number;
  samples: {
    question_id: number;
    n_img: number;
    grid: [number, number];
    dtype: string;
    v_top: number[];
    p_t: number[][];
    v_top_target: number[];
    p_t_target: number[][];
  }[];
}

describe.skipIf(!hasTorch)("a root written as the official builder writes it (python3-torch)", () => {
  let root = "";
  let expected: Expected;
  beforeAll(() => {
    const base = tmp();
    const images = join(base, "src-images");
    mkdirSync(images);
    writeJpeg(join(images, "a.jpg"), 32, 32);
    writeJpeg(join(images, "b.jpg"), 48, 24);
    root = join(base, "lavit15k");
    runPython("official_root.py", [root, images, join(base, "expected.json"), "4"]);
    expected = JSON.parse(readFileSync(join(base, "expected.json"), "utf8"));
  });

  it("is detected as the official layout", () => {
    expect(detectLayout(root)).toBe("official");
  });

  it("lavit gap compares it on the teacher's own grids and draws its JPEG images", async () => {
    const out = join(tmp(), "gap");
    const report = await gap({ teacher: root, compare: [root], out, quiet: true });
    const json = JSON.parse(readFileSync(join(out, "gap.json"), "utf8"));
    expect(Object.values(json.models as Record<string, { js_to_teacher: number; samples: number }>)[0]).toMatchObject({ js_to_teacher: 0, samples: 3 });
    expect(json.uniform.js_to_teacher).toBeGreaterThan(0);
    expect(report.heatmaps.length).toBeGreaterThan(0);
    // 4203's image is 48 x 24 on a 2 x 4 grid: its panel keeps that aspect.
    const panel = readPng(join(out, report.heatmaps.find((h) => h.id === "4203")!.file));
    expect(panel.width).toBeGreaterThan(panel.height);
  });

  it("reads every value as torch holds it, on the teacher's own grid", () => {
    const r = readOfficialSignals(root, null);
    expect(r.samples.map((s) => s.result.question_id)).toEqual([17, 4203, 9]);
    for (const [k, e] of expected.samples.entries()) {
      const s = r.samples[k];
      expect(r.info[k]).toMatchObject({ questionId: e.question_id, nImg: e.n_img, grid: { h: e.grid[0], w: e.grid[1] }, dtype: e.dtype });
      expect(s.vTop.rows).toBe(e.n_img);
      expect(Array.from(s.vTop.data)).toEqual(e.v_top.map(Math.fround));
      expect(s.steps.length).toBe(e.p_t.length);
      for (const [t, p] of e.p_t.entries()) expectClose(s.steps[t], sum1(p), 1e-6, `sample ${e.question_id} step ${t}`);
      expect(s.result.image_relative_path).toMatch(/^viscot\//);
    }
    expect(r.info.map((i) => i.methods)).toEqual([["attention_based"], ["attention_based"], ["grad_weighted_by_strength"]]);
  });

  it("resizes maps and V_top to the student's grid as torch's bilinear interpolation does (readSignals)", () => {
    const { samples } = readSignals(root, expected.target);
    for (const [k, e] of expected.samples.entries()) {
      const s = samples[k];
      expect(s.vTop.rows).toBe(16);
      expectClose(s.vTop.data, e.v_top_target, 1e-5, `V_top of ${e.question_id}`);
      for (const [t, p] of e.p_t_target.entries()) expectClose(s.steps[t], sum1(p), 1e-6, `sample ${e.question_id} step ${t}`);
    }
  });

  it("finds the features again when the root has moved", () => {
    const moved = `${root}-moved`;
    cpSync(root, moved, { recursive: true });
    const hidden = `${root}-hidden`;
    renameSync(root, hidden);
    try {
      const r = readOfficialSignals(moved, 4);
      expect(r.samples).toHaveLength(3);
      expect(r.samples[0].result.v_top_path_abs!.startsWith(moved)).toBe(true);
    } finally {
      renameSync(hidden, root);
    }
  });

  it("summarises the folder with lavit signals check", () => {
    const s = checkSignals(root);
    expect(s).toMatchObject({
      layout: "official",
      samples: 3,
      steps: { total: 6, min: 1, max: 3 },
      grids: { "4x4": 1, "2x4": 1, "3x6": 1 },
      v_top_width: 8,
      v_top_dtype: "bf16, fp16",
      grounding_mass: null,
    });
    const cli = runCli(["signals", "check", root]);
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/official layout, 3 samples/);
  });

  describe("bad input", () => {
    let bad = "";
    const meta = () => join(bad, OFFICIAL_METADATA);
    const results = () => JSON.parse(readFileSync(meta(), "utf8")).results as Record<string, unknown>[];
    const setResults = (r: unknown[]) => writeFileSync(meta(), JSON.stringify({ results: r }));
    beforeAll(() => {
      bad = `${root}-bad`;
    });
    const fresh = () => {
      rmSync(bad, { recursive: true, force: true });
      cpSync(root, bad, { recursive: true });
      // The copy's metadata points into the copy, as if the builder had written it there.
      writeFileSync(meta(), readFileSync(meta(), "utf8").split(`${root}/`).join(`${bad}/`));
    };

    it("a p_t length that disagrees with V_top rows names the sample (and exits 2 in signals check)", () => {
      fresh();
      const traj = join(bad, "data/features/trajectories/sample_004203_attention.json");
      const t = JSON.parse(readFileSync(traj, "utf8"));
      t.steps[1].p_t.push(0.5);
      writeFileSync(traj, JSON.stringify(t));
      expect(() => readOfficialSignals(bad, 4)).toThrow(/sample 4203 \(results\.1\): .*steps\.1\.p_t has 9 values but V_top .* has 8 rows/);
      const cli = runCli(["signals", "check", bad]);
      expect(cli.status).toBe(2);
      expect(cli.stderr).toMatch(/sample 4203/);
      expect(cli.stderr).not.toMatch(/at .*\.[jt]s:\d+/);
    });

    it("a p_t of 1e300 (Infinity as float32) or a V_top of width 0 is refused, naming the file (signals check exits 2)", () => {
      fresh();
      const traj = join(bad, "data/features/trajectories/sample_004203_attention.json");
      const t = JSON.parse(readFileSync(traj, "utf8"));
      t.steps[0].p_t[3] = 1e300;
      writeFileSync(traj, JSON.stringify(t));
      expect(() => readOfficialSignals(bad, 4)).toThrow(/sample_004203_attention\.json: sample 4203 \(results\.1\): steps\.0\.p_t\.3 is 1e\+300, not a finite/);
      const cli = runCli(["signals", "check", bad]);
      expect(cli.status).toBe(2);
      expect(cli.stderr).toMatch(/sample_004203_attention\.json: .*steps\.0\.p_t\.3/);
      fresh();
      writePth(join(bad, "data/features/vtop/sample_004203_v_top_layer.pth"), { dtype: "bf16", shape: [8, 0], data: new Float32Array(0) });
      expect(() => checkSignals(bad)).toThrow(
        /sample_004203_v_top_layer\.pth: sample 4203 \(results\.1\): V_top has shape \[8, 0\]; it needs at least one row and a width > 0/,
      );
    });

    it("a token count that fits no grid near the image's shape names the sample", () => {
      fresh();
      // 4203's image is 48 wide, 24 high; 7 tokens only factor as 1x7.
      writePth(join(bad, "data/features/vtop/sample_004203_v_top_layer.pth"), { dtype: "bf16", shape: [7, 8], data: new Float32Array(56).fill(0.5) });
      const traj = join(bad, "data/features/trajectories/sample_004203_attention.json");
      const t = JSON.parse(readFileSync(traj, "utf8"));
      for (const st of t.steps) {
        st.p_t = st.p_t.slice(0, 7);
        st.p_topk_idx = [0];
      }
      writeFileSync(traj, JSON.stringify(t));
      expect(() => readOfficialSignals(bad, 4)).toThrow(/sample 4203 \(results\.1\): 7 image tokens fit no grid near the image's 48x24 shape/);
    });

    it("paths outside the root are refused unless allowed, and errors never quote a file's contents", () => {
      fresh();
      const secretDir = tmp();
      const secret = join(secretDir, "secret.json");
      writeFileSync(secret, '{"steps": "SECRET-CONTENT-123"}');
      const r = results();
      r[0].attention_path_abs = secret;
      setResults(r);
      expect(() => readOfficialSignals(bad, 4)).toThrow(/leads outside .*--allow-outside-root/);
      // A missing file outside the root gets the same words: whether it exists is not learnt.
      const wording = (path: string) => {
        r[0].attention_path_abs = path;
        setResults(r);
        try {
          readOfficialSignals(bad, 4);
        } catch (e) {
          return (e as Error).message.replace(path, "PATH");
        }
        return "";
      };
      expect(wording(join(secretDir, "missing.json"))).toBe(wording(secret));
      r[0].attention_path_abs = secret;
      setResults(r);
      let msg = "";
      try {
        readOfficialSignals(bad, 4, { allowOutsideRoot: true });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/secret\.json: sample 17 \(results\.0\): field steps must be a non-empty array/);
      expect(msg).not.toContain("SECRET");
      r[0].attention_path_abs = "../../../../../../../../etc/passwd";
      setResults(r);
      expect(() => readOfficialSignals(bad, 4)).toThrow(/leads outside/);
      writeFileSync(meta(), "{ SECRET-CONTENT-456");
      expect(() => readOfficialSignals(bad, 4)).toThrow(/signals metadata is not valid JSON$/);
      try {
        readOfficialSignals(bad, 4);
      } catch (e) {
        expect((e as Error).message).not.toContain("SECRET");
      }
    });

    it("empty results, a missing question_id and a missing V_top are refused by name", () => {
      fresh();
      const r = results();
      setResults([]);
      expect(() => readOfficialSignals(bad, 4)).toThrow(/results is empty/);
      setResults([{ ...r[0], question_id: "17" }]);
      expect(() => readOfficialSignals(bad, 4)).toThrow(/results\.0\.question_id must be a non-negative integer/);
      rmSync(join(bad, "data/features/vtop/sample_000009_v_top_layer.pth"));
      setResults(r);
      expect(() => readOfficialSignals(bad, 4)).toThrow(/sample 9 \(results\.2\): v_top_path_abs not found/);
    });
  });
});

/** Synthetic extracted samples: 2 on a 4x4 grid, d = 6. */
function extracted(dir: string): ExtractedSample[] {
  mkdirSync(join(dir, "data", "train"), { recursive: true });
  return [0, 1].map((index) => {
    const image = `img-${index}.png`;
    writeFileSync(join(dir, "data", "train", image), encodePng(new Uint8Array(8 * 8 * 3).fill(40 * index), 8, 8));
    const steps = [0, 1].slice(0, index + 1).map((t) => {
      const p = Array.from({ length: 16 }, (_, i) => Math.round(((i * (t + 3) + index) % 11) * 1e5) / 1e6);
      return { p_t: p, p_topk_idx: [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, 4), method: "attention" as const, text: `step ${t}` };
    });
    return {
      index: index * 5,
      sample: { id: `s${index}`, question: `q ${index}?`, answer: "yes", image, rationale: [{ patches: [1, 2] }, { patches: [5] }] } as unknown as Sample,
      steps,
      vTop: Float32Array.from({ length: 16 * 6 }, (_, i) => Math.sin(i + index) * 3),
      rows: 16,
      dim: 6,
      groundTruth: `because ${index}`,
      imageFile: join(dir, "data", "train", image),
    };
  });
}

function write(kind: "lavit" | "official", dir: string, samples: ExtractedSample[], vtopDtype: "bf16" | "fp32" = "bf16") {
  const o = { outDir: dir, finalDir: dir, method: "attention" as const, tau: 0.05, split: "train", grid: 4, teacherHiddenSize: 6 };
  const w = kind === "official" ? officialWriter({ ...o, vtopDtype }) : lavitWriter(o);
  for (const s of samples) w.add(s);
  w.finish();
}

describe("writing the official layout", () => {
  it("reads back the same signals as lavit's own layout (fp32 V_top: identical; bf16: to bf16 precision)", () => {
    const base = tmp();
    const samples = extracted(base);
    write("lavit", join(base, "lavit"), samples);
    write("official", join(base, "official32"), samples, "fp32");
    write("official", join(base, "official16"), samples, "bf16");
    const a = readSignals(join(base, "lavit"), 4).samples;
    const b = readSignals(join(base, "official32"), 4).samples;
    const c = readSignals(join(base, "official16"), 4).samples;
    expect(b.map((s) => s.steps)).toEqual(a.map((s) => s.steps));
    expect(b.map((s) => s.topk)).toEqual(a.map((s) => s.topk));
    expect(b.map((s) => s.vTop)).toEqual(a.map((s) => s.vTop));
    expect(b.map((s) => [s.result.id, s.result.question, s.result.ground_truth_enriched])).toEqual(
      a.map((s) => [s.result.id, s.result.question, s.result.ground_truth_enriched]),
    );
    for (const [k, s] of c.entries()) expectClose(s.vTop.data, a[k].vTop.data, 3 / 128, "bf16 V_top");
    const meta = JSON.parse(readFileSync(join(base, "official16", OFFICIAL_METADATA), "utf8"));
    expect(meta.results.map((r: { question_id: number }) => r.question_id)).toEqual([0, 5]);
    expect(meta.results[1].v_top_path_abs).toBe(join(base, "official16", "data/features/vtop/sample_000005_v_top_layer.pth"));
    expect(meta.results[1].attention_path_abs).toBe(join(base, "official16", "data/features/trajectories/sample_000005_attention.json"));
    expect(meta.results[1].image_relative_path).toBe("train/img-1.png");
    const traj = JSON.parse(readFileSync(meta.results[1].attention_path_abs, "utf8"));
    expect(traj.steps[0]).toMatchObject({ tau_used: "attention", method: "attention_based" });
  });

  it("opens a root without reading any sample's files: a bad one is found when that sample is read", () => {
    const base = tmp();
    const samples = extracted(base);
    for (const kind of ["lavit", "official"] as const) {
      const dir = join(base, kind);
      write(kind, dir, samples);
      const source = openSignals(dir, 4);
      const bad = kind === "official" ? source.results[1].v_top_path_abs! : join(dir, source.results[1].v_top_path_abs!);
      writeFileSync(bad, "not a tensor");
      const again = openSignals(dir, 4);
      expect(again.results.map((r) => r.id)).toEqual(["s0", "s1"]);
      expect(again.read(0).vTop!.dim).toBe(6);
      expect(() => again.read(1)).toThrow(UserError);
      expect(() => again.read(1)).toThrow(bad);
    }
  });

  it.skipIf(!hasTorch)("the official reading path (json.load + torch.load) reads it back with equal values", () => {
    const base = tmp();
    const samples = extracted(base);
    const root = join(base, "official");
    write("official", root, samples, "bf16");
    const back = readOfficialSignals(root, null).samples;
    const exp = {
      samples: samples.map((s, k) => ({
        question_id: s.index,
        dtype: "bf16",
        shape: [16, 6],
        v_top: Array.from(back[k].vTop.data),
        p_t: s.steps.map((st) => st.p_t),
        question: s.sample.question,
        ground_truth_enriched: s.groundTruth,
        image_relative_path: `train/${s.sample.image}`,
      })),
    };
    writeFileSync(join(base, "expected.json"), JSON.stringify(exp));
    expect(runPython("torch_read.py", [join(root, OFFICIAL_METADATA), join(base, "expected.json")]).trim()).toBe("ok 2");
  });
});
