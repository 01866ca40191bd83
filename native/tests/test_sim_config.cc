// SIM ONLY. The simulated driver's configuration, run by ctest with
//   GPUPOOL_SIM_DEVICES=3 GPUPOOL_SIM_MEMORY=1GiB GPUPOOL_SIM_NAME="gpupool test GPU"
// Device count, names and capacities follow the environment; capacity is
// enforced per device for every allocation path; each device runs its own
// work; and a kernel the sim has no implementation for is an error, never a
// silent success.
#include <string>
#include <vector>

#include "driver_test.h"

namespace {

const size_t kMiB = size_t{1} << 20;
const size_t kGiB = size_t{1} << 30;

// A well-formed PTX kernel the sim does not implement.
const char kUnknownKernelPtx[] = R"(
.version 8.0
.target sm_75
.address_size 64

.visible .entry mystery_kernel(.param .u64 p)
{
  ret;
}
)";

std::string expected_name() {
  const char* v = std::getenv("GPUPOOL_SIM_NAME");
  return v ? v : "";
}

CUcontext retain(int ordinal) {
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, ordinal), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  return ctx;
}

void check_devices() {
  dt::section("devices follow the environment");
  int count = 0;
  CHECK_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  CHECK_EQ(count, 3);
  CUdevice d = 0;
  CHECK_CU(cuDeviceGet(&d, 3), CUDA_ERROR_INVALID_DEVICE);
  for (int i = 0; i < count; ++i) {
    char name[256] = {0};
    CHECK_CU(cuDeviceGetName(name, sizeof name, i), CUDA_SUCCESS);
    CHECK_EQ(std::string(name), expected_name());
    size_t total = 0;
    CHECK_CU(cuDeviceTotalMem(&total, i), CUDA_SUCCESS);
    CHECK_EQ(total, kGiB);
  }
}

void check_capacity() {
  dt::section("capacity is enforced per device");
  CUcontext c0 = retain(0);
  size_t free0 = 0, total = 0;
  CHECK_CU(cuMemGetInfo(&free0, &total), CUDA_SUCCESS);
  CHECK_EQ(total, kGiB);
  CHECK_EQ(free0, kGiB);  // nothing allocated yet

  CUdeviceptr big = 0, more = 0, small = 0;
  CHECK_CU(cuMemAlloc(&big, 768 * kMiB), CUDA_SUCCESS);
  size_t free1 = 0;
  CHECK_CU(cuMemGetInfo(&free1, &total), CUDA_SUCCESS);
  CHECK(free1 <= kGiB - 768 * kMiB && free1 >= kGiB - 770 * kMiB);
  CHECK_CU(cuMemAlloc(&more, 512 * kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&more, 16 * kGiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&small, 200 * kMiB), CUDA_SUCCESS);
  size_t pitch = 0;
  CHECK_CU(cuMemAllocPitch(&more, &pitch, 64 * kMiB, 2, 4), CUDA_ERROR_OUT_OF_MEMORY);

  // Page-locked host memory is not device memory.
  void* host = nullptr;
  CHECK_CU(cuMemAllocHost(&host, 128 * kMiB), CUDA_SUCCESS);
  size_t free2 = 0;
  CHECK_CU(cuMemGetInfo(&free2, &total), CUDA_SUCCESS);
  CHECK(free2 <= free1 - 200 * kMiB);
  CHECK_CU(cuMemFreeHost(host), CUDA_SUCCESS);

  // Another device has its own capacity.
  CUcontext c1 = retain(1);
  CUdeviceptr other = 0;
  CHECK_CU(cuMemAlloc(&other, 900 * kMiB), CUDA_SUCCESS);
  int ordinal = -1;
  CHECK_CU(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, other),
           CUDA_SUCCESS);
  CHECK_EQ(ordinal, 1);
  CHECK_CU(cuMemFree(other), CUDA_SUCCESS);

  // Freeing gives the capacity back.
  CHECK_CU(cuCtxSetCurrent(c0), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(big), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&more, 512 * kMiB), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(more), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(small), CUDA_SUCCESS);
  size_t free3 = 0;
  CHECK_CU(cuMemGetInfo(&free3, &total), CUDA_SUCCESS);
  CHECK_EQ(free3, kGiB);
  (void)c1;
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(1), CUDA_SUCCESS);
}

void check_vmm_capacity() {
  dt::section("VMM allocations count against the same capacity");
  retain(2);
  CUmemAllocationProp prop;
  std::memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 2;
  CUmemGenericAllocationHandle h = 0, h2 = 0;
  CHECK_CU(cuMemCreate(&h, kGiB, &prop, 0), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 2 * kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemCreate(&h2, 2 * kMiB, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&p, 2 * kMiB), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(2), CUDA_SUCCESS);
}

void check_work_on_another_device() {
  dt::section("work on device 2 through a created context");
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuCtxCreate(&ctx, nullptr, 0, 2), CUDA_SUCCESS);
  CUdevice d = -1;
  CHECK_CU(cuCtxGetDevice(&d), CUDA_SUCCESS);
  CHECK_EQ(d, 2);
  std::string ptx = dt::kernel_ptx("fill_u32");
  REQUIRE(!ptx.empty());
  CUmodule mod = nullptr;
  REQUIRE_CU(cuModuleLoadData(&mod, ptx.c_str()), CUDA_SUCCESS);
  CUfunction fill = dt::get_function(mod, "fill_u32");
  const unsigned long long n = 1000;
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, n * 4), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(fill, nullptr, p, 77u, n), CUDA_SUCCESS);
  std::vector<uint32_t> h(n);
  CHECK_CU(cuMemcpyDtoH(h.data(), p, n * 4), CUDA_SUCCESS);
  CHECK(h[0] == 77u && h[n - 1] == 77u);
  CHECK_CU(cuCtxDestroy(ctx), CUDA_SUCCESS);
}

void check_unknown_kernel() {
  dt::section("a kernel the sim does not implement is an error");
  retain(0);
  CUmodule mod = nullptr;
  CUresult load = cuModuleLoadData(&mod, kUnknownKernelPtx);
  dt::info("loading a module with an unknown kernel -> %s", dt::result_name(load).c_str());
  CUresult get = CUDA_ERROR_UNKNOWN, launch = CUDA_ERROR_UNKNOWN, sync = CUDA_ERROR_UNKNOWN;
  if (load == CUDA_SUCCESS) {
    CUfunction f = nullptr;
    get = cuModuleGetFunction(&f, mod, "mystery_kernel");
    dt::info("cuModuleGetFunction -> %s", dt::result_name(get).c_str());
    if (get == CUDA_SUCCESS) {
      CUdeviceptr arg = 0;
      void* args[] = {&arg};
      launch = cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr);
      dt::info("cuLaunchKernel -> %s", dt::result_name(launch).c_str());
      if (launch == CUDA_SUCCESS) {
        sync = cuCtxSynchronize();
        dt::info("cuCtxSynchronize -> %s", dt::result_name(sync).c_str());
      }
    }
  }
  CHECK_MSG(load != CUDA_SUCCESS || get != CUDA_SUCCESS || launch != CUDA_SUCCESS ||
                sync != CUDA_SUCCESS,
            "an unknown kernel ran as a silent success");
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
}

}  // namespace

int main() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  check_devices();
  check_capacity();
  check_vmm_capacity();
  check_work_on_another_device();
  check_unknown_kernel();  // last: it may leave device 0's context with a sticky error
  return dt::finish();
}
