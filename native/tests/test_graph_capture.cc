// Stream capture rules: which streams can capture, the errors of begin/end,
// calls that are forbidden during a capture and invalidate it (synchronous
// copies, cuCtxSynchronize, cuStreamSynchronize/Query of the capturing stream,
// cuMemAlloc), how the capture modes decide who is prohibited, ending from
// another thread, the legacy stream beside a blocking capture, and forks and
// joins across streams through events, and a context destroyed mid-capture.
// Expected codes follow the driver API reference; where it is silent, the
// note in brackets says what is asserted.
#include <functional>
#include <thread>
#include <vector>

#include "driver_test.h"

namespace {

constexpr size_t kN = 1024;

struct Env {
  CUcontext ctx;
  CUfunction fill;
  CUdeviceptr buf[3];
};

CUstreamCaptureStatus status_of(CUstream s) {
  CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
  CHECK_CU(cuStreamIsCapturing(s, &st), CUDA_SUCCESS);
  return st;
}

bool all_u32(CUdeviceptr p, uint32_t want) {
  std::vector<uint32_t> v(kN, ~want);
  CHECK_CU(cuMemcpyDtoH(v.data(), p, kN * sizeof(uint32_t)), CUDA_SUCCESS);
  for (uint32_t u : v)
    if (u != want) return false;
  return true;
}

// Runs `fn` on another thread with `ctx` current there.
void in_thread(CUcontext ctx, const std::function<void()>& fn) {
  std::thread t([&] {
    CHECK_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    fn();
  });
  t.join();
}

// Ends the capture on `s` expecting `want`; destroys whatever graph came back.
void end_expect(CUstream s, CUresult want, int line) {
  CUgraph g = reinterpret_cast<CUgraph>(0x1);
  CUresult r = cuStreamEndCapture(s, &g);
  dt::check_result(__FILE__, line, "cuStreamEndCapture", r, {want}, nullptr);
  if (want != CUDA_SUCCESS) dt::check_true(__FILE__, line, "graph == NULL", g == nullptr, "");
  if (r == CUDA_SUCCESS && g != nullptr) cuGraphDestroy(g);
}
#define END_EXPECT(s, want) end_expect((s), (want), __LINE__)

void check_begin_end(const Env& e) {
  dt::section("begin and end");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CHECK_CU_MSG(cuStreamBeginCapture(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
               "NULL is the legacy stream: 'Capture may not be initiated if stream is CU_STREAM_LEGACY'");
  CHECK_CU(cuStreamBeginCapture(CU_STREAM_LEGACY, CU_STREAM_CAPTURE_MODE_GLOBAL),
           CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CHECK_CU(cuStreamBeginCapture(s, static_cast<CUstreamCaptureMode>(42)), CUDA_ERROR_INVALID_VALUE);
  CUgraph g = nullptr;
  CHECK_CU_MSG(cuStreamEndCapture(s, &g), CUDA_ERROR_ILLEGAL_STATE, "not capturing");
  CHECK_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU_MSG(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_ILLEGAL_STATE, "already capturing");
  CHECK_CU(cuStreamIsCapturing(s, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuStreamGetCaptureInfo(s, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuStreamEndCapture(s, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(status_of(s), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  // An empty capture is a valid, empty graph.
  CHECK_CU(cuStreamEndCapture(s, &g), CUDA_SUCCESS);
  size_t count = 99;
  CHECK_CU(cuGraphGetNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 0u);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);

  dt::section("the per-thread default stream can capture");
  CHECK_CU(cuStreamBeginCapture(CU_STREAM_PER_THREAD, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, CU_STREAM_PER_THREAD, e.buf[0], 1, kN), CUDA_SUCCESS);
  CHECK_CU(cuStreamEndCapture(CU_STREAM_PER_THREAD, &g), CUDA_SUCCESS);
  CHECK_CU(cuGraphGetNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 1u);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_forbidden(const Env& e) {
  dt::section("global mode: forbidden calls fail and invalidate the capture");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  std::vector<uint32_t> host(kN, 0);
  CUdeviceptr extra = 0;
  struct Forbidden {
    const char* what;
    std::function<CUresult()> call;
  } cases[] = {
      {"cuMemcpyHtoD", [&] { return cuMemcpyHtoD(e.buf[1], host.data(), kN * 4); }},
      {"cuMemsetD32", [&] { return cuMemsetD32(e.buf[1], 0, kN); }},
      {"cuCtxSynchronize", [&] { return cuCtxSynchronize(); }},
      {"cuStreamSynchronize(capturing)", [&] { return cuStreamSynchronize(s); }},
      {"cuStreamQuery(capturing)", [&] { return cuStreamQuery(s); }},
      {"cuMemAlloc", [&] { return cuMemAlloc(&extra, 4096); }},
  };
  for (const Forbidden& f : cases) {
    dt::info("%s", f.what);
    REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_CU(dt::launch_fill(e.fill, s, e.buf[0], 5, kN), CUDA_SUCCESS);
    CUresult r = f.call();
    CHECK_CU_MSG(r, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, f.what);
    if (r == CUDA_SUCCESS && extra != 0) CHECK_CU(cuMemFree(extra), CUDA_SUCCESS), extra = 0;
    CHECK_EQ(status_of(s), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    // "further use of any streams which are actively being captured ... will return an error"
    CHECK_CU(dt::launch_fill(e.fill, s, e.buf[0], 6, kN), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    END_EXPECT(s, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_EQ(status_of(s), CU_STREAM_CAPTURE_STATUS_NONE);
  }
  // Usable again, and nothing captured ran.
  CHECK_CU(cuMemsetD32(e.buf[0], 0, kN), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, s, e.buf[0], 9, kN), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(all_u32(e.buf[0], 9));

  dt::section("relaxed mode: unsafe calls allowed, synchronising the capture still not");
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, s, e.buf[0], 5, kN), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(e.buf[1], host.data(), kN * 4), CUDA_SUCCESS);
  if (CHECK_CU(cuMemAlloc(&extra, 4096), CUDA_SUCCESS)) CHECK_CU(cuMemFree(extra), CUDA_SUCCESS);
  CHECK_EQ(status_of(s), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  CHECK_CU(cuStreamSynchronize(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  END_EXPECT(s, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_modes_across_threads(const Env& e) {
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr p = 0;

  dt::section("thread-local capture: other threads are not prohibited");
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), CUDA_SUCCESS);
  in_thread(e.ctx, [&] {
    if (CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS)) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  });
  END_EXPECT(s, CUDA_SUCCESS);

  dt::section("global capture: another thread in global mode is prohibited");
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  in_thread(e.ctx, [&] {
    CUresult r = cuMemAlloc(&p, 4096);
    CHECK_CU(r, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    if (r == CUDA_SUCCESS) cuMemFree(p);
  });
  END_EXPECT(s, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

  dt::section("global capture: a thread that exchanged its mode to relaxed is not");
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  in_thread(e.ctx, [&] {
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    CHECK_CU(cuThreadExchangeStreamCaptureMode(&mode), CUDA_SUCCESS);
    CHECK_EQ(mode, CU_STREAM_CAPTURE_MODE_GLOBAL);  // the default
    if (CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS)) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
    CHECK_CU(cuThreadExchangeStreamCaptureMode(&mode), CUDA_SUCCESS);
    CHECK_EQ(mode, CU_STREAM_CAPTURE_MODE_RELAXED);
  });
  END_EXPECT(s, CUDA_SUCCESS);
  CHECK_CU(cuThreadExchangeStreamCaptureMode(nullptr), CUDA_ERROR_INVALID_VALUE);

  dt::section("ending a capture from another thread");
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  in_thread(e.ctx, [&] {
    CUgraph g = nullptr;
    CHECK_CU(cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD);
  });
  END_EXPECT(s, CUDA_SUCCESS);
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
  in_thread(e.ctx, [&] { END_EXPECT(s, CUDA_SUCCESS); });
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_legacy_stream(const Env& e) {
  dt::section("the legacy stream beside a capturing blocking stream");
  CUstream blocking = nullptr, non_blocking = nullptr;
  REQUIRE_CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamCreate(&non_blocking, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CUstreamCaptureStatus st;
  CHECK_CU(cuStreamIsCapturing(CU_STREAM_LEGACY, &st), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  CHECK_EQ(status_of(blocking), CU_STREAM_CAPTURE_STATUS_ACTIVE);  // "not invalidated"
  CHECK_CU_MSG(dt::launch_fill(e.fill, nullptr, e.buf[2], 1, kN), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,
               "work on the legacy stream would depend on the capture");
  CHECK_EQ(status_of(blocking), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
  END_EXPECT(blocking, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

  // A non-blocking capture leaves the legacy stream alone.
  REQUIRE_CU(cuStreamBeginCapture(non_blocking, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_EQ(status_of(CU_STREAM_LEGACY), CU_STREAM_CAPTURE_STATUS_NONE);
  CHECK_CU(dt::launch_fill(e.fill, nullptr, e.buf[2], 4, kN), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, non_blocking, e.buf[2], 5, kN), CUDA_SUCCESS);
  END_EXPECT(non_blocking, CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  CHECK(all_u32(e.buf[2], 4));  // the legacy launch ran; the captured one did not
  CHECK_CU(cuStreamDestroy(blocking), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(non_blocking), CUDA_SUCCESS);
}

void check_fork_join(const Env& e) {
  dt::section("fork and join through events");
  CUstream s1 = nullptr, s2 = nullptr;
  REQUIRE_CU(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUevent fork = nullptr, join = nullptr, outside = nullptr;
  REQUIRE_CU(cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&join, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&outside, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
  for (CUdeviceptr p : e.buf) CHECK_CU(cuMemsetD32(p, 0, kN), CUDA_SUCCESS);

  REQUIRE_CU(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, s1, e.buf[0], 1, kN), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(fork, s1), CUDA_SUCCESS);
  CHECK_CU(cuStreamWaitEvent(s2, fork, 0), CUDA_SUCCESS);
  CHECK_EQ(status_of(s2), CU_STREAM_CAPTURE_STATUS_ACTIVE);  // s2 joined the capture
  CHECK_CU(dt::launch_fill(e.fill, s2, e.buf[1], 2, kN), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, s1, e.buf[2], 3, kN), CUDA_SUCCESS);
  CUgraph g = nullptr;
  CHECK_CU_MSG(cuStreamEndCapture(s2, &g), CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "s2 did not begin the capture");
  CHECK_CU(cuEventRecord(join, s2), CUDA_SUCCESS);
  CHECK_CU(cuStreamWaitEvent(s1, join, 0), CUDA_SUCCESS);
  size_t deps = 0;
  CUstreamCaptureStatus st;
  CHECK_CU(cuStreamGetCaptureInfo(s1, &st, nullptr, nullptr, nullptr, nullptr, &deps), CUDA_SUCCESS);
  CHECK_EQ(deps, 2u);  // its own last node and s2's
  REQUIRE_CU(cuStreamEndCapture(s1, &g), CUDA_SUCCESS);
  CHECK_EQ(status_of(s2), CU_STREAM_CAPTURE_STATUS_NONE);
  size_t count = 0;
  CHECK_CU(cuGraphGetNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 3u);
  CHECK_CU(cuGraphGetRootNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 1u);
  CUgraphExec exec = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
  CHECK_CU(cuGraphLaunch(exec, s1), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s1), CUDA_SUCCESS);
  CHECK(all_u32(e.buf[0], 1));
  CHECK(all_u32(e.buf[1], 2));
  CHECK(all_u32(e.buf[2], 3));
  CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);

  dt::section("a fork that is not joined");
  REQUIRE_CU(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(fork, s1), CUDA_SUCCESS);
  CHECK_CU(cuStreamWaitEvent(s2, fork, 0), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(e.fill, s2, e.buf[1], 7, kN), CUDA_SUCCESS);
  END_EXPECT(s1, CUDA_ERROR_STREAM_CAPTURE_UNJOINED);
  CHECK_EQ(status_of(s2), CU_STREAM_CAPTURE_STATUS_NONE);

  dt::section("events across the capture boundary");
  CHECK_CU(cuEventRecord(outside, s2), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU_MSG(cuStreamWaitEvent(s1, outside, 0), CUDA_ERROR_STREAM_CAPTURE_ISOLATION,
               "waiting on a non-captured event without CU_EVENT_WAIT_EXTERNAL");
  END_EXPECT(s1, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  REQUIRE_CU(cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(fork, s1), CUDA_SUCCESS);
  CHECK_CU_MSG(cuEventQuery(fork), CUDA_ERROR_CAPTURED_EVENT, "an event last recorded in a capture");
  // Whether the query also invalidated the capture the docs do not say: the
  // capture is ended without asserting the result.
  g = nullptr;
  CUresult r = cuStreamEndCapture(s1, &g);
  dt::info("end after querying a captured event: %s", dt::result_name(r).c_str());
  if (r == CUDA_SUCCESS && g != nullptr) CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  CHECK_EQ(status_of(s1), CU_STREAM_CAPTURE_STATUS_NONE);

  CHECK_CU(cuEventDestroy(fork), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(join), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(outside), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s1), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s2), CUDA_SUCCESS);
}

void check_context_destroyed(const Env& e) {
  dt::section("destroying a context ends its captures");
  CUdevice dev = 0;
  CHECK_CU(cuCtxGetDevice(&dev), CUDA_SUCCESS);
  CUcontext other = nullptr;
  REQUIRE_CU(cuCtxCreate(&other, nullptr, 0, dev), CUDA_SUCCESS);  // pushed: current now
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(other), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(e.ctx), CUDA_SUCCESS);
  // A global capture left running would prohibit this.
  CUdeviceptr p = 0;
  if (CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS)) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  CUmodule fill_mod = dt::load_kernel_module("fill_u32");
  Env e{};
  CHECK_CU(cuCtxGetCurrent(&e.ctx), CUDA_SUCCESS);
  e.fill = dt::get_function(fill_mod, "fill_u32");
  for (CUdeviceptr& p : e.buf) REQUIRE_CU(cuMemAlloc(&p, kN * sizeof(uint32_t)), CUDA_SUCCESS);

  check_begin_end(e);
  check_forbidden(e);
  check_modes_across_threads(e);
  check_legacy_stream(e);
  check_fork_join(e);
  check_context_destroyed(e);

  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  for (CUdeviceptr p : e.buf) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(fill_mod), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
