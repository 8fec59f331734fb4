/**
 * The OpenBLAS core lavit asks for, or null to let OpenBLAS detect the processor's.
 * The kernels decide a run's bits, not only its speed: each core rounds its own way (even
 * SkylakeX and Cooperlake, whose single-precision kernels look alike, sum matrix products in
 * another order), so the shipped models' sha256 hold only on the core OpenBLAS detects.
 * OPENBLAS_CORETYPE is not obeyed, since a machine may set it for other programs: one such
 * machine forced Haswell on an AVX-512 processor. LAVIT_BLAS_CORE names another core.
 */
export function blasCoreFor(env: NodeJS.ProcessEnv): string | null {
  return env.LAVIT_BLAS_CORE || null;
}

/**
 * Runs load (which loads OpenBLAS, and OpenBLAS reads OPENBLAS_CORETYPE once, then) with the
 * core blasCoreFor picks, or with none so OpenBLAS detects it, and puts the environment back
 * as it was for child processes.
 */
export function withBlasCore<T>(load: () => T): T {
  const core = blasCoreFor(process.env);
  const before = process.env.OPENBLAS_CORETYPE;
  if (core) process.env.OPENBLAS_CORETYPE = core;
  else delete process.env.OPENBLAS_CORETYPE;
  try {
    return load();
  } finally {
    if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = before;
  }
}
