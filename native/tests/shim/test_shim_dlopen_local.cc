// The JCuda / cudart case in C: the program does not link libcuda.so.1; it
// opens the driver at run time with RTLD_LOCAL, so the driver is in a local
// scope that dlsym(RTLD_NEXT) from the shim cannot see, and reaches every
// entry point through dlsym on that handle. The quota must hold and
// cuMemGetInfo/cuDeviceTotalMem must show it.
//
// Only CHECK/CHECK_EQ of driver_test.h are used: CHECK_CU would call
// cuGetErrorName, which this program deliberately does not link.
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include <dlfcn.h>

#include "shim_test.h"

namespace {

template <typename F>
F need(void* h, const char* name) {
  auto f = reinterpret_cast<F>(dlsym(h, name));
  if (!f) dt::abort_test(__FILE__, __LINE__, name);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 16 * st::kMiB);

  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) dt::abort_test(__FILE__, __LINE__, dlerror());
  auto init = need<CUresult (*)(unsigned)>(h, "cuInit");
  auto retain = need<CUresult (*)(CUcontext*, CUdevice)>(h, "cuDevicePrimaryCtxRetain");
  auto release = need<CUresult (*)(CUdevice)>(h, "cuDevicePrimaryCtxRelease");
  auto set_current = need<CUresult (*)(CUcontext)>(h, "cuCtxSetCurrent");
  auto alloc = need<CUresult (*)(CUdeviceptr*, size_t)>(h, "cuMemAlloc_v2");
  auto mem_free = need<CUresult (*)(CUdeviceptr)>(h, "cuMemFree_v2");
  auto info = need<CUresult (*)(size_t*, size_t*)>(h, "cuMemGetInfo_v2");
  auto total_mem = need<CUresult (*)(size_t*, CUdevice)>(h, "cuDeviceTotalMem_v2");
  auto proc = need<CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*)>(
      h, "cuGetProcAddress_v2");

  dt::section("driver opened RTLD_LOCAL, entry points by dlsym on its handle");
  REQUIRE(init(0) == CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE(retain(&ctx, 0) == CUDA_SUCCESS);
  REQUIRE(set_current(ctx) == CUDA_SUCCESS);

  size_t free_b = 0, total = 0, dev_total = 0;
  CHECK_EQ(info(&free_b, &total), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  CHECK_EQ(free_b, quota);
  CHECK_EQ(total_mem(&dev_total, 0), CUDA_SUCCESS);
  CHECK_EQ(dev_total, quota);

  CUdeviceptr p = 0, q = 0;
  CHECK_EQ(alloc(&p, quota + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_EQ(alloc(&p, quota), CUDA_SUCCESS);
  CHECK_EQ(alloc(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_EQ(info(&free_b, &total), CUDA_SUCCESS);
  CHECK_EQ(free_b, size_t{0});
  CHECK_EQ(mem_free(p), CUDA_SUCCESS);

  dt::section("cuGetProcAddress_v2 reached through the local handle");
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CHECK_EQ(proc("cuMemAlloc", &fn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  CHECK(fn != nullptr);
  if (fn) {
    auto alloc2 = reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(fn);
    CHECK_EQ(alloc2(&p, quota + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_EQ(alloc2(&p, quota), CUDA_SUCCESS);
    CHECK_EQ(alloc(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_EQ(mem_free(p), CUDA_SUCCESS);
  }

  CHECK_EQ(set_current(nullptr), CUDA_SUCCESS);
  CHECK_EQ(release(0), CUDA_SUCCESS);
  return dt::finish();
}
