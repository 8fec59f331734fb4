#include "common.h"
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#ifdef LAVIT_OPENBLAS
#include <cblas.h>
#endif

namespace lavit {

Pool& Pool::get() {
  static Pool pool;
  return pool;
}

void Pool::stop_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_start_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  stopping_ = false;
}

Pool::~Pool() { stop_all(); }

void Pool::set_threads(int n) {
  if (n < 1) n = 1;
  stop_all();
  for (int i = 0; i < n - 1; i++) workers_.emplace_back([this, i] { worker_loop(i + 1); });
}

void Pool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)>* job;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
    }
    const int t = threads();
    const int64_t chunk = (n + t - 1) / t;
    const int64_t b = std::min<int64_t>(n, chunk * index), e = std::min<int64_t>(n, b + chunk);
    if (b < e) (*job)(b, e);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }
}

void Pool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int t = threads();
  if (t == 1 || n < grain * 2) {
    if (n > 0) fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    pending_ = t - 1;
    generation_++;
  }
  cv_start_.notify_all();
  const int64_t chunk = (n + t - 1) / t;
  fn(0, std::min<int64_t>(n, chunk));
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [&] { return pending_ == 0; });
}

static int default_threads() {
  if (const char* env = std::getenv("LAVIT_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 8u));
}

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef LAVIT_OPENBLAS
  o.Set("tier", "native-openblas");
  o.Set("blas", std::string(openblas_get_config()));
#else
  o.Set("tier", "native-builtin");
  o.Set("blas", "built-in blocked GEMM");
#endif
  o.Set("threads", Pool::get().threads());
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = static_cast<int>(num(info[0]));
  Pool::get().set_threads(n);
  return info.Env().Undefined();
}

// Every tfjs kernel output is a fresh Float32Array (calloc). With glibc's default, large ones
// are mmapped and the heap top is trimmed as a step frees them, so the next step's buffers
// fault their pages in again: for a cheap kernel such as an Add, several times its own cost.
// Keeping buffers up to 32 MB on the heap, and freed heap memory in the process, lets them
// be reused.
static void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keep_freed_memory();
  int n = default_threads();
  Pool::get().set_threads(n);
#ifdef LAVIT_OPENBLAS
  // Our pool splits the work; see gemm_one for why OpenBLAS keeps to the calling thread.
  openblas_set_num_threads(1);
#endif
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  InitGemm(env, exports);
  InitElementwise(env, exports);
  InitReduce(env, exports);
  InitFused(env, exports);
  InitAttention(env, exports);
  InitLoss(env, exports);
  return exports;
}

}  // namespace lavit

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return lavit::Init(env, exports); }

NODE_API_MODULE(lavit_native, InitModule)
