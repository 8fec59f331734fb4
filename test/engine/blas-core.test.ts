import { afterEach, describe, expect, it, vi } from "vitest";
import { blasCoreFor, withBlasCore } from "../../src/engine/blas-core.js";
import { runCli } from "../helpers/cli.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("blasCoreFor", () => {
  it("takes LAVIT_BLAS_CORE, and not OPENBLAS_CORETYPE", () => {
    expect(blasCoreFor({ LAVIT_BLAS_CORE: "Zen" })).toBe("Zen");
    expect(blasCoreFor({ OPENBLAS_CORETYPE: "Haswell" })).toBeNull();
    expect(blasCoreFor({ LAVIT_BLAS_CORE: "" })).toBeNull();
  });
});

describe("withBlasCore", () => {
  it("hides OPENBLAS_CORETYPE only while loading and puts it back, also after a throw", () => {
    vi.stubEnv("OPENBLAS_CORETYPE", "Haswell");
    vi.stubEnv("LAVIT_BLAS_CORE", undefined);
    expect(withBlasCore(() => process.env.OPENBLAS_CORETYPE)).toBeUndefined();
    expect(process.env.OPENBLAS_CORETYPE).toBe("Haswell");
    expect(() =>
      withBlasCore(() => {
        throw new Error("no addon");
      }),
    ).toThrow("no addon");
    expect(process.env.OPENBLAS_CORETYPE).toBe("Haswell");
  });

  it("sets LAVIT_BLAS_CORE's core while loading", () => {
    vi.stubEnv("OPENBLAS_CORETYPE", undefined);
    vi.stubEnv("LAVIT_BLAS_CORE", "Zen");
    expect(withBlasCore(() => process.env.OPENBLAS_CORETYPE)).toBe("Zen");
    expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
  });
});

describe("the engine's OpenBLAS core", () => {
  const info = (env: Record<string, string>) => {
    const r = runCli(["info", "--json"], env);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { tier: string; blas: string | null };
  };

  it("is OpenBLAS's own choice whatever OPENBLAS_CORETYPE says, or LAVIT_BLAS_CORE's", () => {
    // Two cores OpenBLAS would never detect together: at least one of them is not this processor's.
    const forced = [info({ OPENBLAS_CORETYPE: "Prescott" }), info({ OPENBLAS_CORETYPE: "Zen" })];
    // CI builds the pack against OpenBLAS; elsewhere there may be no OpenBLAS to ask.
    if (process.env.LAVIT_EXPECT_NATIVE === "1") expect(forced[0]!.tier).toBe("native-openblas");
    if (forced[0]!.tier !== "native-openblas") return;
    expect(forced[0]!.blas).toMatch(/^OpenBLAS \d/);
    expect(forced[1]!.blas).toBe(forced[0]!.blas);
    expect(info({ LAVIT_BLAS_CORE: "Prescott" }).blas).toContain(" Prescott ");
  });
});
