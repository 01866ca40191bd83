// cuGetProcAddress (cuGetProcAddress_v2 in CUDA 13), the way cudart, PyTorch
// and JAX reach the driver: lookups before cuInit (so this is its own
// process), calling what comes back, unknown symbols, insufficient versions,
// and the per-thread-default-stream variants.
#include <vector>

#include "driver_test.h"

namespace {

using InitFn = CUresult (*)(unsigned);
using VersionFn = CUresult (*)(int*);
using CountFn = CUresult (*)(int*);
using MemAllocFn = CUresult (*)(CUdeviceptr*, size_t);
using MemFreeFn = CUresult (*)(CUdeviceptr);
using StreamFn = CUresult (*)(CUstream);
using LaunchFn = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void**, void**);

// Looks `name` up and expects to find it.
void* lookup(const char* name, int version, cuuint64_t flags = CU_GET_PROC_ADDRESS_DEFAULT) {
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
  bool ok = CHECK_CU(cuGetProcAddress(name, &pfn, version, flags, &status), CUDA_SUCCESS);
  ok &= CHECK_MSG(pfn != nullptr, std::string(name) + " resolved to NULL");
  if (ok) CHECK_MSG(status == CU_GET_PROC_ADDRESS_SUCCESS, std::string(name) + " status");
  return pfn;
}

void check_before_init() {
  dt::section("lookups before cuInit");
  int version = 0;
  auto get_version = reinterpret_cast<VersionFn>(lookup("cuDriverGetVersion", CUDA_VERSION));
  if (get_version) {
    CHECK_CU(get_version(&version), CUDA_SUCCESS);
    CHECK(version >= 13000);
  }
  auto get_count = reinterpret_cast<CountFn>(lookup("cuDeviceGetCount", CUDA_VERSION));
  int count = -1;
  if (get_count) CHECK_CU(get_count(&count), CUDA_ERROR_NOT_INITIALIZED);
  auto init = reinterpret_cast<InitFn>(lookup("cuInit", CUDA_VERSION));
  REQUIRE(init != nullptr);
  REQUIRE_CU(init(0), CUDA_SUCCESS);
  if (get_count) {
    CHECK_CU(get_count(&count), CUDA_SUCCESS);
    CHECK(count >= 1);
  }
}

void check_framework_entry_points(int version) {
  dt::section("entry points frameworks look up");
  const char* names[] = {
      "cuInit", "cuDriverGetVersion", "cuGetErrorName", "cuGetErrorString", "cuGetProcAddress",
      "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName", "cuDeviceGetUuid", "cuDeviceTotalMem",
      "cuDeviceGetAttribute", "cuDeviceGetPCIBusId", "cuDevicePrimaryCtxRetain",
      "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxGetState", "cuDevicePrimaryCtxSetFlags",
      "cuDevicePrimaryCtxReset", "cuCtxCreate", "cuCtxDestroy", "cuCtxGetCurrent",
      "cuCtxSetCurrent", "cuCtxPushCurrent", "cuCtxPopCurrent", "cuCtxGetDevice",
      "cuCtxSynchronize", "cuMemAlloc", "cuMemFree", "cuMemGetInfo", "cuMemAllocHost",
      "cuMemFreeHost", "cuMemHostAlloc", "cuMemHostRegister", "cuMemHostUnregister",
      "cuMemAllocManaged", "cuMemAllocPitch", "cuMemcpy", "cuMemcpyAsync", "cuMemcpyHtoD",
      "cuMemcpyDtoH", "cuMemcpyDtoD", "cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync",
      "cuMemcpyDtoDAsync", "cuMemcpy2D", "cuMemcpy2DAsync", "cuMemsetD8", "cuMemsetD16",
      "cuMemsetD32", "cuMemsetD8Async", "cuMemsetD32Async", "cuMemGetAddressRange",
      "cuPointerGetAttribute", "cuPointerGetAttributes", "cuStreamCreate",
      "cuStreamCreateWithPriority", "cuStreamDestroy", "cuStreamSynchronize", "cuStreamQuery",
      "cuStreamWaitEvent", "cuEventCreate", "cuEventRecord", "cuEventQuery", "cuEventSynchronize",
      "cuEventElapsedTime", "cuEventDestroy", "cuModuleLoad", "cuModuleLoadData",
      "cuModuleLoadDataEx", "cuModuleGetFunction", "cuModuleGetGlobal", "cuModuleUnload",
      "cuLaunchKernel", "cuLaunchKernelEx", "cuFuncGetAttribute", "cuFuncSetAttribute",
      "cuFuncGetParamInfo", "cuMemAddressReserve", "cuMemAddressFree", "cuMemCreate",
      "cuMemRelease", "cuMemMap", "cuMemUnmap", "cuMemSetAccess", "cuMemGetAccess",
      "cuMemGetAllocationGranularity", "cuMemRetainAllocationHandle",
      "cuMemAllocAsync", "cuMemFreeAsync",
  };
  for (const char* name : names) lookup(name, version);
}

void check_call_through_pointer(int version) {
  dt::section("calling what comes back");
  auto mem_alloc = reinterpret_cast<MemAllocFn>(lookup("cuMemAlloc", version));
  auto mem_free = reinterpret_cast<MemFreeFn>(lookup("cuMemFree", version));
  if (!mem_alloc || !mem_free) return;
  CUdeviceptr p = 0;
  CHECK_CU(mem_alloc(&p, 1 << 20), CUDA_SUCCESS);
  CHECK(p != 0);
  size_t size = 0;
  CHECK_CU(cuMemGetAddressRange(nullptr, &size, p), CUDA_SUCCESS);  // the direct entry agrees
  CHECK(size >= (1u << 20));
  CHECK_CU(mem_alloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(mem_free(p), CUDA_SUCCESS);
}

void check_not_found(int driver_version) {
  dt::section("symbols that are not there");
  // "The API will return CUDA_SUCCESS and set the returned pfn to NULL if ...
  // the driver symbol is invalid" (so does an H100 with driver 580); the
  // status says why.
  void* pfn = reinterpret_cast<void*>(0x1);
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  CHECK_CU(cuGetProcAddress("cuNoSuchThing", &pfn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  CHECK(pfn == nullptr);
  CHECK_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  pfn = reinterpret_cast<void*>(0x1);
  CHECK_CU(cuGetProcAddress("cuNoSuchThing", &pfn, CUDA_VERSION, 0, nullptr), CUDA_SUCCESS);
  CHECK(pfn == nullptr);  // the status is optional
  // Only base names are symbols: "for the driver API cuMemAlloc_v2, symbol
  // would be cuMemAlloc".
  pfn = reinterpret_cast<void*>(0x1);
  status = CU_GET_PROC_ADDRESS_SUCCESS;
  CHECK_CU(cuGetProcAddress("cuMemAlloc_v2", &pfn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  CHECK(pfn == nullptr);
  CHECK_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);

  // cuMemGetAllocationGranularity appeared in CUDA 10.2.
  pfn = reinterpret_cast<void*>(0x1);
  status = CU_GET_PROC_ADDRESS_SUCCESS;
  CHECK_CU(cuGetProcAddress("cuMemGetAllocationGranularity", &pfn, 10000, 0, &status),
           CUDA_SUCCESS);
  CHECK(pfn == nullptr);
  CHECK_EQ(status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);

  // "If the specified CUDA version is greater than the driver version, the API
  // will return CUDA_ERROR_INVALID_VALUE."
  CHECK_CU(cuGetProcAddress("cuMemAlloc", &pfn, driver_version + 1000, 0, &status),
           CUDA_ERROR_INVALID_VALUE);
  // Flags other than the two search modes (observed on an H100).
  CHECK_CU(cuGetProcAddress("cuMemAlloc", &pfn, CUDA_VERSION, 4, &status),
           CUDA_ERROR_INVALID_VALUE);
  // Not checked: a NULL symbol or pfn crashes the real driver (SIGSEGV).
}

void check_versions() {
  dt::section("the ABI variant follows cudaVersion");
  // cuMemAlloc_v2 (64-bit sizes) came with CUDA 3.2: asking as CUDA 3.0 gets
  // the 32-bit cuMemAlloc, a different function.
  void* v1 = lookup("cuMemAlloc", 3000);
  void* v2 = lookup("cuMemAlloc", CUDA_VERSION);
  CHECK(v1 != nullptr && v2 != nullptr && v1 != v2);
  // cuCtxCreate: _v3 for CUDA 12.0 callers, _v4 (CUctxCreateParams) for 13.0.
  void* ctx_v3 = lookup("cuCtxCreate", 12000);
  void* ctx_v4 = lookup("cuCtxCreate", CUDA_VERSION);
  CHECK(ctx_v3 != nullptr && ctx_v4 != nullptr && ctx_v3 != ctx_v4);
}

void check_per_thread(int version) {
  dt::section("per-thread default stream variants");
  void* legacy_query = lookup("cuStreamQuery", version, CU_GET_PROC_ADDRESS_LEGACY_STREAM);
  void* ptsz_query =
      lookup("cuStreamQuery", version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  void* default_query = lookup("cuStreamQuery", version, CU_GET_PROC_ADDRESS_DEFAULT);
  CHECK(legacy_query != ptsz_query);
  CHECK(default_query == legacy_query);  // this program is not built per-thread
  CHECK(lookup("cuMemcpyHtoD", version, CU_GET_PROC_ADDRESS_LEGACY_STREAM) !=
        lookup("cuMemcpyHtoD", version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
  // "If a per-thread version is not found, the API will return the legacy version."
  CHECK(lookup("cuMemAlloc", version, CU_GET_PROC_ADDRESS_LEGACY_STREAM) ==
        lookup("cuMemAlloc", version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));

  // The per-thread launch with stream 0 goes to the per-thread stream.
  auto launch_ptsz = reinterpret_cast<LaunchFn>(
      lookup("cuLaunchKernel", version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
  auto query_ptsz = reinterpret_cast<StreamFn>(ptsz_query);
  auto sync_ptsz = reinterpret_cast<StreamFn>(
      lookup("cuStreamSynchronize", version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
  if (!launch_ptsz || !query_ptsz || !sync_ptsz) return;
  CUmodule mod = dt::load_kernel_module("spin");
  CUfunction spin = dt::get_function(mod, "spin");
  unsigned long long ns = 250ull * 1000 * 1000;
  void* args[] = {&ns};
  CHECK_CU(launch_ptsz(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_ERROR_NOT_READY);
  CHECK_CU(query_ptsz(nullptr), CUDA_ERROR_NOT_READY);
  CHECK_CU(sync_ptsz(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(mod), CUDA_SUCCESS);
}

}  // namespace

int main() {
  check_before_init();
  int driver_version = 0;
  REQUIRE_CU(cuDriverGetVersion(&driver_version), CUDA_SUCCESS);
  CUdevice dev = 0;
  REQUIRE_CU(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);

  check_framework_entry_points(CUDA_VERSION);
  check_call_through_pointer(CUDA_VERSION);
  check_not_found(driver_version);
  check_versions();
  check_per_thread(CUDA_VERSION);

  dt::release_primary(dev);
  return dt::finish();
}
