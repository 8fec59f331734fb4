import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/index.js";
import { Tokenizer } from "../src/data/tokenizer.js";
import { teacherConfig } from "../src/model/presets.js";
import { buildVlm } from "../src/model/vlm.js";
import { saveModel } from "../src/model/checkpoint.js";

describe("the package's entry point", () => {
  it("imports as `lavit` from the built package, and a typed call trains a tiny student", async () => {
    // `npm test` builds first, so dist/ is the package as it would be published from this source.
    expect(existsSync(join("dist", "index.js")), "dist/index.js is missing: run `npm run build`").toBe(true);
    await initEngine();
    const root = mkdtempSync(join(tmpdir(), "lavit-api-"));
    const teacher = join(root, "teacher");
    const tok = Tokenizer.forGrammar();
    const cfg = teacherConfig(tok.size, 32, 8);
    const small = {
      ...cfg,
      vision: { ...cfg.vision, hidden_size: 16, num_layers: 1, mlp_size: 32 },
      decoder: { ...cfg.decoder, hidden_size: 16, num_layers: 1, ffn_size: 32 },
    };
    const t = buildVlm(small, 0);
    saveModel(teacher, small, t.store, tok, 0);
    t.dispose();
    const user = spawnSync(join("node_modules", ".bin", "tsx"), [join("test", "fixtures", "library-user.ts"), root, teacher], {
      encoding: "utf8",
      env: { ...process.env, LAVIT_NO_PROGRESS: "1" },
    });
    expect(user.status, user.stderr).toBe(0);
    const out = JSON.parse(user.stdout.trim().split("\n").pop()!);
    expect(out.step).toBe(3);
    expect(out.signals).toBe(24);
    expect(out.count).toBe(4);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(root, "student", "model.safetensors"))).toBe(true);
  }, 120_000);
});
