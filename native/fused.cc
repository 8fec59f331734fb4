// Fused kernels: several tfjs kernels' worth of work in one pass over memory.
#include "common.h"
#include <cmath>

namespace lavit {

// adamw(param, grad, m, v, lr, beta1, beta2, eps, wd, bc1, bc2): torch.optim.AdamW's update
// in place, one pass instead of ~12 tfjs kernels per parameter.
static Napi::Value AdamW(const Napi::CallbackInfo& info) {
  float* p = f32(info[0]);
  const float* g = f32(info[1]);
  float* m = f32(info[2]);
  float* v = f32(info[3]);
  const float lr = static_cast<float>(dbl(info[4])), b1 = static_cast<float>(dbl(info[5])), b2 = static_cast<float>(dbl(info[6]));
  const float eps = static_cast<float>(dbl(info[7])), wd = static_cast<float>(dbl(info[8]));
  const float bc1 = static_cast<float>(dbl(info[9])), bc2 = static_cast<float>(dbl(info[10]));
  const float gscale = info.Length() > 11 ? static_cast<float>(dbl(info[11])) : 1.f;
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const float step = lr / bc1, sbc2 = std::sqrt(bc2);
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      const float gi = g[i] * gscale;
      float pi = p[i] * (1.f - lr * wd);
      const float mi = b1 * m[i] + (1.f - b1) * gi;
      const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      pi -= step * mi / (std::sqrt(vi) / sbc2 + eps);
      p[i] = pi;
    }
  });
  return info.Env().Undefined();
}

// sumSquares(x) -> double: for clip-by-global-norm without a tensor per parameter.
static Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  return Napi::Number::New(info.Env(), s);
}

void InitFused(Napi::Env env, Napi::Object exports) {
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
}

}  // namespace lavit
