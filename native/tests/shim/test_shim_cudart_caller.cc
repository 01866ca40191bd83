// Driver entry points looked up from inside a library named like cudart
// (libcudart_gpupool_probe.so, see cudart_probe.cc): the shim must hook them as
// for any other caller. Only a library whose name starts with "libcuda.so" is
// the driver. Regression test for the PyTorch run on an H100 that was not held
// to its quota (bench/results/gpu-h100-shim/).
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include "shim_test.h"

extern "C" void* gpupool_probe_driver_symbol(const char* name);

namespace {

template <typename F>
F lookup(const char* name) {
  auto f = reinterpret_cast<F>(gpupool_probe_driver_symbol(name));
  if (!f) dt::abort_test(__FILE__, __LINE__, name);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 16 * st::kMiB);

  dt::section("dlsym on the driver's handle, called from libcudart*");
  auto init = lookup<CUresult (*)(unsigned)>("cuInit");
  auto retain = lookup<CUresult (*)(CUcontext*, CUdevice)>("cuDevicePrimaryCtxRetain");
  auto release = lookup<CUresult (*)(CUdevice)>("cuDevicePrimaryCtxRelease");
  auto set_current = lookup<CUresult (*)(CUcontext)>("cuCtxSetCurrent");
  auto mem_free = lookup<CUresult (*)(CUdeviceptr)>("cuMemFree_v2");
  auto alloc = lookup<CUresult (*)(CUdeviceptr*, size_t)>("cuMemAlloc_v2");
  auto info = lookup<CUresult (*)(size_t*, size_t*)>("cuMemGetInfo_v2");
  auto proc = lookup<CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*)>(
      "cuGetProcAddress_v2");

  REQUIRE(init(0) == CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE(retain(&ctx, 0) == CUDA_SUCCESS);
  REQUIRE(set_current(ctx) == CUDA_SUCCESS);

  size_t free_b = 0, total = 0;
  CHECK_EQ(info(&free_b, &total), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  CUdeviceptr p = 0;
  CHECK_EQ(alloc(&p, quota + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);

  dt::section("cuGetProcAddress_v2 found from libcudart*: what cudart does for every entry point");
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CHECK_EQ(proc("cuMemAlloc", &fn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  CHECK_EQ(status, CU_GET_PROC_ADDRESS_SUCCESS);
  REQUIRE(fn != nullptr);
  auto alloc_v2 = reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(fn);
  CHECK_EQ(alloc_v2(&p, quota + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_EQ(alloc_v2(&p, quota), CUDA_SUCCESS);
  CUdeviceptr q = 0;
  CHECK_EQ(alloc_v2(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  fn = nullptr;
  CHECK_EQ(proc("cuMemGetInfo", &fn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  REQUIRE(fn != nullptr);
  CHECK_EQ(reinterpret_cast<CUresult (*)(size_t*, size_t*)>(fn)(&free_b, &total), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  CHECK_EQ(free_b, size_t{0});
  CHECK_EQ(mem_free(p), CUDA_SUCCESS);

  CHECK_EQ(set_current(nullptr), CUDA_SUCCESS);
  CHECK_EQ(release(0), CUDA_SUCCESS);
  return dt::finish();
}
