// SIM ONLY. A configuration the sim cannot honour makes cuInit fail, so a
// misconfigured test run stops at once instead of running on guessed values:
//   GPUPOOL_SIM_MEMORY=lots, GPUPOOL_SIM_DEVICES=abc  -> CUDA_ERROR_INVALID_VALUE
//   GPUPOOL_SIM_DEVICES=0                             -> CUDA_ERROR_NO_DEVICE,
// as the real driver's cuInit does on a machine without GPUs.
// Usage: test_sim_init INVALID_VALUE|NO_DEVICE  (the expected cuInit result).
#include <string>

#include "driver_test.h"

int main(int argc, char** argv) {
  REQUIRE(argc == 2);
  std::string want = argv[1];
  CUresult expected = want == "NO_DEVICE" ? CUDA_ERROR_NO_DEVICE : CUDA_ERROR_INVALID_VALUE;
  dt::section("cuInit with a bad configuration");
  CHECK_CU(cuInit(0), expected);
  CHECK_CU(cuInit(0), expected);  // and stays failed
  int count = -1;
  if (expected == CUDA_ERROR_INVALID_VALUE) {
    CHECK_CU(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
  }
  // Version queries need no initialisation.
  int version = 0;
  CHECK_CU(cuDriverGetVersion(&version), CUDA_SUCCESS);
  return dt::finish();
}
