import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { blasCoreFor, cpuFlags, withBlasCore } from "../../src/engine/blas-core.js";
import { runCli } from "../helpers/cli.js";

const AVX512 = new Set(["sse4_2", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]);
const AVX2 = new Set(["sse4_2", "avx2", "fma"]);

describe("blasCoreFor", () => {
  it("follows the processor: SkylakeX with AVX-512 F, CD, BW, DQ and VL, Haswell with AVX2 and FMA", () => {
    expect(blasCoreFor(AVX512, {})).toBe("SkylakeX");
    for (const missing of ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) {
      const flags = new Set(AVX512);
      flags.delete(missing);
      expect(blasCoreFor(flags, {})).toBe("Haswell");
    }
    expect(blasCoreFor(AVX2, {})).toBe("Haswell");
    expect(blasCoreFor(new Set(["avx2"]), {})).toBeNull();
    expect(blasCoreFor(new Set(), {})).toBeNull();
  });

  it("takes LAVIT_BLAS_CORE over the processor, and not OPENBLAS_CORETYPE", () => {
    expect(blasCoreFor(AVX512, { LAVIT_BLAS_CORE: "Zen" })).toBe("Zen");
    expect(blasCoreFor(AVX512, { OPENBLAS_CORETYPE: "Haswell" })).toBe("SkylakeX");
  });
});

describe("cpuFlags", () => {
  it("reads the first processor's flags, and nothing from a missing file", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-cpuinfo-"));
    const file = join(dir, "cpuinfo");
    writeFileSync(file, "processor\t: 0\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu\n");
    expect([...cpuFlags(file)]).toEqual(["fpu", "avx2", "avx512f"]);
    expect(cpuFlags(join(dir, "none")).size).toBe(0);
  });
});

describe("withBlasCore", () => {
  it("sets the core only while loading and puts the environment back, also after a throw", () => {
    const before = process.env.OPENBLAS_CORETYPE;
    try {
      delete process.env.OPENBLAS_CORETYPE;
      expect(withBlasCore(() => process.env.OPENBLAS_CORETYPE, AVX512)).toBe("SkylakeX");
      expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
      process.env.OPENBLAS_CORETYPE = "Haswell";
      expect(() =>
        withBlasCore(() => {
          throw new Error("no addon");
        }, AVX512),
      ).toThrow("no addon");
      expect(process.env.OPENBLAS_CORETYPE).toBe("Haswell");
      expect(withBlasCore(() => process.env.OPENBLAS_CORETYPE, new Set())).toBe("Haswell");
    } finally {
      if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
      else process.env.OPENBLAS_CORETYPE = before;
    }
  });
});

describe("the engine's OpenBLAS core", () => {
  const info = (env: Record<string, string>) => {
    const r = runCli(["info", "--json"], env);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { tier: string; blas: string | null };
  };

  it("follows the processor whatever OPENBLAS_CORETYPE says, and LAVIT_BLAS_CORE", () => {
    const chosen = info({ OPENBLAS_CORETYPE: "Prescott" });
    // CI builds the pack against OpenBLAS; elsewhere there may be no OpenBLAS to ask.
    if (process.env.LAVIT_EXPECT_NATIVE === "1") expect(chosen.tier).toBe("native-openblas");
    if (chosen.tier !== "native-openblas") return;
    expect(chosen.blas).toMatch(/^OpenBLAS \d/);
    const core = blasCoreFor(cpuFlags(), {});
    if (core) expect(chosen.blas).toContain(` ${core} `);
    expect(info({ LAVIT_BLAS_CORE: "Prescott" }).blas).toContain(" Prescott ");
  });
});
