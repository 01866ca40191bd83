// test_async_errors: faults of asynchronous device work, as a CUDA program sees them.
//
// A kernel that touches memory outside any allocation launches successfully
// (the launch is asynchronous); the fault surfaces at the next synchronising
// call as CUDA_ERROR_ILLEGAL_ADDRESS and is sticky: every later call in that
// context returns it. It is unrecoverable for the process ("the process must be
// terminated and relaunched"): on an H100 (driver 580.159) resetting the primary
// context succeeded but retaining it again failed with the same error.
// Runs in its own process because it deliberately poisons it.
#include "driver_test.h"

namespace {

void check_sticky_fault() {
  dt::section("illegal address in a kernel");
  CUdevice dev = dt::init_primary();
  CUmodule mod = dt::load_kernel_module("saxpy");
  CUfunction saxpy = dt::get_function(mod, "saxpy");
  const int n = 1 << 16;
  CUdeviceptr x = 0;
  REQUIRE_CU(cuMemAlloc(&x, n * sizeof(float)), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(x, 0, n), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);

  // A small non-null address: never part of a device allocation.
  const CUdeviceptr bogus = 0x1000;
  CHECK_CU(dt::launch_saxpy(saxpy, nullptr, n, 2.0f, x, bogus), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);

  dt::section("the error is sticky");
  CUdeviceptr y = 0;
  CHECK_CU(cuMemAlloc(&y, 4096), CUDA_ERROR_ILLEGAL_ADDRESS);
  CHECK_CU(cuStreamQuery(nullptr), CUDA_ERROR_ILLEGAL_ADDRESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
  CHECK_CU(dt::launch_saxpy(saxpy, nullptr, n, 2.0f, x, x), CUDA_ERROR_ILLEGAL_ADDRESS);

  dt::section("the process stays poisoned after a primary reset");
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxReset(dev), CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_ERROR_ILLEGAL_ADDRESS);
  // The reference taken by init_primary is still held (reset does not release it).
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
}

}  // namespace

int main() {
  check_sticky_fault();
  return dt::finish();
}
