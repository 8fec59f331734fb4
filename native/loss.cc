// Token cross-entropy: log-softmax and the negative log-likelihood of the targets, forward and
// backward, in one pass per row instead of a dozen kernels over [N, V].
//
// Every step repeats the tfjs formulation (engine/ops.ts nllOps: tf.logSoftmax, a float one-hot
// of the targets, Mul, Sum, Neg) as the pack's kernels compute it, operation for operation,
// so the values, and the gradient down to the sign of its zeros, are the same bits.
#include "common.h"
#include "rows.h"
#include <cmath>
#include <limits>
#include <vector>

namespace lavit {

namespace {

inline float one_hot(int64_t j, int32_t target) { return j == target ? 1.f : 0.f; }

}  // namespace

// nll(logits, targets Int32Array, logp, out, N, V): logp = log-softmax of each row (kept for the
// backward pass), out[i] = -logp[i, targets[i]] (0 for a target outside [0, V), as a one-hot
// row of zeros gives).
static Napi::Value Nll(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  float* logp = f32(info[2]);
  float* out = f32(info[3]);
  const int64_t N = num(info[4]), V = num(info[5]);
  Pool::get().parallel_for(N, std::max<int64_t>(1, 8192 / std::max<int64_t>(V, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<float> tmp(V);
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * V;
      float* lr = logp + r * V;
      const float m = max_row(xr, V);
      for (int64_t j = 0; j < V; j++) lr[j] = xr[j] - m;                  // shifted
      for (int64_t j = 0; j < V; j++) tmp[j] = std::exp(lr[j]);          // exp(shifted)
      const float ls = std::log(sum_row8(tmp.data(), V));                // log(sum(...))
      for (int64_t j = 0; j < V; j++) lr[j] = lr[j] - ls;                // logp
      for (int64_t j = 0; j < V; j++) tmp[j] = lr[j] * one_hot(j, targets[r]);
      out[r] = -sum_row8(tmp.data(), V);
    }
  });
  return info.Env().Undefined();
}

// nllGrad(dy [N], targets, logp, dx, N, V): the gradient for the logits.
static Napi::Value NllGrad(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  const float* logp = f32(info[2]);
  float* dx = f32(info[3]);
  const int64_t N = num(info[4]), V = num(info[5]);
  Pool::get().parallel_for(N, std::max<int64_t>(1, 8192 / std::max<int64_t>(V, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<float> g(V);
    for (int64_t r = r0; r < r1; r++) {
      // Neg's gradient, then Sum's (times ones), then Mul's (times the one-hot row).
      const float d = -dy[r] * 1.f;
      for (int64_t j = 0; j < V; j++) g[j] = d * one_hot(j, targets[r]);
      // log-softmax's: g - sum(g) * exp(logp).
      const float s = sum_row8(g.data(), V);
      const float* lr = logp + r * V;
      float* o = dx + r * V;
      for (int64_t j = 0; j < V; j++) {
        const float sm = std::exp(lr[j]);
        const float t = s * sm;
        o[j] = g[j] - t;
      }
    }
  });
  return info.Env().Undefined();
}

void InitLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("nll", Napi::Function::New(env, Nll));
  exports.Set("nllGrad", Napi::Function::New(env, NllGrad));
}

}  // namespace lavit
