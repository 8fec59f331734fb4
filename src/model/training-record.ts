import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** The part of a run's trainer_state.json that says how its latents were trained (older or foreign runs may lack any of it). */
const recordSchema = z.object({
  settings: z
    .object({ wTraj: z.number().optional(), trajSource: z.string().optional(), data_setting: z.string().optional(), mode: z.string().optional() })
    .passthrough()
    .optional(),
});

/**
 * Whether a model folder's trajectory head was trained: its run recorded a trajectory loss
 * (wTraj > 0) read from the head (trajSource head). A `--no-traj` or `--traj-source attention`
 * student's head never learnt anything, so its map is noise. A folder without the record (a
 * model made elsewhere or saved by hand) is taken as trained: the head is what it ships with.
 */
export function trajHeadTrained(dir: string): boolean {
  const file = join(dir, "trainer_state.json");
  if (!existsSync(file)) return true;
  let parsed: z.infer<typeof recordSchema>;
  try {
    const r = recordSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!r.success) return true;
    parsed = r.data;
  } catch {
    return true;
  }
  const s = parsed.settings ?? {};
  return (s.wTraj ?? 1) > 0 && s.trajSource !== "attention";
}

/**
 * The benchmark setting a student's run learnt from ("default" when its record names none), or
 * null for a folder that is not a student's run (a shipped model, a teacher: those are measured
 * on any setting).
 */
export function trainedSetting(dir: string): string | null {
  const file = join(dir, "trainer_state.json");
  if (!existsSync(file)) return null;
  try {
    const r = recordSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!r.success || r.data.settings?.mode === undefined) return null;
    return r.data.settings.data_setting ?? "default";
  } catch {
    return null;
  }
}
