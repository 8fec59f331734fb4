// Shared helpers for the lavit native kernel pack.
#pragma once
#include <napi.h>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lavit {

// Borrowed view of a JS Float32Array. The JS side owns all memory: kernels write into
// outputs allocated by the caller, so nothing here needs freeing.
inline float* f32(const Napi::Value& v) {
  auto arr = v.As<Napi::Float32Array>();
  return arr.Data();
}
inline size_t f32len(const Napi::Value& v) { return v.As<Napi::Float32Array>().ElementLength(); }
inline int32_t* i32(const Napi::Value& v) { return v.As<Napi::Int32Array>().Data(); }
inline size_t i32len(const Napi::Value& v) { return v.As<Napi::Int32Array>().ElementLength(); }
inline int64_t num(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline double dbl(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
inline bool flag(const Napi::Value& v) { return v.As<Napi::Boolean>().Value(); }

// A small persistent pool: spawning threads per kernel call costs more than most of our
// element-wise kernels take, so the workers live for the life of the process.
class Pool {
 public:
  static Pool& get();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  void set_threads(int n);
  // Runs fn(begin, end) over [0, n) split into contiguous chunks, one per thread; the
  // caller's thread takes a share. Work below `grain` items runs inline.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
  ~Pool();

 private:
  Pool() = default;
  void stop_all();
  void worker_loop(int index);
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

// C[M,N] = op(A) op(B) on the calling thread, with leading dimensions (gemm.cc).
void gemm_block(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc);

void InitGemm(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitReduce(Napi::Env env, Napi::Object exports);
void InitFused(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);
void InitLoss(Napi::Env env, Napi::Object exports);

}  // namespace lavit
