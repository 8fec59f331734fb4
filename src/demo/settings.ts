import { existsSync } from "node:fs";
import { weightsDigest } from "../study/weights.js";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/json.js";
import { PRESETS } from "../stages/presets.js";
import { SETTING_NAMES, type SettingName } from "../data/settings.js";

/**
 * What every stage of a demo folder depends on, recorded when the folder is begun so a
 * --resume that would mix two setups (sizes, data, K, or a teacher retrained in place) is
 * refused instead of silently reusing what the first run made. Seeds, --first-seed and --full
 * only add seed folders or students, so they may change between resumes.
 */
const DemoSettings = z.object({
  quick: z.boolean(),
  prior: z.number(),
  /** Absent in folders begun before the demo had settings: the default one. */
  setting: z.enum(SETTING_NAMES as [SettingName, ...SettingName[]]).default("default"),
  latents: z.number().int(),
  /** Absent in folders begun before presets existed: lavit's own. */
  preset: z.enum(PRESETS).default("lavit"),
  /** Not a flag: the demo's own recipe, which a newer lavit may change under an old folder. */
  gate_open_at: z.number(),
  teacher_weights_sha256: z.string(),
  student_base_weights_sha256: z.string().nullable(),
});
export type DemoSettings = z.infer<typeof DemoSettings>;

export const DEMO_SETTINGS_FILE = "demo.json";

export { weightsDigest };

/** How the command line says a setting, e.g. "with --prior 0.8" or "without --quick". */
function asFlag(key: "quick" | "prior" | "setting" | "latents" | "preset", value: DemoSettings[typeof key]): string {
  if (key === "quick") return value ? "with --quick" : "without --quick";
  return `with --${key} ${value}`;
}

/** Refuses a --resume whose settings differ from the folder's record, naming the setting. */
export function checkDemoSettings(outDir: string, shownOut: string, wanted: DemoSettings): void {
  const file = join(outDir, DEMO_SETTINGS_FILE);
  if (existsSync(file)) {
    const saved = readJson(file, DemoSettings, { what: "demo settings record", hint: "give another --out" });
    for (const key of ["quick", "prior", "setting", "latents", "preset"] as const) {
      if (saved[key] !== wanted[key])
        throw new UserError(
          `--out ${shownOut} was begun ${asFlag(key, saved[key])}, not ${asFlag(key, wanted[key])} (${DEMO_SETTINGS_FILE}): resume ${asFlag(key, saved[key])}, or give another --out`,
        );
    }
    if (saved.gate_open_at !== wanted.gate_open_at)
      throw new UserError(
        `--out ${shownOut} was begun by a lavit whose demo opened the sensory gate by ${saved.gate_open_at} of training, not ${wanted.gate_open_at} (${DEMO_SETTINGS_FILE}): its students would mix two recipes; give another --out, or --force to start it over`,
      );
    const models = [
      ["teacher", saved.teacher_weights_sha256, wanted.teacher_weights_sha256],
      ["student base", saved.student_base_weights_sha256, wanted.student_base_weights_sha256],
    ] as const;
    for (const [role, was, now] of models) {
      if (was !== now)
        throw new UserError(
          `--out ${shownOut} was begun with other ${role} weights than the ones given now (${DEMO_SETTINGS_FILE} records their sha256): its stages would mix two ${role}s; give another --out, or --force to start it over`,
        );
    }
  }
}

export function recordDemoSettings(outDir: string, settings: DemoSettings): void {
  writeFileAtomic(join(outDir, DEMO_SETTINGS_FILE), JSON.stringify(settings, null, 2) + "\n");
}
