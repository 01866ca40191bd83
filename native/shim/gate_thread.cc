// gate_thread.cc — the per-process thread that sees gated work complete when
// the job itself makes no calls (gate_internal.h).
//
// Started by the first gated operation or charged allocation (so after
// cuInit), detached. While operations are outstanding it polls their end
// events every 150 µs; with none for a while (kGraceNs) it sleeps on a
// condition variable until the next submission wakes it, so a job that keeps
// the device busy never pays a wake-up system call and an idle job costs
// nothing — except while a device of the node is oversubscribed: then it also
// wakes every 1 ms to look for eviction requests (swap.h), which it serves.
//
// Exit: an atexit handler (registered when the thread starts, so it runs
// before the driver's own destructors) stops it and waits, at most
// kExitWaitNs, for it to leave the driver; a thread stuck inside the driver is
// not waited for. The thread uses relaxed stream-capture mode, so its event
// queries never invalidate another thread's capture.
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <cerrno>
#include <condition_variable>
#include <thread>

#include "gate_internal.h"
#include "log.h"
#include "real_driver.h"
#include "swap.h"

namespace gpupool::shim {
namespace {

constexpr long kPollNs = 150 * 1000;
constexpr uint64_t kGraceNs = 20ull * 1000 * 1000;
constexpr uint64_t kExitWaitNs = 200ull * 1000 * 1000;
constexpr long kEvictPollNs = 1000 * 1000;

std::atomic<bool> g_started{false};
std::atomic<bool> g_stopping{false};
std::atomic<bool> g_in_driver{false};
std::atomic<bool> g_idle{false};
std::mutex g_wake_mu;
std::condition_variable g_wake_cv;
bool g_kicked = false;  // under g_wake_mu

void run() {
  if (auto mode_fn = SHIM_REAL(cuThreadExchangeStreamCaptureMode)) {
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    mode_fn(&mode);
  }
  uint64_t last_busy = monotonic_ns();
  while (!g_stopping.load(std::memory_order_acquire)) {
    g_in_driver.store(true, std::memory_order_seq_cst);
    if (g_stopping.load(std::memory_order_seq_cst)) {
      g_in_driver.store(false, std::memory_order_release);
      break;
    }
    const int outstanding = inflight_poll();
    swap_poll_evictions();
    g_in_driver.store(false, std::memory_order_release);
    const uint64_t now = monotonic_ns();
    if (outstanding > 0) last_busy = now;
    if (outstanding > 0 || now - last_busy < kGraceNs) {
      sleep_ns(kPollNs);
      continue;
    }
    // Idle: announce it, then look once more (a Dekker pair with the
    // submitter's g_outstanding increment and g_idle load), then sleep —
    // for kEvictPollNs only while a device is oversubscribed, since an
    // eviction request must be seen although this process submits nothing.
    g_idle.store(true, std::memory_order_seq_cst);
    bool kicked = true;
    if (g_outstanding.load(std::memory_order_seq_cst) == 0) {
      auto woken = [] { return g_kicked || g_stopping.load(std::memory_order_acquire); };
      std::unique_lock<std::mutex> lock(g_wake_mu);
      if (swap_watching()) kicked = g_wake_cv.wait_for(lock, std::chrono::nanoseconds(kEvictPollNs), woken);
      else g_wake_cv.wait(lock, woken);
      g_kicked = false;
    }
    g_idle.store(false, std::memory_order_seq_cst);
    // A timed wake-up without work polls once and sleeps again at once.
    if (kicked) last_busy = monotonic_ns();
  }
}

void stop_at_exit() {
  g_stopping.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(g_wake_mu);
    g_kicked = true;
  }
  g_wake_cv.notify_one();
  const uint64_t deadline = monotonic_ns() + kExitWaitNs;
  while (g_in_driver.load(std::memory_order_seq_cst) && monotonic_ns() < deadline) sleep_ns(100 * 1000);
}

void atfork_child() {
  // Threads do not survive fork: the child starts its own on first use.
  g_started.store(false, std::memory_order_relaxed);
  g_in_driver.store(false, std::memory_order_relaxed);
  g_idle.store(false, std::memory_order_relaxed);
  new (&g_wake_mu) std::mutex();
  new (&g_wake_cv) std::condition_variable();
  g_kicked = false;
}

__attribute__((constructor)) void gate_thread_register_atfork() { pthread_atfork(nullptr, nullptr, atfork_child); }

}  // namespace

void gate_thread_ensure() {
  if (g_started.load(std::memory_order_acquire) || g_started.exchange(true)) return;
  if (g_stopping.load(std::memory_order_acquire)) return;
  try {
    std::thread(run).detach();
  } catch (...) {
    GPUPOOL_LOG_WARN("cannot start the gate thread: completions are seen only when the job waits");
    return;
  }
  std::atexit(stop_at_exit);
}

bool gate_thread_stopping() { return g_stopping.load(std::memory_order_acquire); }

void gate_thread_wake() {
  if (!g_idle.load(std::memory_order_seq_cst)) return;
  {
    std::lock_guard<std::mutex> lock(g_wake_mu);
    g_kicked = true;
  }
  g_wake_cv.notify_one();
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void sleep_ns(long ns) {
  timespec ts{0, ns};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool elapsed_ns(CUevent start, CUevent end, uint64_t* ns) {
  auto v2 = SHIM_REAL(cuEventElapsedTime_v2);
  auto v1 = SHIM_REAL(cuEventElapsedTime);
  float ms = 0;
  CUresult r = v2 != nullptr ? v2(&ms, start, end) : v1 != nullptr ? v1(&ms, start, end) : CUDA_ERROR_NOT_SUPPORTED;
  if (r != CUDA_SUCCESS || !(ms >= 0)) return false;
  *ns = static_cast<uint64_t>(static_cast<double>(ms) * 1e6);
  return true;
}

}  // namespace gpupool::shim
