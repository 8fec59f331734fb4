// Row kernels that several ops share, one definition each so every op that reduces or
// normalises a row gives the same bits as the pack's Sum, Max and Softmax.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace lavit {

// Sum of a row: eight partial sums (close to tfjs's float error, and they vectorise), then the tail.
inline float sum_row8(const float* p, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) s[t] += p[j + t];
  float tail = 0;
  for (; j < n; j++) tail += p[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

// Max of a row; NaN if any entry is NaN, -inf for an empty row (as tfjs).
inline float max_row(const float* p, int64_t n) {
  float acc = n > 0 ? p[0] : -std::numeric_limits<float>::infinity();
  for (int64_t j = 1; j < n; j++) {
    if (std::isnan(p[j])) return NAN;
    if (p[j] > acc) acc = p[j];
  }
  return acc;
}

// Softmax of row p into q (q may be p).
inline void softmax_row(const float* p, float* q, int64_t cols) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < cols; j++) m = p[j] > m ? p[j] : m;
  if (m == -std::numeric_limits<float>::infinity()) m = 0.f;  // fully masked row
  float s = 0.f;
  for (int64_t j = 0; j < cols; j++) {
    // Masked entries (bias -1e9: half of every causal row) would cost an exp to give an
    // exact 0; expf is 0 for anything below about -104, so skipping them changes no bit.
    const float z = p[j] - m;
    q[j] = z < -110.f ? 0.f : std::exp(z);
    s += q[j];
  }
  const float inv = 1.f / s;
  for (int64_t j = 0; j < cols; j++) q[j] *= inv;
}

}  // namespace lavit
