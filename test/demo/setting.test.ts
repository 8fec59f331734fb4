import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoStudy, runDemo } from "../../src/demo/pipeline.js";
import { DEMO_DEFAULTS } from "../../src/demo/recipe.js";
import { checkDemoSettings, recordDemoSettings, type DemoSettings } from "../../src/demo/settings.js";
import { runCli } from "../helpers/cli.js";

const resolved = (setting: "default" | "hard") => ({ ...DEMO_DEFAULTS, setting, resume: false, force: false, quiet: true });

describe("lavit demo --setting", () => {
  it("puts a non-default setting into the demo's data, and leaves the default demo's study as it was", () => {
    expect(demoStudy(resolved("hard")).spec.data).toMatchObject({ setting: "hard" });
    expect(demoStudy(resolved("default")).spec.data).not.toHaveProperty("setting");
  });

  it("refuses an unknown setting, from the CLI and from the library, naming the settings", async () => {
    const r = runCli(["demo", "--setting", "easy", "--out", join(mkdtempSync(join(tmpdir(), "lavit-demo-set-")), "d")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--setting.*easy.*default, hard|default, hard.*easy/s);
    // @ts-expect-error: a library caller without types
    await expect(runDemo({ setting: "easy", out: join(tmpdir(), "never") })).rejects.toThrow(/setting.*default.*hard/s);
  });

  it("refuses to resume a folder begun with another setting, naming both", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-demo-set-"));
    const settings: DemoSettings = {
      quick: false,
      prior: 0.8,
      setting: "default",
      latents: 8,
      preset: "lavit",
      gate_open_at: 1,
      teacher_weights_sha256: "t",
      student_base_weights_sha256: "b",
    };
    recordDemoSettings(dir, settings);
    expect(() => checkDemoSettings(dir, "runs/demo", { ...settings, setting: "hard" })).toThrow(
      /--out runs\/demo was begun with --setting default, not with --setting hard/,
    );
    expect(() => checkDemoSettings(dir, "runs/demo", settings)).not.toThrow();
  });
});
