// SIM ONLY. CUDA_VISIBLE_DEVICES over GPUPOOL_SIM_DEVICES, as the driver
// applies it: the listed devices, in that order, renumbered from 0; the list
// ends at the first entry that is not a valid, unrepeated index; "" shows
// none. A renumbered device is still the same "hardware": its PCI bus id (the
// sim's is physical index + 1) and UUID follow it.
// Usage: test_sim_visible <physical indices, e.g. 2,0> | NO_DEVICE
//   (run by ctest with GPUPOOL_SIM_DEVICES and CUDA_VISIBLE_DEVICES set).
#include <sstream>
#include <string>
#include <vector>

#include "driver_test.h"

namespace {

std::vector<int> parse_expected(const std::string& text) {
  std::vector<int> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) out.push_back(std::stoi(item));
  return out;
}

std::string uuid_of(CUdevice dev) {
  CUuuid u{};
  CHECK_CU(cuDeviceGetUuid(&u, dev), CUDA_SUCCESS);
  return std::string(u.bytes, sizeof u.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  REQUIRE(argc == 2);
  std::string want = argv[1];
  if (want == "NO_DEVICE") {
    dt::section("no visible device");
    CHECK_CU(cuInit(0), CUDA_ERROR_NO_DEVICE);
    return dt::finish();
  }
  std::vector<int> physical = parse_expected(want);

  dt::section("the visible devices, renumbered");
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  int count = -1;
  CHECK_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  CHECK_EQ(count, static_cast<int>(physical.size()));
  CUdevice dev = 0;
  CHECK_CU(cuDeviceGet(&dev, static_cast<int>(physical.size())), CUDA_ERROR_INVALID_DEVICE);

  dt::section("each keeps its identity");
  std::vector<std::string> uuids;
  for (int i = 0; i < static_cast<int>(physical.size()) && i < count; ++i) {
    int bus = -1;
    CHECK_CU(cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i), CUDA_SUCCESS);
    CHECK_EQ(bus, physical[i] + 1);
    char id[32] = {0};
    CHECK_CU(cuDeviceGetPCIBusId(id, sizeof id, i), CUDA_SUCCESS);
    CUdevice back = -1;
    CHECK_CU(cuDeviceGetByPCIBusId(&back, id), CUDA_SUCCESS);
    CHECK_EQ(back, i);
    uuids.push_back(uuid_of(i));
    for (int j = 0; j < i; ++j) CHECK(uuids[j] != uuids[i]);
  }

  dt::section("each has its own memory and runs work");
  for (int i = 0; i < count; ++i) {
    CUcontext ctx = nullptr;
    REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, i), CUDA_SUCCESS);
    REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 1 << 20), CUDA_SUCCESS);
    CHECK_CU(cuMemsetD8(p, 7, 1 << 20), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
    CHECK_CU(cuDevicePrimaryCtxRelease(i), CUDA_SUCCESS);
  }
  return dt::finish();
}
