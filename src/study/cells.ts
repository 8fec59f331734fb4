import { UserError } from "../errors.js";
import type { Level, LoadedStudy } from "./spec.js";

/** One cell of a study: a variant, a seed, and one level of every factor. */
export interface Cell {
  /** Stable and readable, e.g. "seed-9001_train-100_lavit": its folder's name. */
  id: string;
  seed: number;
  variant: string;
  /** Factor levels as "stage.option" → level, in the study file's order. */
  levels: Record<string, Level>;
  /** The folders this cell shares with others: its data (seed + data levels) and signals (+ extract levels). */
  dataKey: string;
  signalsKey: string;
  data: Record<string, unknown>;
  extract: Record<string, unknown>;
  student: Record<string, unknown>;
}

type Combo = [string, Level][];

function combos(table: Record<string, readonly Level[]> | undefined): Combo[] {
  let out: Combo[] = [[]];
  for (const [key, levels] of Object.entries(table ?? {})) out = out.flatMap((c) => levels.map((l): Combo => [...c, [key, l]]));
  return out;
}

/** A level as it appears in a folder name. */
function levelText(l: Level): string {
  return String(l).replace(/[^A-Za-z0-9.+-]/g, "-");
}

function part(combo: Combo): string[] {
  return combo.map(([k, l]) => `${k}-${levelText(l)}`);
}

/**
 * Every cell of a study in a fixed order: seed, then data levels, extract levels, student
 * levels, then variant. Cells that share data are neighbours, so a shard (a contiguous block)
 * makes few datasets of its own.
 */
export function expandCells(study: LoadedStudy): Cell[] {
  const s = study.spec;
  const cells: Cell[] = [];
  for (const seed of s.seeds)
    for (const d of combos(s.factors.data))
      for (const e of combos(s.factors.extract))
        for (const st of combos(s.factors.student))
          for (const [variant, options] of Object.entries(s.variants)) {
            const dataKey = ["seed-" + seed, ...part(d)].join("_");
            const signalsKey = [dataKey, ...part(e)].join("_");
            cells.push({
              id: [signalsKey, ...part(st), variant].join("_"),
              seed,
              variant,
              levels: Object.fromEntries([
                ...d.map(([k, l]) => [`data.${k}`, l]),
                ...e.map(([k, l]) => [`extract.${k}`, l]),
                ...st.map(([k, l]) => [`student.${k}`, l]),
              ]),
              dataKey,
              signalsKey,
              data: { ...s.data, ...Object.fromEntries(d) },
              extract: { ...s.extract, ...Object.fromEntries(e) },
              student: { ...s.student, ...Object.fromEntries(st), ...options },
            });
          }
  const ids = new Set<string>();
  for (const c of cells) {
    if (ids.has(c.id)) throw new UserError(`${study.file}: two cells would share the folder name ${c.id}; give levels that differ in letters or digits`);
    ids.add(c.id);
  }
  return cells;
}

export interface Shard {
  index: number;
  count: number;
}

/** "I/N" with 1 <= I <= N. */
export function parseShard(text: string, flag = "--shard"): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count)
    throw new UserError(`${flag} must be I/N with 1 <= I <= N (e.g. 1/4), got "${text}"`);
  return { index, count };
}

/** Shard I of N: the I-th of N contiguous, near-equal blocks of the cells. */
export function shardCells<T>(cells: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...cells];
  const from = Math.floor(((shard.index - 1) * cells.length) / shard.count);
  const to = Math.floor((shard.index * cells.length) / shard.count);
  return cells.slice(from, to);
}
