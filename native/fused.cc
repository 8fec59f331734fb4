// Fused kernels: several tfjs kernels' worth of work in one pass over memory.
#include "common.h"
#include <cmath>

namespace lavit {

// Runs fn(i) for i in [0, n) on the pool, in chunks big enough to amortise the hand-off.
template <class F>
static void for_each_element(int64_t n, F fn) {
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) fn(i);
  });
}

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
  // The four arrays never overlap; saying so lets the compiler vectorise the loop (lane by
  // lane the same IEEE operations, so the same bits).
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    float* __restrict pp = p;
    const float* __restrict gg = g;
    float* __restrict mm = m;
    float* __restrict vv = v;
    const float scale = gscale, beta1 = b1, beta2 = b2, decay = 1.f - lr * wd, st = step, sb = sbc2, ep = eps;
    for (int64_t i = b; i < e; i++) {
      const float gi = gg[i] * scale;
      const float mi = beta1 * mm[i] + (1.f - beta1) * gi;
      const float vi = beta2 * vv[i] + (1.f - beta2) * gi * gi;
      mm[i] = mi;
      vv[i] = vi;
      pp[i] = pp[i] * decay - st * mi / (std::sqrt(vi) / sb + ep);
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

// rmsNorm(x, w, out, rstd, d, eps): out = x * rstd * w per row of d, rstd = 1/sqrt(mean(x^2)+eps)
// kept for the backward pass. Replaces square, mean, add, rsqrt and two multiplies.
static Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  float* out = f32(info[2]);
  float* rstd = f32(info[3]);
  const int64_t d = static_cast<int64_t>(dbl(info[4]));
  const float eps = static_cast<float>(dbl(info[5]));
  const int64_t rows = static_cast<int64_t>(f32len(info[0])) / d;
  Pool::get().parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * d;
      float ss = 0.f;
      for (int64_t j = 0; j < d; j++) ss += xr[j] * xr[j];
      const float rs = 1.f / std::sqrt(ss / static_cast<float>(d) + eps);
      rstd[r] = rs;
      float* o = out + r * d;
      for (int64_t j = 0; j < d; j++) o[j] = xr[j] * rs * w[j];
    }
  });
  return info.Env().Undefined();
}

// rmsNormGrad(dy, x, w, rstd, dx, dw, d): dx = rs*w*dy - x*rs^3*mean(w*dy*x); dw = sum_rows dy*x*rs.
static Napi::Value RmsNormGrad(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  const float* w = f32(info[2]);
  const float* rstd = f32(info[3]);
  float* dx = f32(info[4]);
  float* dw = f32(info[5]);
  const int64_t d = static_cast<int64_t>(dbl(info[6]));
  const int64_t rows = static_cast<int64_t>(f32len(info[0])) / d;
  Pool::get().parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * d;
      const float* g = dy + r * d;
      const float rs = rstd[r];
      float dot = 0.f;
      for (int64_t j = 0; j < d; j++) dot += w[j] * g[j] * xr[j];
      const float c = rs * rs * rs * dot / static_cast<float>(d);
      float* o = dx + r * d;
      for (int64_t j = 0; j < d; j++) o[j] = rs * w[j] * g[j] - xr[j] * c;
    }
  });
  // dw: a column sum, serial in row order so the result does not depend on the thread count.
  for (int64_t j = 0; j < d; j++) dw[j] = 0.f;
  for (int64_t r = 0; r < rows; r++) {
    const float rs = rstd[r];
    const float* xr = x + r * d;
    const float* g = dy + r * d;
    for (int64_t j = 0; j < d; j++) dw[j] += g[j] * xr[j] * rs;
  }
  return info.Env().Undefined();
}

// gelu(x, out, tanh?) and geluGrad(dy, x, dx, tanh?): the tanh approximation, as nn.gelu. Given
// a tanh array, gelu keeps each element's tanh there and geluGrad reads it back instead of
// calling tanh again (the same value, so the same bits; tanh is most of either pass's time).
static const float kGeluC = 0.7978845608028654f;

static inline float gelu_tanh(float x) { return std::tanh(kGeluC * (x + 0.044715f * x * x * x)); }

static inline float gelu_deriv(float x, float t) {
  return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kGeluC * (1.f + 3.f * 0.044715f * x * x);
}

static Napi::Value Gelu(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  float* keep = info.Length() > 2 && info[2].IsTypedArray() ? f32(info[2]) : nullptr;
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  for_each_element(n, [&](int64_t i) {
    const float t = gelu_tanh(x[i]);
    if (keep) keep[i] = t;
    out[i] = 0.5f * x[i] * (1.f + t);
  });
  return info.Env().Undefined();
}

static Napi::Value GeluGrad(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  float* dx = f32(info[2]);
  const float* kept = info.Length() > 3 && info[3].IsTypedArray() ? f32(info[3]) : nullptr;
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  for_each_element(n, [&](int64_t i) { dx[i] = dy[i] * gelu_deriv(x[i], kept ? kept[i] : gelu_tanh(x[i])); });
  return info.Env().Undefined();
}

// swiglu(g, u, out, sig): silu(g) * u, and sigmoid(g) into sig for the backward pass, so that
// swigluGrad(dy, g, u, sig, dg, du) needs no second exp (the same exp, so the same bits).
static Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  const float* g = f32(info[0]);
  const float* u = f32(info[1]);
  float* out = f32(info[2]);
  float* sig = f32(info[3]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  // exp first (a library call per element), then the divisions in a loop the compiler vectorises.
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    const float* __restrict gg = g;
    const float* __restrict uu = u;
    float* __restrict o = out;
    float* __restrict sg = sig;
    for (int64_t i = b; i < e; i++) sg[i] = std::exp(-gg[i]);
    for (int64_t i = b; i < e; i++) {
      const float d = 1.f + sg[i];
      o[i] = gg[i] / d * uu[i];
      sg[i] = 1.f / d;
    }
  });
  return info.Env().Undefined();
}

static Napi::Value SwigluGrad(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0]);
  const float* g = f32(info[1]);
  const float* u = f32(info[2]);
  const float* sig = f32(info[3]);
  float* dg = f32(info[4]);
  float* du = f32(info[5]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  Pool::get().parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    const float* __restrict y = dy;
    float* __restrict gout = dg;
    float* __restrict uout = du;
    for (int64_t i = b; i < e; i++) {
      const float s = sig[i];
      const float silu = g[i] * s;
      uout[i] = y[i] * silu;
      gout[i] = y[i] * u[i] * (s + silu * (1.f - s));
    }
  });
  return info.Env().Undefined();
}

// rotary(x, cos, sin, out, T, hd, backward, group): rotate-half rotary positions on rows of hd
// (row r is position (r / group) % T: group 1 for [B, H, T, hd], H for token-major [B, T, H, hd]). Forward: out = x*cos + rot(x)*sin with rot(x) = cat(-x2, x1).
// Backward (the transpose): out = x*cos + cat(x2*sin2, -x1*sin1).
static Napi::Value Rotary(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* cs = f32(info[1]);
  const float* sn = f32(info[2]);
  float* out = f32(info[3]);
  const int64_t T = static_cast<int64_t>(dbl(info[4]));
  const int64_t hd = static_cast<int64_t>(dbl(info[5]));
  const bool backward = info[6].As<Napi::Boolean>().Value();
  const int64_t group = info.Length() > 7 ? static_cast<int64_t>(dbl(info[7])) : 1;
  const int64_t h = hd / 2;
  const int64_t rows = static_cast<int64_t>(f32len(info[0])) / hd;
  Pool::get().parallel_for(rows, 256, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xr = x + r * hd;
      const int64_t pos = (r / group) % T;
      const float* c = cs + pos * hd;
      const float* s = sn + pos * hd;
      float* o = out + r * hd;
      if (!backward) {
        for (int64_t j = 0; j < h; j++) o[j] = xr[j] * c[j] - xr[j + h] * s[j];
        for (int64_t j = h; j < hd; j++) o[j] = xr[j] * c[j] + xr[j - h] * s[j];
      } else {
        for (int64_t j = 0; j < h; j++) o[j] = xr[j] * c[j] + xr[j + h] * s[j + h];
        for (int64_t j = h; j < hd; j++) o[j] = xr[j] * c[j] - xr[j - h] * s[j - h];
      }
    }
  });
  return info.Env().Undefined();
}

void InitFused(Napi::Env env, Napi::Object exports) {
  exports.Set("rotary", Napi::Function::New(env, Rotary));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  exports.Set("rmsNormGrad", Napi::Function::New(env, RmsNormGrad));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("swiglu", Napi::Function::New(env, Swiglu));
  exports.Set("swigluGrad", Napi::Function::New(env, SwigluGrad));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
}

}  // namespace lavit
