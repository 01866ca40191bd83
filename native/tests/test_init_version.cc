// cuInit and cuDriverGetVersion. The driver must not have been initialised
// yet, so this program does everything else only after the uninitialised
// checks, in a fresh process.
#include "driver_test.h"

int main() {
  dt::section("before cuInit");
  {
    // cuDriverGetVersion needs no cuInit.
    int version = -1;
    CHECK_CU(cuDriverGetVersion(&version), CUDA_SUCCESS);
    // These binaries use the CUDA 13.0 ABI (cuCtxCreate_v4 etc.).
    CHECK_MSG(version >= 13000, "driver version " + std::to_string(version));
    CHECK_CU(cuDriverGetVersion(nullptr), CUDA_ERROR_INVALID_VALUE);

    // "If cuInit() has not been called, any function from the driver API will
    // return CUDA_ERROR_NOT_INITIALIZED."
    int count = -1;
    CHECK_CU(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
    CUdevice dev = -1;
    CHECK_CU(cuDeviceGet(&dev, 0), CUDA_ERROR_NOT_INITIALIZED);
    char name[64];
    CHECK_CU(cuDeviceGetName(name, sizeof name, 0), CUDA_ERROR_NOT_INITIALIZED);
    CUcontext ctx = nullptr;
    CHECK_CU(cuCtxGetCurrent(&ctx), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_ERROR_NOT_INITIALIZED);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 1024), CUDA_ERROR_NOT_INITIALIZED);
    size_t free_bytes = 0, total_bytes = 0;
    CHECK_CU(cuMemGetInfo(&free_bytes, &total_bytes), CUDA_ERROR_NOT_INITIALIZED);

    // Error-name lookup is a pure table lookup and works uninitialised.
    const char* s = nullptr;
    CHECK_CU(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &s), CUDA_SUCCESS);
    CHECK(s != nullptr && std::strcmp(s, "CUDA_ERROR_INVALID_VALUE") == 0);
  }

  dt::section("cuInit with flags");
  {
    // "Currently, the Flags parameter must be 0."
    CHECK_CU(cuInit(1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuInit(0x80000000u), CUDA_ERROR_INVALID_VALUE);
    // A rejected cuInit initialises nothing.
    int count = -1;
    CHECK_CU(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
  }

  dt::section("cuInit(0)");
  {
    REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
    // "Repeated calls to cuInit() have no additional effect."
    CHECK_CU(cuInit(0), CUDA_SUCCESS);
    int count = -1;
    CHECK_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
    CHECK(count >= 1);
    CUcontext ctx = reinterpret_cast<CUcontext>(0x1);
    CHECK_CU(cuCtxGetCurrent(&ctx), CUDA_SUCCESS);
    CHECK(ctx == nullptr);  // nothing made current yet

    int v1 = 0, v2 = 0;
    CHECK_CU(cuDriverGetVersion(&v1), CUDA_SUCCESS);
    CHECK_CU(cuDriverGetVersion(&v2), CUDA_SUCCESS);
    CHECK_EQ(v1, v2);
    CHECK_CU(cuDriverGetVersion(nullptr), CUDA_ERROR_INVALID_VALUE);
    dt::info("driver version %d", v1);
  }
  return dt::finish();
}
