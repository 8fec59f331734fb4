// Element-wise kernels: binary ops with numpy/tfjs broadcasting, and unary ops.
#include "common.h"
#include "op_codes.h"
#include <cmath>

namespace lavit {

template <int OP>
static inline float apply(float a, float b) {
  if constexpr (OP == ADD) return a + b;
  if constexpr (OP == SUB) return a - b;
  if constexpr (OP == MUL) return a * b;
  if constexpr (OP == DIV) return a / b;
  if constexpr (OP == MAXIMUM) return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
  if constexpr (OP == MINIMUM) return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
  if constexpr (OP == SQDIFF) return (a - b) * (a - b);
  if constexpr (OP == POW) return std::pow(a, b);
  return 0.f;
}

// The broadcast geometry arrives pre-collapsed from JS: `shape` is the output shape and
// `sa`/`sb` the element strides of each input in that index space (0 on broadcast axes).
// The innermost axis is the loop the compiler vectorises; the fast paths cover the layouts
// a transformer produces (same shape, scalar, row-vector bias).
template <int OP>
static void binary_strided(const float* a, const float* b, float* out, const int32_t* shape, const int32_t* sa, const int32_t* sb,
                           int rank, int64_t total) {
  if (total == 0) return;
  if (rank == 0) {
    out[0] = apply<OP>(a[0], b[0]);
    return;
  }
  const int64_t inner = shape[rank - 1];
  const int64_t ia = sa[rank - 1], ib = sb[rank - 1];
  const int64_t rows = total / inner;
  auto run_rows = [&](int64_t r0, int64_t r1) {
    int64_t idx[16] = {0};
    // decompose r0 into the outer multi-index
    int64_t rem = r0, offA = 0, offB = 0;
    for (int d = rank - 2; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      offA += idx[d] * sa[d];
      offB += idx[d] * sb[d];
    }
    for (int64_t r = r0; r < r1; r++) {
      const float* pa = a + offA;
      const float* pb = b + offB;
      float* po = out + r * inner;
      if (ia == 1 && ib == 1) {
        for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j], pb[j]);
      } else if (ia == 1 && ib == 0) {
        const float bv = pb[0];
        for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j], bv);
      } else if (ia == 0 && ib == 1) {
        const float av = pa[0];
        for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(av, pb[j]);
      } else {
        for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j * ia], pb[j * ib]);
      }
      // advance the outer multi-index
      for (int d = rank - 2; d >= 0; d--) {
        idx[d]++;
        offA += sa[d];
        offB += sb[d];
        if (idx[d] < shape[d]) break;
        offA -= idx[d] * sa[d];
        offB -= idx[d] * sb[d];
        idx[d] = 0;
      }
    }
  };
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(inner, 1));
  Pool::get().parallel_for(rows, grain, run_rows);
}

// binary(op, a, b, out, shape Int32Array, stridesA Int32Array, stridesB Int32Array)
static Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(num(info[0]));
  const float* a = f32(info[1]);
  const float* b = f32(info[2]);
  float* out = f32(info[3]);
  const int32_t* shape = i32(info[4]);
  const int rank = static_cast<int>(i32len(info[4]));
  const int32_t* sa = i32(info[5]);
  const int32_t* sb = i32(info[6]);
  const int64_t total = static_cast<int64_t>(f32len(info[3]));
  if (rank > 16) {
    Napi::Error::New(info.Env(), "lavit native: rank > 16").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  switch (op) {
#define CASE(O) \
  case O: binary_strided<O>(a, b, out, shape, sa, sb, rank, total); break;
    LAVIT_BINARY_OPS(CASE)
#undef CASE
    default: Napi::Error::New(info.Env(), "lavit native: unknown binary op").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

template <int OP>
static inline float uapply(float x, float alpha) {
  if constexpr (OP == EXP) return std::exp(x);
  if constexpr (OP == LOG) return std::log(x);
  if constexpr (OP == SQRT) return std::sqrt(x);
  if constexpr (OP == RSQRT) return 1.f / std::sqrt(x);
  if constexpr (OP == NEG) return -x;
  if constexpr (OP == SIGMOID) return 1.f / (1.f + std::exp(-x));
  if constexpr (OP == TANH) return std::tanh(x);
  if constexpr (OP == SQUARE) return x * x;
  if constexpr (OP == ABS) return std::fabs(x);
  if constexpr (OP == RELU) return std::isnan(x) ? x : (x > 0.f ? x : 0.f);
  if constexpr (OP == RECIPROCAL) return 1.f / x;
  if constexpr (OP == SOFTPLUS) return x > 15.f ? x : std::log1p(std::exp(x));
  if constexpr (OP == LOG1P) return std::log1p(x);
  if constexpr (OP == EXPM1) return std::expm1(x);
  if constexpr (OP == SIGN) return std::isnan(x) ? 0.f : (x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f));
  if constexpr (OP == STEP) return std::isnan(x) ? NAN : (x > 0.f ? 1.f : alpha);
  if constexpr (OP == RELU6) return std::isnan(x) ? x : std::min(6.f, std::max(0.f, x));
  if constexpr (OP == ELU) return x >= 0.f ? x : std::expm1(x);
  if constexpr (OP == LEAKY) return x < 0.f ? alpha * x : x;
  return 0.f;
}

template <int OP>
static void unary_run(const float* x, float* out, int64_t n, float alpha) {
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] = uapply<OP>(x[i], alpha);
  });
}

// unary(op, x, out, alpha)
static Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(num(info[0]));
  const float* x = f32(info[1]);
  float* out = f32(info[2]);
  const float alpha = info.Length() > 3 ? static_cast<float>(dbl(info[3])) : 0.f;
  const int64_t n = static_cast<int64_t>(f32len(info[2]));
  switch (op) {
#define CASE(O) \
  case O: unary_run<O>(x, out, n, alpha); break;
    LAVIT_UNARY_OPS(CASE)
#undef CASE
    default: Napi::Error::New(info.Env(), "lavit native: unknown unary op").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

void InitElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
}

}  // namespace lavit
