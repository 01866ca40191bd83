// Contexts: primary-context reference counting and state, cuCtxCreate/Destroy,
// the per-thread context stack, and what happens with no (or a destroyed)
// current context.
#include <atomic>
#include <thread>

#include "driver_test.h"

namespace {

unsigned sched(unsigned flags) { return flags & CU_CTX_SCHED_MASK; }

CUcontext current() {
  CUcontext c = reinterpret_cast<CUcontext>(0x1);
  CHECK_CU(cuCtxGetCurrent(&c), CUDA_SUCCESS);
  return c;
}

void check_no_current_context() {
  dt::section("no current context");
  CHECK(current() == nullptr);
  CUdevice d = -1;
  CHECK_CU(cuCtxGetDevice(&d), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
  CUcontext popped = nullptr;
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);
  unsigned flags = 0;
  CHECK_CU(cuCtxGetFlags(&flags), CUDA_ERROR_INVALID_CONTEXT);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 1024), CUDA_ERROR_INVALID_CONTEXT);
  size_t free_bytes = 0, total_bytes = 0;
  CHECK_CU(cuMemGetInfo(&free_bytes, &total_bytes), CUDA_ERROR_INVALID_CONTEXT);
  CUstream s = nullptr;
  CHECK_CU(cuStreamCreate(&s, CU_STREAM_DEFAULT), CUDA_ERROR_INVALID_CONTEXT);
  // Unbinding when nothing is bound is a no-op.
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK(current() == nullptr);
}

void check_primary(CUdevice dev, int count) {
  dt::section("primary context");
  unsigned flags = 0xdead;
  int active = -1;
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(active, 0);  // nothing in this process retained it yet
  CHECK_CU(cuDevicePrimaryCtxGetState(count, &flags, &active), CUDA_ERROR_INVALID_DEVICE);

  // "Releasing a primary context that has not been previously retained will
  // fail with CUDA_ERROR_INVALID_CONTEXT."
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_CU(cuDevicePrimaryCtxRelease(count), CUDA_ERROR_INVALID_DEVICE);

  // Flags may be set before the context exists and are reported back.
  CHECK_CU(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_BLOCKING_SYNC), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(sched(flags), static_cast<unsigned>(CU_CTX_SCHED_BLOCKING_SYNC));
  CHECK_EQ(active, 0);
  CHECK_CU(cuDevicePrimaryCtxSetFlags(count, 0), CUDA_ERROR_INVALID_DEVICE);

  CUcontext p1 = nullptr, p2 = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&p1, dev), CUDA_SUCCESS);
  REQUIRE(p1 != nullptr);
  CHECK_CU(cuDevicePrimaryCtxRetain(&p2, count), CUDA_ERROR_INVALID_DEVICE);
  CHECK_CU(cuDevicePrimaryCtxRetain(&p2, dev), CUDA_SUCCESS);
  CHECK(p1 == p2);  // one primary context per device
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(active, 1);
  // "Unlike cuCtxCreate() the newly retained context is not pushed onto the stack."
  CHECK(current() == nullptr);

  CHECK_CU(cuCtxSetCurrent(p1), CUDA_SUCCESS);
  CHECK(current() == p1);
  CUdevice d = -1;
  CHECK_CU(cuCtxGetDevice(&d), CUDA_SUCCESS);
  CHECK_EQ(d, dev);
  unsigned ctx_flags = 0;
  CHECK_CU(cuCtxGetFlags(&ctx_flags), CUDA_SUCCESS);
  CHECK_EQ(sched(ctx_flags), static_cast<unsigned>(CU_CTX_SCHED_BLOCKING_SYNC));
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);

  // Flags of an active primary context can be changed (CUDA >= 11).
  CHECK_CU(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_SPIN), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(sched(flags), static_cast<unsigned>(CU_CTX_SCHED_SPIN));

  // Two references: the first release leaves it active.
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(active, 1);
  // "this method does not pop the context from stack in any circumstances".
  CHECK(current() == p1);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  // The last release resets it.
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(active, 0);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);

  dt::section("primary context reset");
  CHECK_CU(cuDevicePrimaryCtxReset(dev), CUDA_SUCCESS);  // not active: nothing to do
  CHECK_CU(cuDevicePrimaryCtxRetain(&p1, dev), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(p1), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&p, 1 << 20), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxReset(dev), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxReset(count), CUDA_ERROR_INVALID_DEVICE);
  // "Resetting the primary context does not release it": the retain above is
  // still owed one release, and only one.
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, &active), CUDA_SUCCESS);
  CHECK_EQ(active, 0);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_CU(cuDevicePrimaryCtxSetFlags(dev, 0), CUDA_SUCCESS);
}

void check_create_destroy(CUdevice dev, int count) {
  dt::section("cuCtxCreate / cuCtxDestroy");
  CUcontext a = nullptr, b = nullptr, c = nullptr;
  CHECK_CU(cuCtxCreate(&c, nullptr, 0, count), CUDA_ERROR_INVALID_DEVICE);
  CHECK(current() == nullptr);

  REQUIRE_CU(cuCtxCreate(&a, nullptr, 0, dev), CUDA_SUCCESS);
  CHECK(a != nullptr);
  CHECK(current() == a);  // created contexts are pushed
  CUctxCreateParams params;
  std::memset(&params, 0, sizeof params);
  REQUIRE_CU(cuCtxCreate(&b, &params, CU_CTX_SCHED_BLOCKING_SYNC, dev), CUDA_SUCCESS);
  CHECK(b != nullptr && b != a);
  CHECK(current() == b);
  unsigned flags = 0;
  CHECK_CU(cuCtxGetFlags(&flags), CUDA_SUCCESS);
  CHECK_EQ(sched(flags), static_cast<unsigned>(CU_CTX_SCHED_BLOCKING_SYNC));
  CHECK_CU(cuCtxSetFlags(CU_CTX_SCHED_YIELD), CUDA_SUCCESS);
  CHECK_CU(cuCtxGetFlags(&flags), CUDA_SUCCESS);
  CHECK_EQ(sched(flags), static_cast<unsigned>(CU_CTX_SCHED_YIELD));

  unsigned long long id_a = 0, id_b = 0, id_cur = 0;
  CHECK_CU(cuCtxGetId(a, &id_a), CUDA_SUCCESS);
  CHECK_CU(cuCtxGetId(b, &id_b), CUDA_SUCCESS);
  CHECK_CU(cuCtxGetId(nullptr, &id_cur), CUDA_SUCCESS);  // NULL: the current one
  CHECK(id_a != id_b);
  CHECK_EQ(id_cur, id_b);
  unsigned api = 0;
  CHECK_CU(cuCtxGetApiVersion(a, &api), CUDA_SUCCESS);
  CHECK(api >= 3020);
  CUdevice d = -1;
  CHECK_CU(cuCtxGetDevice(&d), CUDA_SUCCESS);
  CHECK_EQ(d, dev);

  dt::section("context stack");
  CUcontext popped = nullptr;
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
  CHECK(popped == b);
  CHECK(current() == a);
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
  CHECK(popped == a);
  CHECK(current() == nullptr);
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);

  CHECK_CU(cuCtxPushCurrent(a), CUDA_SUCCESS);
  CHECK_CU(cuCtxPushCurrent(b), CUDA_SUCCESS);
  CHECK(current() == b);
  // cuCtxSetCurrent replaces the top of the stack.
  CHECK_CU(cuCtxSetCurrent(a), CUDA_SUCCESS);
  CHECK(current() == a);
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
  CHECK(popped == a);
  CHECK(current() == a);  // the bottom entry, pushed first
  // cuCtxSetCurrent(NULL) pops the top.
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK(current() == nullptr);
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);

  dt::section("destroying the current context pops it");
  CHECK_CU(cuCtxPushCurrent(a), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxCreate(&c, nullptr, 0, dev), CUDA_SUCCESS);
  CHECK(current() == c);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 1 << 20), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(c), CUDA_SUCCESS);  // frees p with it
  CHECK(current() == a);
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
  CHECK(popped == a);
  REQUIRE_CU(cuCtxCreate(&c, nullptr, 0, dev), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(c), CUDA_SUCCESS);
  CHECK(current() == nullptr);
  // With the destroyed context popped, nothing is current any more.
  CHECK_CU(cuMemAlloc(&p, 1024), CUDA_ERROR_INVALID_CONTEXT);

  // Destroying contexts that are not current.
  CHECK_CU(cuCtxDestroy(a), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(b), CUDA_SUCCESS);
  CHECK(current() == nullptr);
  CHECK_CU_ANY(cuCtxDestroy(nullptr), CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_VALUE);
}

void check_destroy_releases_memory(CUdevice dev) {
  dt::section("cuCtxDestroy releases the context's memory");
  CUcontext primary = nullptr, c = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&primary, dev), CUDA_SUCCESS);
  const size_t bytes = size_t{256} << 20;
  REQUIRE_CU(cuCtxCreate(&c, nullptr, 0, dev), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, bytes), CUDA_SUCCESS);
  size_t free_during = 0, total = 0;
  CHECK_CU(cuMemGetInfo(&free_during, &total), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(c), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(primary), CUDA_SUCCESS);
  size_t free_after = 0;
  CHECK_CU(cuMemGetInfo(&free_after, &total), CUDA_SUCCESS);
  CHECK_MSG(free_after >= free_during + bytes,
            std::to_string(free_during) + " free while allocated, " + std::to_string(free_after) +
                " after destroy");
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
}

void check_threads(CUdevice dev) {
  dt::section("the context stack is per thread");
  CUcontext a = nullptr;
  REQUIRE_CU(cuCtxCreate(&a, nullptr, 0, dev), CUDA_SUCCESS);
  std::thread t([&] {
    CHECK(current() == nullptr);  // a new thread starts with an empty stack
    CHECK_CU(cuCtxSetCurrent(a), CUDA_SUCCESS);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  });
  t.join();
  CHECK(current() == a);  // untouched by the other thread
  CHECK_CU(cuCtxDestroy(a), CUDA_SUCCESS);
  CHECK(current() == nullptr);
}

// [destroyed handle] A context destroyed while current to another thread:
// "attempting to access ctx from those threads will result in the error
// CUDA_ERROR_CONTEXT_IS_DESTROYED". Drop this section if a real driver crashes.
void check_destroyed_elsewhere(CUdevice dev) {
  if (dt::skip_destroyed_handles()) return;
  dt::section("[destroyed handle] context destroyed while current to another thread");
  CUcontext e = nullptr;
  REQUIRE_CU(cuCtxCreate(&e, nullptr, 0, dev), CUDA_SUCCESS);
  CUcontext popped = nullptr;
  CHECK_CU(cuCtxPopCurrent(&popped), CUDA_SUCCESS);
  std::atomic<int> stage{0};
  std::thread t([&] {
    CHECK_CU(cuCtxSetCurrent(e), CUDA_SUCCESS);
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
    CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 4096), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  });
  while (stage.load() != 1) std::this_thread::yield();
  CHECK_CU(cuCtxDestroy(e), CUDA_SUCCESS);
  stage = 2;
  t.join();
}

// NULL output pointers, last in the program: the real driver dereferences
// some without checking (cuGetErrorName, cuGetProcAddress crash), so a crash
// here loses nothing else.
void check_null_outputs(CUdevice dev) {
  dt::section("NULL output pointers");
  unsigned flags = 0;
  int active = 0;
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, nullptr, &active), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDevicePrimaryCtxGetState(dev, &flags, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDevicePrimaryCtxRetain(nullptr, dev), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuCtxCreate(nullptr, nullptr, 0, dev), CUDA_ERROR_INVALID_VALUE);
  CUcontext c = nullptr;
  REQUIRE_CU(cuCtxCreate(&c, nullptr, 0, dev), CUDA_SUCCESS);
  CHECK_CU(cuCtxGetDevice(nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuCtxDestroy(c), CUDA_SUCCESS);
}

}  // namespace

int main() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  int count = 0;
  REQUIRE_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  CUdevice dev = 0;
  REQUIRE_CU(cuDeviceGet(&dev, 0), CUDA_SUCCESS);

  check_no_current_context();
  check_primary(dev, count);
  check_no_current_context();
  check_create_destroy(dev, count);
  check_destroy_releases_memory(dev);
  check_threads(dev);
  check_destroyed_elsewhere(dev);
  check_null_outputs(dev);
  return dt::finish();
}
