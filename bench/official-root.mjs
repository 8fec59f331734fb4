#!/usr/bin/env node
// Peak memory on a big official root (not a timed test): writes a synthetic LaViT-15k-sized root
// in the official layout (V_top [64, 5120] bf16 per sample) with a matching lavit dataset, then
// measures the peak resident memory of `lavit signals check` and of 20 training steps of a
// student on it with /usr/bin/time -v. Needs `npm run build` first.
//
//   node bench/official-root.mjs [--samples 15000] [--width 5120] [--steps 20] [--dir D] [--keep]
//
// The root takes samples x 64 x width x 2 bytes (15,000 samples: 9.8 GB); the script refuses to
// start when the disk holds less, and deletes what it wrote unless --keep.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = (p) => import(path.join(root, "dist", p));
const { generateDataset } = await dist("data/generate.js");
const { GENERATE_DEFAULTS } = await dist("stages/generate.js");
const { readManifest } = await dist("data/manifest.js");
const { writePth } = await dist("io/pth.js");
const { encodePng } = await dist("data/png.js");
const { OFFICIAL_METADATA, trajectoryName, vtopName } = await dist("signals/official-layout.js");

const { values: a } = parseArgs({
  options: {
    samples: { type: "string", default: "15000" },
    width: { type: "string", default: "5120" },
    steps: { type: "string", default: "20" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const samples = Number(a.samples);
const width = Number(a.width);
const ROWS = 64; // an 8 x 8 teacher grid, the student's grid too (32 px images in 4 px patches)
const base = a.dir ?? mkdtempSync(path.join(tmpdir(), "lavit-bench-root-"));
mkdirSync(base, { recursive: true });

const perSample = ROWS * width * 2 + 4096;
const free = (() => {
  const s = statfsSync(base);
  return s.bavail * s.bsize;
})();
const need = samples * perSample + 200e6;
if (need > free) {
  console.error(`${base}: ${(free / 1e9).toFixed(1)} GB free, the root needs ${(need / 1e9).toFixed(1)} GB; give fewer --samples or another --dir`);
  process.exit(2);
}

const t0 = Date.now();
const log = (m) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${m}`);

// The dataset: the built-in benchmark's train split at 32 px, 4 px patches.
const data = path.join(base, "data");
generateDataset(data, { ...GENERATE_DEFAULTS, size: 32, patch: 4, teacherTrain: 0, train: samples, test: 0, quiet: true });
const manifest = readManifest(data, "train");
log(`dataset: ${manifest.length} samples`);

// The official root: every path absolute, as the builder writes them.
const sig = path.join(base, "root");
const dirs = ["data/images", "data/features/vtop", "data/features/trajectories", "data/metadata"].map((d) => path.join(sig, d));
for (const d of dirs) mkdirSync(d, { recursive: true });
const image = "viscot/bench.png";
mkdirSync(path.join(sig, "data/images/viscot"), { recursive: true });
writeFileSync(path.join(sig, "data/images", image), encodePng(new Uint8Array(32 * 32 * 3).fill(128), 32, 32));
// A few distinct V_tops, copied: writing 15,000 through the bf16 encoder would take an hour.
const variants = Array.from({ length: 8 }, (_, v) => {
  const file = path.join(base, `vtop-${v}.pth`);
  const values = Float32Array.from({ length: ROWS * width }, (_, i) => Math.sin(i * 0.37 + v * 1.3) * 2);
  writePth(file, { dtype: "bf16", shape: [ROWS, width], data: values });
  return file;
});
let seed = 1;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const results = manifest.map((s, k) => {
  const qid = Number(s.id);
  const vFile = path.join(sig, "data/features/vtop", vtopName(qid));
  const tFile = path.join(sig, "data/features/trajectories", trajectoryName(qid));
  copyFileSync(variants[k % variants.length], vFile);
  const steps = s.rationale.map(() => {
    const p = Array.from({ length: ROWS }, rand);
    const sum = p.reduce((x, y) => x + y, 0);
    const pt = p.map((x) => x / sum);
    const topk = [...pt.keys()].sort((i, j) => pt[j] - pt[i]).slice(0, 8);
    return { p_t: pt, p_topk_idx: topk, tau_used: "attention", method: "attention_based" };
  });
  writeFileSync(tFile, JSON.stringify({ steps }));
  if (k % 1000 === 999) log(`root: ${k + 1} samples`);
  return {
    question_id: qid,
    dataset: "bench",
    split: "train",
    question: s.question,
    ground_truth_enriched: s.answer,
    image_relative_path: image,
    v_top_path_abs: vFile,
    attention_path_abs: tFile,
  };
});
writeFileSync(path.join(sig, OFFICIAL_METADATA), JSON.stringify({ results }, null, 2));
for (const v of variants) rmSync(v);
log(`root written: ${results.length} samples, V_top [${ROWS}, ${width}] bf16`);

/** Runs the CLI under /usr/bin/time -v; the peak resident set in MB. */
function peakMb(args) {
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, path.join(root, "bin/lavit.js"), ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(r.status ?? 1);
  }
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
  const secs = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr)?.[1];
  return { peak_rss_mb: Math.round(kb / 1024), wall: secs, stdout: r.stdout };
}

const check = peakMb(["signals", "check", sig, "--data", data, "--json"]);
log(`signals check: peak ${check.peak_rss_mb} MB (${check.wall})`);
const out = path.join(base, "student");
const train = peakMb([
  "train",
  "student",
  "--signals",
  sig,
  "--data",
  data,
  "--init-from",
  "none",
  "--steps",
  a.steps,
  "--batch-size",
  "8",
  "--warmup",
  "0",
  "--quiet",
  "--out",
  out,
]);
log(`train student (${a.steps} steps): peak ${train.peak_rss_mb} MB (${train.wall})`);
const summary = JSON.parse(check.stdout);
console.log(
  JSON.stringify({
    samples: results.length,
    v_top: [ROWS, width],
    v_top_dtype: summary.v_top_dtype,
    root_gb: +((results.length * ROWS * width * 2) / 1e9).toFixed(2),
    signals_check_peak_rss_mb: check.peak_rss_mb,
    signals_check_wall: check.wall,
    train_steps: Number(a.steps),
    train_peak_rss_mb: train.peak_rss_mb,
    train_wall: train.wall,
    loss: JSON.parse(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").pop()).loss,
  }),
);
if (!a.keep) rmSync(base, { recursive: true, force: true });
