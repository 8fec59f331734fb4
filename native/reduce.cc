// Reductions over the innermost axis, softmax, and general transposes.
#include "common.h"
#include "rows.h"
#include "op_codes.h"
#include <algorithm>
#include <cmath>
#include <limits>

namespace lavit {

// reduceInner(op, x, out, outer, inner): out[o] = reduce(x[o*inner : (o+1)*inner]).
// JS transposes the reduced axes innermost first, as tfjs's own cpu kernels do.
static Napi::Value ReduceInner(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(num(info[0]));
  const float* x = f32(info[1]);
  float* out = f32(info[2]);
  const int64_t outer = num(info[3]), inner = num(info[4]);
  Pool::get().parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
      const float* p = x + o * inner;
      float acc;
      switch (op) {
        case RSUM:
        case RMEAN: {
          acc = sum_row8(p, inner);
          // an empty mean is 0 in tfjs (its kernel divides a zero sum by max(size, 1))
          if (op == RMEAN) acc = inner > 0 ? acc / static_cast<float>(inner) : 0.f;
          break;
        }
        case RMAX: {
          acc = max_row(p, inner);
          break;
        }
        case RMIN: {
          acc = inner > 0 ? p[0] : std::numeric_limits<float>::infinity();
          for (int64_t j = 1; j < inner; j++) {
            if (std::isnan(p[j])) { acc = NAN; break; }
            if (p[j] < acc) acc = p[j];
          }
          break;
        }
        case RPROD: {
          acc = 1.f;
          for (int64_t j = 0; j < inner; j++) acc *= p[j];
          break;
        }
        default: acc = 0.f;
      }
      out[o] = acc;
    }
  });
  return info.Env().Undefined();
}

// reduceOuter(op, x, out, outer, inner): out[i] = sum (or mean) of x[0..outer)[i], a column sum
// of x viewed as [outer, inner] without transposing it first. Each column gets exactly
// ReduceInner's arithmetic (eight partial sums over the rows, then the tail), so the result is
// the same as transposing and reducing innermost; the eight partial sums of a block of
// columns are kept side by side so the inner loop runs along a row.
static Napi::Value ReduceOuter(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(num(info[0]));
  const float* x = f32(info[1]);
  float* out = f32(info[2]);
  const int64_t outer = num(info[3]), inner = num(info[4]);
  constexpr int64_t CB = 256;
  Pool::get().parallel_for(inner, std::max<int64_t>(CB, 16384 / std::max<int64_t>(outer, 1)), [&](int64_t c0, int64_t c1) {
    float s[8][CB], tail[CB];
    for (int64_t cb = c0; cb < c1; cb += CB) {
      const int64_t w = std::min<int64_t>(CB, c1 - cb);
      for (int t = 0; t < 8; t++) std::fill(s[t], s[t] + w, 0.f);
      std::fill(tail, tail + w, 0.f);
      int64_t j = 0;
      for (; j + 8 <= outer; j += 8)
        for (int t = 0; t < 8; t++) {
          const float* row = x + (j + t) * inner + cb;
          for (int64_t c = 0; c < w; c++) s[t][c] += row[c];
        }
      for (; j < outer; j++) {
        const float* row = x + j * inner + cb;
        for (int64_t c = 0; c < w; c++) tail[c] += row[c];
      }
      for (int64_t c = 0; c < w; c++) {
        float acc = ((s[0][c] + s[1][c]) + (s[2][c] + s[3][c])) + ((s[4][c] + s[5][c]) + (s[6][c] + s[7][c])) + tail[c];
        if (op == RMEAN) acc = outer > 0 ? acc / static_cast<float>(outer) : 0.f;
        out[cb + c] = acc;
      }
    }
  });
  return info.Env().Undefined();
}

// softmax(x, out, rows, cols) over the last axis, max-subtracted for stability.
static Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int64_t rows = num(info[2]), cols = num(info[3]);
  const bool logSoftmax = info.Length() > 4 && flag(info[4]);
  Pool::get().parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* p = x + r * cols;
      float* q = out + r * cols;
      if (!logSoftmax) {
        softmax_row(p, q, cols);
        continue;
      }
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < cols; j++) m = p[j] > m ? p[j] : m;
      if (m == -std::numeric_limits<float>::infinity()) m = 0.f;  // fully masked row
      float s = 0.f;
      for (int64_t j = 0; j < cols; j++) s += std::exp(p[j] - m);
      const float ls = std::log(s) + m;
      for (int64_t j = 0; j < cols; j++) q[j] = p[j] - ls;
    }
  });
  return info.Env().Undefined();
}

// transpose(x, out, inShape Int32Array, perm Int32Array): out[i] = x[permuted index].
static Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int32_t* inShape = i32(info[2]);
  const int32_t* perm = i32(info[3]);
  const int rank = static_cast<int>(i32len(info[2]));
  const int64_t total = static_cast<int64_t>(f32len(info[1]));
  if (total == 0) return info.Env().Undefined();
  int64_t inStride[16], outShape[16], srcStride[16];
  inStride[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) inStride[d] = inStride[d + 1] * inShape[d + 1];
  for (int d = 0; d < rank; d++) {
    outShape[d] = inShape[perm[d]];
    srcStride[d] = inStride[perm[d]];
  }
  const int64_t inner = outShape[rank - 1];
  const int64_t innerStride = srcStride[rank - 1];
  const int64_t rows = total / inner;
  Pool::get().parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    int64_t idx[16] = {0};
    int64_t rem = r0, off = 0;
    for (int d = rank - 2; d >= 0; d--) {
      idx[d] = rem % outShape[d];
      rem /= outShape[d];
      off += idx[d] * srcStride[d];
    }
    for (int64_t r = r0; r < r1; r++) {
      float* q = out + r * inner;
      const float* p = x + off;
      if (innerStride == 1)
        for (int64_t j = 0; j < inner; j++) q[j] = p[j];
      else
        for (int64_t j = 0; j < inner; j++) q[j] = p[j * innerStride];
      for (int d = rank - 2; d >= 0; d--) {
        idx[d]++;
        off += srcStride[d];
        if (idx[d] < outShape[d]) break;
        off -= idx[d] * srcStride[d];
        idx[d] = 0;
      }
    }
  });
  return info.Env().Undefined();
}

void InitReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduceInner", Napi::Function::New(env, ReduceInner));
  exports.Set("reduceOuter", Napi::Function::New(env, ReduceOuter));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
}

}  // namespace lavit
