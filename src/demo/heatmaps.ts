import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import { encodePng } from "../data/png.js";
import { jensenShannon } from "../eval/gap.js";
import { heatmapPanel } from "../report/heatmap.js";
import { massOn } from "../signals/maps.js";
import { Rng } from "../util/rng.js";

/** One panel of a heatmap figure: its PNG (relative to the report) and the line written under it. */
export interface HeatmapPanel {
  label: string;
  file: string;
  caption: string;
}

/** One sample: a row of panels per rationale step (the image with its ground truth, then each model's gaze). */
export interface HeatmapFigure {
  id: string;
  question: string;
  answer: string;
  /** Why it is shown: where the two students' gaze differs most, or picked at random. */
  why: string;
  steps: { text: string; panels: HeatmapPanel[] }[];
}

export interface HeatmapOptions {
  /** The two models whose disagreement picks the samples. */
  contrast: [string, string];
  /** Samples where they differ most... */
  show?: number;
  /** ...plus this many others at random (seeded). */
  random?: number;
  seed: number;
  /** Rationale steps drawn per sample. */
  maxSteps?: number;
}

/** Mean over the steps both wrote of the JS divergence between two models' maps (-1: nothing to compare). */
function disagreement(a: readonly Float32Array[] | undefined, b: readonly Float32Array[] | undefined): number {
  const steps = Math.min(a?.length ?? 0, b?.length ?? 0);
  if (!steps) return -1;
  let js = 0;
  for (let t = 0; t < steps; t++) js += jensenShannon(a![t], b![t]);
  return js / steps;
}

/** The samples to draw: those where the contrasted models' gaze differs most, then a few others at random. */
export function pickSamples(maps: Record<string, readonly (readonly Float32Array[])[]>, count: number, o: HeatmapOptions): { index: number; why: string }[] {
  const [x, y] = o.contrast;
  const show = o.show ?? 4;
  const random = o.random ?? 2;
  const scored = Array.from({ length: count }, (_, i) => ({ i, d: disagreement(maps[x]?.[i], maps[y]?.[i]) })).filter((s) => s.d >= 0);
  const order = [...scored].sort((a, b) => b.d - a.d || a.i - b.i);
  const top = order.slice(0, show).map((s) => ({ index: s.i, why: `${x}'s and ${y}'s gaze differ most here (mean JS between them ${s.d.toFixed(3)})` }));
  const rest = new Rng(o.seed).shuffle(order.slice(show)).slice(0, random);
  return [...top, ...rest.map((s) => ({ index: s.i, why: `picked at random (mean JS between ${x} and ${y} ${s.d.toFixed(3)})` }))];
}

/**
 * Writes one PNG per panel under `out/heatmaps/` and returns the figures: for each picked
 * sample and rationale step, the image with the step's ground truth outlined, then each model's
 * gaze with its grounding mass and, but for the teacher, its JS divergence to the teacher's map.
 */
export function writeHeatmaps(
  out: string,
  data: LoadedSplit,
  maps: Record<string, readonly (readonly Float32Array[])[]>,
  models: readonly string[],
  o: HeatmapOptions,
): HeatmapFigure[] {
  const dir = join(out, "heatmaps");
  mkdirSync(dir, { recursive: true });
  const grid = data.info.size / data.info.patch;
  const save = (name: string, panel: ReturnType<typeof heatmapPanel>) => {
    // Row names hold spaces and brackets ("lavit thoughts (head)"), which break a markdown image link.
    const file = `heatmaps/${data.split}-${name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/-+$/, "")}.png`;
    writeFileSync(join(out, file), encodePng(panel.rgb, panel.size, panel.size));
    return file;
  };
  return pickSamples(maps, data.samples.length, o).map(({ index, why }) => {
    const s = data.samples[index];
    const steps = s.rationale.slice(0, o.maxSteps ?? 3).map((step, t) => {
      const image = data.images[index];
      const panels: HeatmapPanel[] = [
        {
          label: "ground truth",
          file: save(`${s.id}-${t}-image`, heatmapPanel(image, data.info.size, grid, null, step.patches)),
          caption: "ground truth (cyan)",
        },
      ];
      const teacher = maps.teacher?.[index]?.[t];
      for (const m of models) {
        const map = maps[m]?.[index]?.[t] ?? null;
        const facts = map
          ? [
              `mass ${massOn(map, [...new Set(step.patches)], 1).toFixed(2)}`,
              ...(m !== "teacher" && teacher ? [`JS ${jensenShannon(map, teacher).toFixed(3)}`] : []),
            ]
          : ["no such step"];
        panels.push({
          label: m,
          file: save(`${s.id}-${t}-${m}`, heatmapPanel(image, data.info.size, grid, map, step.patches)),
          caption: `${m}: ${facts.join(", ")}`,
        });
      }
      return { text: step.text, panels };
    });
    return { id: s.id, question: s.question, answer: s.answer, why, steps };
  });
}
