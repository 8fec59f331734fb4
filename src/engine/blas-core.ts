import { readFileSync } from "node:fs";

/** The instructions each OpenBLAS core's kernels need, the widest first. */
const CORES: ReadonlyArray<readonly [core: string, flags: readonly string[]]> = [
  // Intel's Cooper Lake and Sapphire Rapids cores and AMD's Zen 4 and 5 run these single-precision kernels too.
  ["SkylakeX", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]],
  ["Haswell", ["avx2", "fma"]],
];

/**
 * The OpenBLAS core lavit loads its GEMM with, or null to leave the choice to OpenBLAS.
 * The kernels decide a run's bits (the AVX2 and AVX-512 ones round differently) and its speed
 * (the AVX2 ones take half as long again on an AVX-512 machine), so the choice follows the
 * processor, not OPENBLAS_CORETYPE, which a machine may set for other programs: one such
 * machine forced Haswell on an AVX-512 processor. LAVIT_BLAS_CORE names another core.
 */
export function blasCoreFor(cpuFlags: ReadonlySet<string>, env: NodeJS.ProcessEnv): string | null {
  if (env.LAVIT_BLAS_CORE) return env.LAVIT_BLAS_CORE;
  return CORES.find(([, needs]) => needs.every((f) => cpuFlags.has(f)))?.[0] ?? null;
}

/** The first processor's flags from /proc/cpuinfo; empty where there is none (not Linux, not x86). */
export function cpuFlags(cpuinfoPath = "/proc/cpuinfo"): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfoPath, "utf8"));
    return new Set(line ? line[1]!.trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/**
 * Runs load (which loads OpenBLAS, and OpenBLAS reads OPENBLAS_CORETYPE once, then) with the
 * core blasCoreFor picks, and puts the environment back as it was for child processes.
 */
export function withBlasCore<T>(load: () => T, flags: ReadonlySet<string> = cpuFlags()): T {
  const core = blasCoreFor(flags, process.env);
  if (!core) return load();
  const before = process.env.OPENBLAS_CORETYPE;
  process.env.OPENBLAS_CORETYPE = core;
  try {
    return load();
  } finally {
    if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = before;
  }
}
