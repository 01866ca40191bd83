// Device enumeration and properties: what frameworks read before they create a
// context (cudart's cudaGetDeviceProperties queries every attribute).
#include <cstdio>
#include <set>
#include <vector>

#include "driver_test.h"

namespace {

int attribute(CUdevice dev, CUdevice_attribute attr) {
  int v = -12345;
  CHECK_CU(cuDeviceGetAttribute(&v, attr, dev), CUDA_SUCCESS);
  return v;
}

void check_enumeration(int count) {
  dt::section("enumeration");
  CHECK(count >= 1);
  for (int i = 0; i < count; ++i) {
    CUdevice d = -1;
    CHECK_CU(cuDeviceGet(&d, i), CUDA_SUCCESS);
  }
  CUdevice d = -1;
  // Ordinals outside [0, count-1] do not name a device.
  CHECK_CU(cuDeviceGet(&d, count), CUDA_ERROR_INVALID_DEVICE);
  CHECK_CU(cuDeviceGet(&d, count + 100), CUDA_ERROR_INVALID_DEVICE);
  CHECK_CU(cuDeviceGet(&d, -1), CUDA_ERROR_INVALID_DEVICE);
}

void check_name(CUdevice dev, int count) {
  dt::section("name");
  char name[256];
  std::memset(name, 0x7f, sizeof name);
  CHECK_CU(cuDeviceGetName(name, sizeof name, dev), CUDA_SUCCESS);
  size_t len = strnlen(name, sizeof name);
  CHECK(len > 0 && len < sizeof name);
  dt::info("device %d: %s", static_cast<int>(dev), name);

  // "name is shortened to the specified len".
  char shortname[5];
  std::memset(shortname, 0x7f, sizeof shortname);
  CHECK_CU(cuDeviceGetName(shortname, sizeof shortname, dev), CUDA_SUCCESS);
  size_t slen = strnlen(shortname, sizeof shortname);
  CHECK_MSG(slen < sizeof shortname, "not NUL-terminated within len");
  CHECK(slen == std::min(len, sizeof shortname - 1));
  CHECK(std::strncmp(shortname, name, slen) == 0);

  CHECK_CU(cuDeviceGetName(name, sizeof name, count), CUDA_ERROR_INVALID_DEVICE);
}

void check_uuid_and_memory(CUdevice dev, int count) {
  dt::section("uuid, total memory");
  CUuuid uuid;
  std::memset(&uuid, 0, sizeof uuid);
  CHECK_CU(cuDeviceGetUuid(&uuid, dev), CUDA_SUCCESS);
  bool nonzero = false;
  for (char b : uuid.bytes) nonzero |= b != 0;
  CHECK_MSG(nonzero, "UUID is all zero");
  CHECK_CU(cuDeviceGetUuid(&uuid, count), CUDA_ERROR_INVALID_DEVICE);

  size_t total = 0;
  CHECK_CU(cuDeviceTotalMem(&total, dev), CUDA_SUCCESS);
  CHECK(total >= (size_t{1} << 30));
  dt::info("total memory %zu bytes", total);
  CHECK_CU(cuDeviceTotalMem(&total, count), CUDA_ERROR_INVALID_DEVICE);
}

void check_attributes(CUdevice dev, int count) {
  dt::section("attributes");
  // Every attribute cuda.h 13.0 defines is answered (cudart reads them all).
  for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; ++a) {
    int v = 0;
    CUresult r = cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(a), dev);
    CHECK_MSG(r == CUDA_SUCCESS,
              "attribute " + std::to_string(a) + " -> " + dt::result_name(r));
  }

  int major = attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  int minor = attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  dt::info("compute capability %d.%d", major, minor);
  CHECK(major >= 5);  // CUDA 13 supports Maxwell+ at the oldest
  CHECK(minor >= 0 && minor <= 9);
  CHECK(attribute(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) >= 1);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_WARP_SIZE), 32);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK), 1024);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X), 1024);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y), 1024);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z), 64);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X), 2147483647);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y), 65535);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z), 65535);
  CHECK(attribute(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) >= 48 * 1024);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY), 64 * 1024);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING), 1);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED), 1);
  // A local device maps host memory and has managed memory; a remote one cannot.
  const int local = dt::remote_device() ? 0 : 1;
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY), local);
  CHECK_EQ(attribute(dev, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY), local);
  CHECK(attribute(dev, CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT) >= 1);

  int v = 0;
  // Values past the enumeration are not attributes.
  CHECK_CU(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, dev), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(100000), dev),
           CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, count),
           CUDA_ERROR_INVALID_DEVICE);
}

void check_pci(CUdevice dev, int count) {
  dt::section("PCI bus id");
  char bus_id[64];
  std::memset(bus_id, 0, sizeof bus_id);
  CHECK_CU(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, dev), CUDA_SUCCESS);
  dt::info("PCI bus id %s", bus_id);
  // [domain]:[bus]:[device].[function], all hexadecimal.
  unsigned domain = 0, bus = 0, device = 0, function = 0;
  char tail = 0;
  int fields = std::sscanf(bus_id, "%x:%x:%x.%x%c", &domain, &bus, &device, &function, &tail);
  CHECK_MSG(fields == 4, std::string("unparsable '") + bus_id + "'");
  CHECK_EQ(domain, static_cast<unsigned>(attribute(dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)));
  CHECK_EQ(bus, static_cast<unsigned>(attribute(dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)));
  CHECK_EQ(device, static_cast<unsigned>(attribute(dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)));

  // "pciBusId should be large enough to store 13 characters including the
  // NULL-terminator": the id fits in 13 bytes, untruncated.
  char small[13];
  std::memset(small, 0x7f, sizeof small);
  CHECK_CU(cuDeviceGetPCIBusId(small, sizeof small, dev), CUDA_SUCCESS);
  CHECK_MSG(strnlen(small, sizeof small) < sizeof small && std::strcmp(small, bus_id) == 0,
            std::string("13-byte buffer holds '") + std::string(small, strnlen(small, 13)) +
                "', full id '" + bus_id + "'");

  CUdevice back = -1;
  CHECK_CU(cuDeviceGetByPCIBusId(&back, bus_id), CUDA_SUCCESS);
  CHECK_EQ(back, dev);

  CHECK_CU(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, count), CUDA_ERROR_INVALID_DEVICE);
}

void check_distinct(int count) {
  if (count < 2) return;
  dt::section("devices are distinct");
  std::set<std::string> uuids, buses;
  for (int i = 0; i < count; ++i) {
    CUuuid u;
    CHECK_CU(cuDeviceGetUuid(&u, i), CUDA_SUCCESS);
    uuids.insert(std::string(u.bytes, sizeof u.bytes));
    char bus_id[64] = {0};
    CHECK_CU(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, i), CUDA_SUCCESS);
    buses.insert(bus_id);
  }
  CHECK_EQ(uuids.size(), static_cast<size_t>(count));
  CHECK_EQ(buses.size(), static_cast<size_t>(count));
}

// NULL output pointers, last in the program: the real driver dereferences
// some without checking (cuGetErrorName, cuGetProcAddress crash), so a crash
// here loses nothing else.
void check_null_outputs(CUdevice dev) {
  dt::section("NULL output pointers");
  CHECK_CU(cuDeviceGetCount(nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGet(nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetName(nullptr, 64, dev), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetUuid(nullptr, dev), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceTotalMem(nullptr, dev), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetAttribute(nullptr, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev),
           CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuDeviceGetPCIBusId(nullptr, 64, dev), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace

int main() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  int count = 0;
  REQUIRE_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  REQUIRE(count >= 1);
  check_enumeration(count);

  // Device queries need no context: none is current here.
  CUcontext current = nullptr;
  CHECK_CU(cuCtxGetCurrent(&current), CUDA_SUCCESS);
  CHECK(current == nullptr);
  for (int i = 0; i < count; ++i) {
    CUdevice dev = -1;
    REQUIRE_CU(cuDeviceGet(&dev, i), CUDA_SUCCESS);
    check_name(dev, count);
    check_uuid_and_memory(dev, count);
    check_attributes(dev, count);
    check_pci(dev, count);
  }
  check_distinct(count);
  check_null_outputs(0);
  return dt::finish();
}
