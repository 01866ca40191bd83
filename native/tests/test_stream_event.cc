// Streams and events: creation, in-order execution within a stream (shown by
// data), completion queries while a spin kernel keeps the device busy,
// cross-stream waits, the legacy and per-thread default streams, and event
// timing. Only orderings the driver guarantees are asserted, never concurrency.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "driver_test.h"

namespace {

const float kOne = 1.0f;

struct Kernels {
  CUfunction spin, fill, saxpy;
};

std::vector<float> read_floats(CUdeviceptr p, size_t n) {
  std::vector<float> v(n, -1.0f);
  CHECK_CU(cuMemcpyDtoH(v.data(), p, n * sizeof(float)), CUDA_SUCCESS);
  return v;
}

bool all_equal(const std::vector<float>& v, float want) {
  for (float f : v)
    if (f != want) return false;
  return true;
}

void check_create_destroy() {
  dt::section("stream creation, flags, priorities");
  CUstream s = nullptr;
  unsigned flags = 99;
  CHECK_CU(cuStreamCreate(&s, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(cuStreamGetFlags(s, &flags), CUDA_SUCCESS);
  CHECK_EQ(flags, static_cast<unsigned>(CU_STREAM_DEFAULT));
  CHECK_CU(cuStreamQuery(s), CUDA_SUCCESS);  // nothing queued
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CHECK_CU(cuStreamGetFlags(s, &flags), CUDA_SUCCESS);
  CHECK_EQ(flags, static_cast<unsigned>(CU_STREAM_NON_BLOCKING));
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU_MSG(cuStreamCreate(&s, 0x100), CUDA_ERROR_INVALID_VALUE, "undefined stream flag");

  int least = 0, greatest = 0;
  CHECK_CU(cuCtxGetStreamPriorityRange(&least, &greatest), CUDA_SUCCESS);
  CHECK(greatest <= least);  // lower numbers are higher priorities
  CHECK_CU(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, greatest), CUDA_SUCCESS);
  int priority = 12345;
  CHECK_CU(cuStreamGetPriority(s, &priority), CUDA_SUCCESS);
  CHECK_EQ(priority, greatest);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);

  CUcontext ctx = nullptr, sctx = nullptr;
  CHECK_CU(cuCtxGetCurrent(&ctx), CUDA_SUCCESS);
  CHECK_CU(cuStreamCreate(&s, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(cuStreamGetCtx(s, &sctx), CUDA_SUCCESS);
  CHECK(sctx == ctx);
  unsigned long long id1 = 0, id2 = 0;
  CUstream s2 = nullptr;
  CHECK_CU(cuStreamCreate(&s2, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(cuStreamGetId(s, &id1), CUDA_SUCCESS);
  CHECK_CU(cuStreamGetId(s2, &id2), CUDA_SUCCESS);
  CHECK(id1 != id2);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s2), CUDA_SUCCESS);

  dt::section("event creation");
  CUevent e = nullptr;
  CHECK_CU(cuEventCreate(&e, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  // "Before the first call to cuEventRecord(), an event represents an empty set
  // of work, so for example cuEventQuery() would return CUDA_SUCCESS."
  CHECK_CU(cuEventQuery(e), CUDA_SUCCESS);
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU(cuEventCreate(&e, CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU_MSG(cuEventCreate(&e, 0x100), CUDA_ERROR_INVALID_VALUE, "undefined event flag");
  // "CU_EVENT_INTERPROCESS must be specified along with CU_EVENT_DISABLE_TIMING."
  CHECK_CU(cuEventCreate(&e, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
}

void check_in_order(const Kernels& k) {
  dt::section("work on one stream runs in order");
  const int n = 100000;
  CUdeviceptr x = 0, y = 0;
  REQUIRE_CU(cuMemAlloc(&x, n * sizeof(float)), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&y, n * sizeof(float)), CUDA_SUCCESS);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  // A slow first item, so that anything reordered would run before it.
  CHECK_CU(dt::launch_spin(k.spin, s, 50), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(k.fill, s, x, dt::float_bits(2.0f), n), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32Async(y, dt::float_bits(kOne), n, s), CUDA_SUCCESS);
  CHECK_CU(dt::launch_saxpy(k.saxpy, s, n, 3.0f, x, y), CUDA_SUCCESS);   // y = 7
  CHECK_CU(dt::launch_saxpy(k.saxpy, s, n, -1.0f, x, y), CUDA_SUCCESS);  // y = 5
  std::vector<float> out(n, -1.0f);
  CHECK_CU(cuMemcpyDtoHAsync(out.data(), y, n * sizeof(float), s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_MSG(all_equal(out, 5.0f), "y[0]=" + dt::repr(out[0]) + " y[n-1]=" + dt::repr(out[n - 1]));
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);
}

void check_query_while_busy(const Kernels& k) {
  dt::section("cuStreamQuery / cuEventQuery while a kernel runs");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUevent e = nullptr;
  REQUIRE_CU(cuEventCreate(&e, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(k.spin, s, 300), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(e, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
  double t0 = dt::now_ms();
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_MSG(dt::now_ms() - t0 > 100, "cuEventSynchronize returned before the spin ended");
  CHECK_CU(cuEventQuery(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(s), CUDA_SUCCESS);

  CHECK_CU(dt::launch_spin(k.spin, s, 200), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(s), CUDA_SUCCESS);

  // cuCtxSynchronize waits for every stream of the context.
  CHECK_CU(dt::launch_spin(k.spin, s, 200), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(s), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_wait_event(const Kernels& k) {
  dt::section("cuStreamWaitEvent orders work across streams");
  const int n = 50000;
  CUdeviceptr x = 0, y = 0;
  REQUIRE_CU(cuMemAlloc(&x, n * sizeof(float)), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&y, n * sizeof(float)), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(x, dt::float_bits(2.0f), n), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(y, 0, n), CUDA_SUCCESS);
  CUstream producer = nullptr, consumer = nullptr;
  REQUIRE_CU(cuStreamCreate(&producer, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamCreate(&consumer, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUevent ready = nullptr;
  REQUIRE_CU(cuEventCreate(&ready, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);

  CHECK_CU(dt::launch_spin(k.spin, producer, 200), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(k.fill, producer, y, dt::float_bits(kOne), n), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(ready, producer), CUDA_SUCCESS);
  CHECK_CU(cuStreamWaitEvent(consumer, ready, 0), CUDA_SUCCESS);
  // Without the wait this saxpy would run before the fill and be overwritten.
  CHECK_CU(dt::launch_saxpy(k.saxpy, consumer, n, 3.0f, x, y), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(consumer), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuStreamSynchronize(consumer), CUDA_SUCCESS);
  auto out = read_floats(y, n);
  CHECK_MSG(all_equal(out, 7.0f), "y[0]=" + dt::repr(out[0]));
  // The producer's work came first, so it is complete too.
  CHECK_CU(cuEventQuery(ready), CUDA_SUCCESS);

  // Waiting on an event never recorded waits for nothing.
  CUevent never = nullptr;
  REQUIRE_CU(cuEventCreate(&never, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(cuStreamWaitEvent(consumer, never, 0), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(consumer), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(never), CUDA_SUCCESS);

  CHECK_CU(cuEventDestroy(ready), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(producer), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(consumer), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);
}

void check_default_streams(const Kernels& k) {
  dt::section("legacy default stream synchronises with blocking streams");
  CUstream blocking = nullptr;
  REQUIRE_CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  CUevent e = nullptr;
  REQUIRE_CU(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);

  // Work on a blocking stream waits for earlier legacy-stream work...
  CHECK_CU(dt::launch_spin(k.spin, nullptr, 250), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(e, blocking), CUDA_SUCCESS);
  CHECK_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(nullptr), CUDA_SUCCESS);
  // ...and legacy-stream work waits for earlier work on blocking streams.
  CHECK_CU(dt::launch_spin(k.spin, blocking, 250), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(e, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(blocking), CUDA_SUCCESS);
  // CU_STREAM_LEGACY names the same stream as NULL.
  CHECK_CU(dt::launch_spin(k.spin, CU_STREAM_LEGACY, 250), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(nullptr), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuStreamSynchronize(CU_STREAM_LEGACY), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(nullptr), CUDA_SUCCESS);

  dt::section("per-thread default stream");
  // "The per-thread default stream is not a non-blocking stream and will
  // synchronize with the legacy default stream."
  CHECK_CU(dt::launch_spin(k.spin, nullptr, 250), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(e, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  CHECK_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
  // Only the event itself is waited on here: on an H100 (driver 580.159) a
  // cuStreamSynchronize(CU_STREAM_PER_THREAD) returned while this record, held
  // back by the legacy stream's spin, was still pending (bench/results/gpu-h100).
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_CU(cuEventQuery(e), CUDA_SUCCESS);
  // Work on it, completed by synchronising it.
  CHECK_CU(dt::launch_spin(k.spin, CU_STREAM_PER_THREAD, 200), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  // Another thread's per-thread stream is its own, and works there too.
  std::thread t([&] {
    CUcontext ctx = nullptr;
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    CHECK_CU(dt::launch_spin(k.spin, CU_STREAM_PER_THREAD, 10), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
    CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  });
  t.join();

  dt::section("destroying a stream with work pending");
  const int n = 1000;
  CUdeviceptr y = 0;
  REQUIRE_CU(cuMemAlloc(&y, n * sizeof(float)), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(y, 0, n), CUDA_SUCCESS);
  CUstream doomed = nullptr;
  REQUIRE_CU(cuStreamCreate(&doomed, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(k.spin, doomed, 100), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(k.fill, doomed, y, dt::float_bits(4.0f), n), CUDA_SUCCESS);
  // "the function will return immediately and the resources ... will be
  // released automatically once the device has completed all work".
  CHECK_CU(cuStreamDestroy(doomed), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK(all_equal(read_floats(y, n), 4.0f));
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);

  CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(blocking), CUDA_SUCCESS);
}

void check_timing(const Kernels& k) {
  dt::section("event timing");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUevent start = nullptr, stop = nullptr, untimed = nullptr, untimed2 = nullptr;
  REQUIRE_CU(cuEventCreate(&start, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&stop, CU_EVENT_BLOCKING_SYNC), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&untimed2, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  float ms = -1.0f;

  // "If cuEventRecord() has not been called on either event then
  // CUDA_ERROR_INVALID_HANDLE is returned."
  CHECK_CU(cuEventElapsedTime(&ms, start, stop), CUDA_ERROR_INVALID_HANDLE);

  const double spin_ms = 100;
  CHECK_CU(cuEventRecord(start, s), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(k.spin, s, spin_ms), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(stop, s), CUDA_SUCCESS);
  // Recorded but not complete yet.
  CHECK_CU(cuEventElapsedTime(&ms, start, stop), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuEventSynchronize(stop), CUDA_SUCCESS);
  CHECK_CU(cuEventElapsedTime(&ms, start, stop), CUDA_SUCCESS);
  CHECK_MSG(ms >= 0.5 * spin_ms && ms < 100 * spin_ms, "elapsed " + dt::repr(ms) + " ms");
  float back = 0.0f;
  CHECK_CU(cuEventElapsedTime(&back, stop, start), CUDA_SUCCESS);
  dt::info("elapsed %.3f ms, reversed %.3f ms", ms, back);

  // Timing on the legacy stream too.
  CHECK_CU(cuEventRecord(start, nullptr), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(k.spin, nullptr, 20), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(stop, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuEventSynchronize(stop), CUDA_SUCCESS);
  CHECK_CU(cuEventElapsedTime(&ms, start, stop), CUDA_SUCCESS);
  CHECK_MSG(ms >= 10, "elapsed " + dt::repr(ms) + " ms");

  // "If either event was created with the CU_EVENT_DISABLE_TIMING flag, then
  // this function will return CUDA_ERROR_INVALID_HANDLE."
  CHECK_CU(cuEventRecord(untimed, s), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(untimed2, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuEventElapsedTime(&ms, untimed, untimed2), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuEventElapsedTime(&ms, start, untimed), CUDA_ERROR_INVALID_HANDLE);

  // One of the two never recorded.
  CUevent fresh = nullptr;
  REQUIRE_CU(cuEventCreate(&fresh, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  CHECK_CU_MSG(cuEventElapsedTime(&ms, start, fresh), CUDA_ERROR_INVALID_HANDLE,
               "docs: 'not been called on either event' read as 'on one of them'");

  // An event may be destroyed while its work is pending.
  CHECK_CU(dt::launch_spin(k.spin, s, 50), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(fresh, s), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(fresh), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);

  for (CUevent e : {start, stop, untimed, untimed2}) CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

// The thread that made the calls: host functions must run on another one.
std::thread::id g_caller;
std::atomic<int> g_on_caller_thread{0};

void CUDA_CB mark_done(void* user) {
  if (std::this_thread::get_id() == g_caller) g_on_caller_thread.fetch_add(1);
  static_cast<std::atomic<int>*>(user)->fetch_add(1);
}

void CUDA_CB sleep_150ms(void* user) {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  static_cast<std::atomic<int>*>(user)->fetch_add(1);
}

void check_host_func(const Kernels& k) {
  dt::section("cuLaunchHostFunc");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  std::atomic<int> calls{0};
  g_caller = std::this_thread::get_id();
  // "The function will be called after currently enqueued work..."
  CHECK_CU(dt::launch_spin(k.spin, s, 150), CUDA_SUCCESS);
  CHECK_CU(cuLaunchHostFunc(s, mark_done, &calls), CUDA_SUCCESS);
  CHECK_EQ(calls.load(), 0);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_EQ(calls.load(), 1);
  // "...and will block work added after it."
  CUevent e = nullptr;
  REQUIRE_CU(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  CHECK_CU(cuLaunchHostFunc(s, sleep_150ms, &calls), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(e, s), CUDA_SUCCESS);
  CHECK_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
  CHECK_CU(cuEventSynchronize(e), CUDA_SUCCESS);
  CHECK_EQ(calls.load(), 2);
  // It runs even while the program makes no driver call at all (it may wait
  // for the function by itself). Polled for up to 30 s: a deadlock guard, not
  // a timing check.
  CHECK_CU(dt::launch_spin(k.spin, s, 20), CUDA_SUCCESS);
  CHECK_CU(cuLaunchHostFunc(s, mark_done, &calls), CUDA_SUCCESS);
  for (int i = 0; i < 3000 && calls.load() != 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_EQ(calls.load(), 3);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  // On the legacy stream too.
  CHECK_CU(cuLaunchHostFunc(nullptr, mark_done, &calls), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  CHECK_EQ(calls.load(), 4);
  // The driver runs host functions on a thread of its own, never in the caller.
  CHECK_EQ(g_on_caller_thread.load(), 0);
  CHECK_CU(cuEventDestroy(e), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

// NULL output pointers, last in the program: the real driver dereferences
// some without checking (cuGetErrorName, cuGetProcAddress crash), so a crash
// here loses nothing else.
void check_null_handles() {
  dt::section("NULL event handles and output pointers");
  CHECK_CU(cuStreamCreate(nullptr, CU_STREAM_DEFAULT), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuEventCreate(nullptr, CU_EVENT_DEFAULT), CUDA_ERROR_INVALID_VALUE);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  float ms = 0;
  CHECK_CU(cuEventQuery(nullptr), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuEventSynchronize(nullptr), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuEventRecord(nullptr, s), CUDA_ERROR_INVALID_HANDLE);
  // "hEvent - Event to wait on (may not be NULL)".
  CHECK_CU(cuStreamWaitEvent(s, nullptr, 0), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuEventElapsedTime(&ms, nullptr, nullptr), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  CUmodule spin_mod = dt::load_kernel_module("spin");
  CUmodule fill_mod = dt::load_kernel_module("fill_u32");
  CUmodule saxpy_mod = dt::load_kernel_module("saxpy");
  Kernels k{dt::get_function(spin_mod, "spin"), dt::get_function(fill_mod, "fill_u32"),
            dt::get_function(saxpy_mod, "saxpy")};

  check_create_destroy();
  check_in_order(k);
  check_query_while_busy(k);
  check_wait_event(k);
  check_default_streams(k);
  check_timing(k);
  check_host_func(k);
  check_null_handles();

  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(spin_mod), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(fill_mod), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(saxpy_mod), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
