// Fused scaled-dot-product attention, forward and backward, one head at a time.
//
// q [B, T, H, hd], k and v [B, Tk, Hkv, hd] are read in the layout the projections write
// (token-major), and the output is written as [B, T, H*hd], so no head split or merge is
// ever copied. Each head runs the same products, with the same flags, as the tfjs
// formulation (engine/ops.ts attentionOps) runs on the pack's BatchMatMul, and the softmax
// and its gradient repeat the pack's Softmax, Mul, Sum and Sub in the same order: with
// plain heads (Hkv == H) the results are the formulation's bit for bit.
#include "common.h"
#include "rows.h"
#include <cmath>
#include <limits>
#include <vector>

namespace lavit {

namespace {

struct Dims {
  int64_t B, T, Tk, H, Hkv, hd;
  int64_t groups() const { return H / Hkv; }
  // Element offset of (b, t, head, 0) in a token-major [B, T', heads, hd] tensor.
  int64_t at(int64_t b, int64_t t, int64_t len, int64_t heads, int64_t head) const { return ((b * len + t) * heads + head) * hd; }
};

Dims dims_of(const Napi::Value& v) {
  const int32_t* d = i32(v);
  return {d[0], d[1], d[2], d[3], d[4], d[5]};
}

// q of one head, scaled, into a dense [T, hd] block (the formulation scales q, not the scores).
void scaled_q(const float* q, const Dims& d, int64_t b, int64_t h, float scale, float* qs) {
  for (int64_t i = 0; i < d.T; i++) {
    const float* row = q + d.at(b, i, d.T, d.H, h);
    for (int64_t j = 0; j < d.hd; j++) qs[i * d.hd + j] = row[j] * scale;
  }
}

// mean[b, i, j] = sum over heads of probs[b, h, i, j], divided by H: the pack's Mean over axis
// 1 (its transpose puts the heads innermost, then ReduceInner sums each row with sum_row8).
void head_mean(const float* probs, float* mean, const Dims& d) {
  const float heads = static_cast<float>(d.H);
  Pool::get().parallel_for(d.B * d.T, 8, [&](int64_t r0, int64_t r1) {
    std::vector<float> col(d.H);
    for (int64_t r = r0; r < r1; r++) {
      const int64_t b = r / d.T, i = r % d.T;
      const float* p = probs + (b * d.H * d.T + i) * d.Tk;
      float* m = mean + r * d.Tk;
      for (int64_t j = 0; j < d.Tk; j++) {
        for (int64_t h = 0; h < d.H; h++) col[h] = p[h * d.T * d.Tk + j];
        m[j] = sum_row8(col.data(), d.H) / heads;
      }
    }
  });
}

}  // namespace

// attention(q, k, v, bias | null, biasStrides Int32Array[4], out, probs, dims Int32Array[6], scale, meanProbs?)
// bias is read at b*s0 + h*s1 + i*s2 + j*s3 (0 on broadcast axes); probs [B, H, T, Tk] is
// written for the backward pass. meanProbs [B, T, Tk], when given, receives the probabilities
// averaged over heads, as the pack's Mean over the head axis makes them (the heads' values
// summed by sum_row8, then divided by H): what the grounding term and extraction read.
static Napi::Value Attention(const Napi::CallbackInfo& info) {
  const float* q = f32(info[0]);
  const float* k = f32(info[1]);
  const float* v = f32(info[2]);
  const bool hasBias = !info[3].IsNull() && !info[3].IsUndefined();
  const float* bias = hasBias ? f32(info[3]) : nullptr;
  const int32_t* bs = i32(info[4]);
  float* out = f32(info[5]);
  float* probs = f32(info[6]);
  const Dims d = dims_of(info[7]);
  const float scale = static_cast<float>(dbl(info[8]));
  const int64_t ldq = d.H * d.hd, ldk = d.Hkv * d.hd;
  Pool::get().parallel_for(d.B * d.H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> qs(d.T * d.hd);
    for (int64_t task = t0; task < t1; task++) {
      const int64_t b = task / d.H, h = task % d.H, kh = h / d.groups();
      float* p = probs + task * d.T * d.Tk;
      const float* kb = k + d.at(b, 0, d.Tk, d.Hkv, kh);
      const float* vb = v + d.at(b, 0, d.Tk, d.Hkv, kh);
      scaled_q(q, d, b, h, scale, qs.data());
      gemm_block(false, true, d.T, d.Tk, d.hd, qs.data(), d.hd, kb, ldk, p, d.Tk);
      for (int64_t i = 0; i < d.T; i++) {
        float* row = p + i * d.Tk;
        if (bias) {
          const float* br = bias + b * bs[0] + h * bs[1] + i * bs[2];
          for (int64_t j = 0; j < d.Tk; j++) row[j] = row[j] + br[j * bs[3]];
        }
        softmax_row(row, row, d.Tk);
      }
      gemm_block(false, false, d.T, d.hd, d.Tk, p, d.Tk, vb, ldk, out + d.at(b, 0, d.T, d.H, h), ldq);
    }
  });
  // true says the means were written (an older build ignores the argument and returns nothing).
  if (info.Length() > 9 && info[9].IsTypedArray()) {
    head_mean(probs, f32(info[9]), d);
    return Napi::Boolean::New(info.Env(), true);
  }
  return info.Env().Undefined();
}

// attentionGrad(dout, q, k, v, probs, dq, dk, dv, dims, scale, dMean?): the gradients of
// attention() for the cotangent dout [B, T, H*hd], and dMean [B, T, Tk] of meanProbs when given.
// Tasks are (batch, kv head) pairs, so the query heads that share a kv head add into its dk and
// dv in one thread, in head order.
static Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  const float* dout = f32(info[0]);
  const float* q = f32(info[1]);
  const float* k = f32(info[2]);
  const float* v = f32(info[3]);
  const float* probs = f32(info[4]);
  float* dq = f32(info[5]);
  float* dk = f32(info[6]);
  float* dv = f32(info[7]);
  const Dims d = dims_of(info[8]);
  const float scale = static_cast<float>(dbl(info[9]));
  const float* dmean = info.Length() > 10 && info[10].IsTypedArray() ? f32(info[10]) : nullptr;
  const float heads = static_cast<float>(d.H);
  const int64_t ldq = d.H * d.hd, ldk = d.Hkv * d.hd, G = d.groups();
  Pool::get().parallel_for(d.B * d.Hkv, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> qs(d.T * d.hd), ds(d.T * d.Tk), acc(G > 1 ? 2 * d.Tk * d.hd : 0);
    for (int64_t task = t0; task < t1; task++) {
      const int64_t b = task / d.Hkv, kh = task % d.Hkv;
      const float* kb = k + d.at(b, 0, d.Tk, d.Hkv, kh);
      const float* vb = v + d.at(b, 0, d.Tk, d.Hkv, kh);
      float* dkb = dk + d.at(b, 0, d.Tk, d.Hkv, kh);
      float* dvb = dv + d.at(b, 0, d.Tk, d.Hkv, kh);
      for (int64_t g = 0; g < G; g++) {
        const int64_t h = kh * G + g;
        const float* p = probs + (b * d.H + h) * d.T * d.Tk;
        const float* dob = dout + d.at(b, 0, d.T, d.H, h);
        // With shared kv heads, the second and later heads' dk and dv go to scratch first and
        // are added in after.
        float* dkh = g == 0 ? dkb : acc.data();
        float* dvh = g == 0 ? dvb : acc.data() + d.Tk * d.hd;
        const int64_t ldkh = g == 0 ? ldk : d.hd;
        // ctx = P v: dP = dctx v^T, dv = P^T dctx.
        gemm_block(false, true, d.T, d.Tk, d.hd, dob, ldq, vb, ldk, ds.data(), d.Tk);
        gemm_block(true, false, d.Tk, d.hd, d.T, p, d.Tk, dob, ldq, dvh, ldkh);
        // The head mean's share of dP, as the pack computes Mean's gradient (dMean * 1 / H)
        // and adds it to the context's.
        if (dmean) {
          const float* dm = dmean + b * d.T * d.Tk;
          for (int64_t i = 0; i < d.T * d.Tk; i++) ds[i] = ds[i] + dm[i] / heads;
        }
        // softmax: dS = dP*P - sum(dP*P) * P, as Mul, Sum, Mul, Sub.
        for (int64_t i = 0; i < d.T; i++) {
          float* r = ds.data() + i * d.Tk;
          const float* pr = p + i * d.Tk;
          for (int64_t j = 0; j < d.Tk; j++) r[j] = r[j] * pr[j];
          const float s = sum_row8(r, d.Tk);
          for (int64_t j = 0; j < d.Tk; j++) {
            const float sp = s * pr[j];
            r[j] = r[j] - sp;
          }
        }
        // scores = qs k^T: dqs = dS k (then times the scale, as q's Mul), dk = dS^T qs.
        float* dqh = dq + d.at(b, 0, d.T, d.H, h);
        gemm_block(false, false, d.T, d.hd, d.Tk, ds.data(), d.Tk, kb, ldk, dqh, ldq);
        for (int64_t i = 0; i < d.T; i++)
          for (int64_t j = 0; j < d.hd; j++) dqh[i * ldq + j] = dqh[i * ldq + j] * scale;
        scaled_q(q, d, b, h, scale, qs.data());
        gemm_block(true, false, d.Tk, d.hd, d.T, ds.data(), d.Tk, qs.data(), d.hd, dkh, ldkh);
        if (g > 0) {
          for (int64_t i = 0; i < d.Tk; i++)
            for (int64_t j = 0; j < d.hd; j++) {
              dkb[i * ldk + j] += dkh[i * d.hd + j];
              dvb[i * ldk + j] += dvh[i * d.hd + j];
            }
        }
      }
    }
  });
  return info.Env().Undefined();
}

void InitAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
}

}  // namespace lavit
