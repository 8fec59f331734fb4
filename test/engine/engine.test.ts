import { describe, expect, it } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { activeAddon } from "../../src/engine/addon.js";
import { main } from "../../src/cli/main.js";
import { runCli } from "../helpers/cli.js";

describe("engine set-up", () => {
  it("reports the tier and the native kernels", async () => {
    const { info } = await initEngine();
    if (process.env.LAVIT_EXPECT_NATIVE === "1") expect(info.native).toBe(true);
    // The fused ops (engine/ops.ts) run on the addon exactly when the kernel registry does.
    expect(activeAddon() !== null).toBe(info.native);
    if (info.native) {
      expect(info.tier === "native-openblas" || info.tier === "native-builtin").toBe(true);
      expect(info.kernels).toContain("BatchMatMul");
      expect(info.kernels).toContain("_FusedMatMul");
      expect(info.threads).toBeGreaterThanOrEqual(1);
    } else {
      expect(info.tier).toBe("js");
      expect(info.kernels).toEqual(["Concat", "PadV2", "Slice"]);
    }
  });

  it("registers the block-copy kernels on the JS tier too (LAVIT_NATIVE=0)", () => {
    const r = runCli(["info", "--json"], { LAVIT_NATIVE: "0" });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.tier).toBe("js");
    expect(info.kernels).toEqual(["Concat", "PadV2", "Slice"]);
  });

  it("falls back to JS with one clear warning when the addon cannot be loaded", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-abi-"));
    const bogus = join(dir, "lavit_native.node");
    writeFileSync(bogus, "not a shared object");
    const r = runCli(["info", "--json"], { LAVIT_NATIVE_ADDON: bogus });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.native).toBe(false);
    expect(info.tier).toBe("js");
    const warnings = r.stderr.split("\n").filter((l) => l.includes("warning"));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain("could not be loaded");
    expect(info.kernels).toEqual(["Concat", "PadV2", "Slice"]);
  });

  it("info --json has the documented keys", () => {
    const r = runCli(["info", "--json"]);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    for (const k of ["native", "tier", "kernels", "blas", "threads"]) expect(info).toHaveProperty(k);
  });
});

describe("command line", () => {
  it("rejects an unknown bench config with the valid ones, exit 2", async () => {
    const r = runCli(["bench", "step", "--config", "huge"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("small");
    expect(r.stderr).toContain("base");
  });
  it("unknown sub-commands and flags exit 2", async () => {
    expect(await main(["node", "lavit", "frobnicate"])).toBe(2);
    expect(await main(["node", "lavit", "info", "--bogus"])).toBe(2);
  });
});
