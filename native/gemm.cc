// Batched single-precision matrix products for BatchMatMul / _FusedMatMul.
#include "common.h"
#include <algorithm>
#include <cstring>
#ifdef LAVIT_OPENBLAS
#include <cblas.h>
#endif

namespace lavit {

#ifndef LAVIT_OPENBLAS
// Built-in fallback when OpenBLAS is absent at build time: operands are packed into
// row-major, non-transposed panels so the inner loop is a unit-stride axpy the compiler
// vectorises. Far from OpenBLAS, but an order of magnitude above the JS kernel.
static void gemm_builtin(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  std::vector<float> Ap, Bp;
  const float* a = A;
  const float* b = B;
  if (ta) {
    Ap.resize(M * K);
    for (int64_t k = 0; k < K; k++)
      for (int64_t i = 0; i < M; i++) Ap[i * K + k] = A[k * M + i];
    a = Ap.data();
  }
  if (tb) {
    Bp.resize(K * N);
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < K; k++) Bp[k * N + n] = B[n * K + k];
    b = Bp.data();
  }
  std::fill(C, C + M * N, 0.f);
  const int64_t KB = 128, NB = 512;
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    const int64_t k1 = std::min(K, k0 + KB);
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
      const int64_t n1 = std::min(N, n0 + NB);
      for (int64_t i = 0; i < M; i++) {
        float* c = C + i * N;
        for (int64_t k = k0; k < k1; k++) {
          const float av = a[i * K + k];
          const float* brow = b + k * N;
          for (int64_t n = n0; n < n1; n++) c[n] += av * brow[n];
        }
      }
    }
  }
}
#endif

static void gemm_one(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(C, C + M * N, 0.f);
    return;
  }
#ifdef LAVIT_OPENBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.f, A,
              ta ? (int)M : (int)K, B, tb ? (int)K : (int)N, 0.f, C, (int)N);
#else
  gemm_builtin(ta, tb, M, N, K, A, B, C);
#endif
}

// matmul(a, b, out, batch, batchA, batchB, M, N, K, transA, transB)
// Batch index bi reads a[bi % batchA] and b[bi % batchB], exactly as tfjs's cpu kernel does,
// which is how broadcast batch dimensions arrive after tfjs flattens them.
static Napi::Value MatMul(const Napi::CallbackInfo& info) {
  const float* A = f32(info[0]);
  const float* B = f32(info[1]);
  float* C = f32(info[2]);
  const int64_t batch = num(info[3]), batchA = num(info[4]), batchB = num(info[5]);
  const int64_t M = num(info[6]), N = num(info[7]), K = num(info[8]);
  const bool ta = flag(info[9]), tb = flag(info[10]);
  const int64_t sa = M * K, sb = K * N, sc = M * N;
  const double flops = 2.0 * M * N * K;
  Pool& pool = Pool::get();
  if (batch > 1 && flops < 4.0e6 && pool.threads() > 1) {
    // Many small products (attention heads): one BLAS thread per product, products spread
    // over our pool, beats letting BLAS split each tiny product.
#ifdef LAVIT_OPENBLAS
    openblas_set_num_threads(1);
#endif
    pool.parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; bi++) gemm_one(ta, tb, M, N, K, A + (bi % batchA) * sa, B + (bi % batchB) * sb, C + bi * sc);
    });
#ifdef LAVIT_OPENBLAS
    openblas_set_num_threads(pool.threads());
#endif
  } else {
    for (int64_t bi = 0; bi < batch; bi++) gemm_one(ta, tb, M, N, K, A + (bi % batchA) * sa, B + (bi % batchB) * sb, C + bi * sc);
  }
  return info.Env().Undefined();
}

void InitGemm(Napi::Env env, Napi::Object exports) { exports.Set("matmul", Napi::Function::New(env, MatMul)); }

}  // namespace lavit
