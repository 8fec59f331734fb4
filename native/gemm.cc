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

// One product C[M,N] = op(A) op(B), with explicit leading dimensions so a caller can hand it
// a row or column block of a larger product (or one head of a token-major tensor).
void gemm_block(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                       int64_t ldb, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; i++) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    return;
  }
#ifdef LAVIT_OPENBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.f, A,
              (int)lda, B, (int)ldb, 0.f, C, (int)ldc);
#else
  if (ldc == N && lda == (ta ? M : K) && ldb == (tb ? K : N)) {
    gemm_builtin(ta, tb, M, N, K, A, B, C);
    return;
  }
  // A block of a larger product: gather it into dense operands first.
  std::vector<float> a(M * K), b(K * N), c(M * N);
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) a[i * K + k] = ta ? A[k * lda + i] : A[i * lda + k];
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) b[k * N + n] = tb ? B[n * ldb + k] : B[k * ldb + n];
  gemm_builtin(false, false, M, N, K, a.data(), b.data(), c.data());
  for (int64_t i = 0; i < M; i++) std::copy(c.begin() + i * N, c.begin() + (i + 1) * N, C + i * ldc);
#endif
}

// One dense product, split over our pool by rows of C (or by columns when C is short and
// wide). OpenBLAS always runs single-threaded inside our threads: its own worker threads
// spin-wait (sched_yield) between calls and, next to our pool on 2 cores, they cost more
// system time than they save (measured with vmstat: 35-50% sys with them, about 10% without).
static void gemm_one(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  Pool& pool = Pool::get();
  const double flops = 2.0 * M * N * K;
  if (pool.threads() == 1 || flops < 2.0e6) {
    gemm_block(ta, tb, M, N, K, A, lda, B, ldb, C, N);
    return;
  }
  if (M >= N || M >= 64) {
    pool.parallel_for(M, 16, [&](int64_t i0, int64_t i1) {
      gemm_block(ta, tb, i1 - i0, N, K, ta ? A + i0 : A + i0 * lda, lda, B, ldb, C + i0 * N, N);
    });
  } else {
    pool.parallel_for(N, 16, [&](int64_t j0, int64_t j1) {
      gemm_block(ta, tb, M, j1 - j0, K, A, lda, tb ? B + j0 * ldb : B + j0, ldb, C + j0, N);
    });
  }
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
    // Many small products (attention heads): whole products spread over the pool.
    pool.parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; bi++)
        gemm_block(ta, tb, M, N, K, A + (bi % batchA) * sa, ta ? M : K, B + (bi % batchB) * sb, tb ? K : N, C + bi * sc, N);
    });
  } else {
    for (int64_t bi = 0; bi < batch; bi++) gemm_one(ta, tb, M, N, K, A + (bi % batchA) * sa, B + (bi % batchB) * sb, C + bi * sc);
  }
  return info.Env().Undefined();
}

void InitGemm(Napi::Env env, Napi::Object exports) { exports.Set("matmul", Napi::Function::New(env, MatMul)); }

}  // namespace lavit
