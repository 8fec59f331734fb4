/**
 * A small "your own data" set for trying `lavit data import`: one shape per image on a plain
 * background, images of five sizes (some JPEG), capitalised questions with punctuation
 * ("What colour is the square?"), answers as words, and boxes on every other row.
 *
 *   npx tsx scripts/make-import-set.ts --out DIR [--count N] [--seed S] [--csv]
 *
 * Writes DIR/images/*, and DIR/rows.jsonl (or DIR/rows.csv).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

const COLOURS: Record<string, [number, number, number]> = { red: [220, 40, 40], green: [40, 170, 60], blue: [40, 80, 230], yellow: [235, 210, 40] };
const SHAPES = ["square", "circle"] as const;
const SIZES: [number, number][] = [
  [96, 64],
  [64, 128],
  [200, 150],
  [120, 120],
  [320, 240],
];

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    count: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
    csv: { type: "boolean", default: false },
  },
});
if (!values.out) throw new Error("--out DIR is required");
const out = values.out;
const count = Number(values.count);
let state = Number(values.seed) >>> 0 || 1;
const rand = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

mkdirSync(join(out, "images"), { recursive: true });
const rows: Record<string, unknown>[] = [];
for (let i = 0; i < count; i++) {
  const [w, h] = SIZES[i % SIZES.length];
  const colour = pick(Object.keys(COLOURS));
  const shape = pick(SHAPES);
  const side = Math.round(Math.min(w, h) * (0.3 + 0.3 * rand()));
  const x0 = Math.floor(rand() * (w - side));
  const y0 = Math.floor(rand() * (h - side));
  const rgba = Buffer.alloc(w * h * 4);
  const bg = 90 + Math.floor(rand() * 60);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const cx = x - x0 - side / 2 + 0.5;
      const cy = y - y0 - side / 2 + 0.5;
      const inside = shape === "square" ? Math.abs(cx) < side / 2 && Math.abs(cy) < side / 2 : cx * cx + cy * cy < (side / 2) ** 2;
      const c = inside ? COLOURS[colour] : [bg, bg, bg];
      rgba.set([...c, 255], (y * w + x) * 4);
    }
  const isJpeg = i % 3 === 0;
  const file = `img-${i}.${isJpeg ? "jpg" : "png"}`;
  if (isJpeg) writeFileSync(join(out, "images", file), jpeg.encode({ data: rgba, width: w, height: h }, 90).data);
  else {
    const png = new PNG({ width: w, height: h });
    rgba.copy(png.data);
    writeFileSync(join(out, "images", file), PNG.sync.write(png));
  }
  const askShape = rand() < 0.5;
  const row: Record<string, unknown> = askShape
    ? { id: `q${i}`, image: file, question: `Which shape is ${colour}?`, answer: shape === "square" ? "A square." : "A circle." }
    : { id: `q${i}`, image: file, question: `What colour is the ${shape}?`, answer: colour[0].toUpperCase() + colour.slice(1) };
  if (i % 2 === 0) row.boxes = [x0, y0, x0 + side, y0 + side];
  rows.push(row);
}
if (values.csv) {
  const cell = (v: unknown) => (v === undefined ? "" : typeof v === "string" ? `"${v.replace(/"/g, '""')}"` : `"${JSON.stringify(v)}"`);
  const cols = ["id", "image", "question", "answer", "boxes"];
  writeFileSync(join(out, "rows.csv"), [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n");
} else writeFileSync(join(out, "rows.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
process.stderr.write(`wrote ${count} rows and images to ${out}\n`);
