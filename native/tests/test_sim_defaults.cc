// SIM ONLY. A program that configures nothing gets the defaults: one device
// with 16 GiB. Device memory is committed only when touched: a 16 GiB
// allocation written on two pages does not make the process 16 GiB larger.
#include <unistd.h>

#include <fstream>

#include "driver_test.h"

namespace {

const size_t kGiB = size_t{1} << 30;

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

int main() {
  // Whatever the caller's environment holds, this program configures nothing.
  unsetenv("GPUPOOL_SIM_DEVICES");
  unsetenv("GPUPOOL_SIM_MEMORY");
  unsetenv("GPUPOOL_SIM_NAME");

  dt::section("defaults");
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  int count = 0;
  CHECK_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  CHECK_EQ(count, 1);
  size_t total = 0;
  CHECK_CU(cuDeviceTotalMem(&total, 0), CUDA_SUCCESS);
  CHECK_EQ(total, 16 * kGiB);
  char name[256] = {0};
  CHECK_CU(cuDeviceGetName(name, sizeof name, 0), CUDA_SUCCESS);
  CHECK(name[0] != 0);
  dt::info("default name: %s", name);

  CUdevice dev = dt::init_primary();
  size_t free_bytes = 0;
  CHECK_CU(cuMemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  CHECK_EQ(total, 16 * kGiB);
  CHECK_EQ(free_bytes, 16 * kGiB);

  dt::section("a 16 GiB allocation touched on two pages");
  size_t rss_before = resident_bytes();
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, 16 * kGiB), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(p + 8 * kGiB, 0xab, 4096), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(p + 16 * kGiB - 4096, 0x12345678u, 1024), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  unsigned char byte = 0;
  CHECK_CU(cuMemcpyDtoH(&byte, p + 8 * kGiB + 4095, 1), CUDA_SUCCESS);
  CHECK_EQ(byte, 0xab);
  size_t rss_after = resident_bytes();
  dt::info("resident: %zu MiB before, %zu MiB after", rss_before >> 20, rss_after >> 20);
  CHECK_MSG(rss_after < rss_before + 256 * (size_t{1} << 20),
            "RSS grew by " + std::to_string((rss_after - rss_before) >> 20) + " MiB");
  CUdeviceptr q = 0;
  CHECK_CU(cuMemAlloc(&q, 1), CUDA_ERROR_OUT_OF_MEMORY);  // the device is full
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, 1), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(q), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
