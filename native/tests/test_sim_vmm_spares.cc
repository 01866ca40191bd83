// Sim only: physical memory released through the VMM API is kept as a spare
// memfd (native/sim/vmm.cc) and handed to the next cuMemCreate of the same size
// on the same device, so swapping does not pay fresh page faults at every
// slice. Checked from outside: the process's memfds, the device's free memory
// (spares are not in use), a reused allocation that maps and copies like a new
// one, and the bound: spares of a device never exceed its capacity.
//
// Run with GPUPOOL_SIM_MEMORY=1GiB (CMakeLists.txt).
#include <dirent.h>

#include <string>
#include <vector>

#include "driver_test.h"

namespace {

// The process's open memfds made by the simulator's cuMemCreate.
int sim_memfds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent* e = readdir(dir)) {
    char target[256] = {};
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t len = readlink(link.c_str(), target, sizeof target - 1);
    if (len > 0 && std::string(target, len).find("memfd:gpupool-sim-vmm") != std::string::npos) ++n;
  }
  closedir(dir);
  return n;
}

size_t free_memory() {
  size_t free_bytes = 0, total = 0;
  CHECK_CU(cuMemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  return free_bytes;
}

// Creates `size` bytes, maps them at `va` read/write, copies `fill` in and back; the handle.
CUmemGenericAllocationHandle create_and_use(CUdevice dev, CUdeviceptr va, size_t size, unsigned char fill) {
  CUmemAllocationProp prop = dt::device_prop(dev);
  CUmemGenericAllocationHandle h = 0;
  REQUIRE_CU(cuMemCreate(&h, size, &prop, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemMap(va, size, 0, h, 0), CUDA_SUCCESS);
  CUmemAccessDesc rw;
  std::memset(&rw, 0, sizeof rw);
  rw.location = prop.location;
  rw.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  REQUIRE_CU(cuMemSetAccess(va, size, &rw, 1), CUDA_SUCCESS);
  std::vector<unsigned char> in(size, fill), out(size, 0);
  CHECK_CU(cuMemcpyHtoD(va, in.data(), size), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(out.data(), va, size), CUDA_SUCCESS);
  CHECK(out == in);
  return h;
}

void unmap_and_release(CUdeviceptr va, size_t size, CUmemGenericAllocationHandle h) {
  CHECK_CU(cuMemUnmap(va, size), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  CUmemAllocationProp prop = dt::device_prop(dev);
  size_t gran = 0, total = 0;
  REQUIRE_CU(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
  REQUIRE_CU(cuDeviceTotalMem(&total, dev), CUDA_SUCCESS);
  REQUIRE(gran > 0 && total >= 8 * gran);
  const size_t small = 4 * gran, half = total / 2 / gran * gran;
  CUdeviceptr va = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, total, 0, 0, 0), CUDA_SUCCESS);
  const size_t free_before = free_memory();
  REQUIRE(sim_memfds() == 0);

  dt::section("a released allocation is kept, and not in use");
  CUmemGenericAllocationHandle h = create_and_use(dev, va, small, 0x11);
  CHECK_EQ(sim_memfds(), 1);
  unmap_and_release(va, small, h);
  CHECK_EQ(sim_memfds(), 1);
  CHECK_EQ(free_memory(), free_before);

  dt::section("the next allocation of that size takes it, and works as a new one");
  h = create_and_use(dev, va, small, 0x22);
  CHECK_EQ(sim_memfds(), 1);
  CHECK_EQ(free_memory(), free_before - small);
  dt::section("another size gets memory of its own");
  CUmemAllocationProp other = dt::device_prop(dev);
  CUmemGenericAllocationHandle h2 = 0;
  CHECK_CU(cuMemCreate(&h2, 2 * gran, &other, 0), CUDA_SUCCESS);
  CHECK_EQ(sim_memfds(), 2);
  CHECK_CU(cuMemRelease(h2), CUDA_SUCCESS);
  unmap_and_release(va, small, h);
  CHECK_EQ(sim_memfds(), 2);

  dt::section("spares never exceed the device's capacity");
  CUmemGenericAllocationHandle a = 0, b = 0;
  CHECK_CU(cuMemCreate(&a, half, &prop, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemCreate(&b, half, &prop, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(a), CUDA_SUCCESS);  // small + 2 gran + half: within the capacity
  CHECK_EQ(sim_memfds(), 4);
  CHECK_CU(cuMemRelease(b), CUDA_SUCCESS);  // + another half: beyond it, closed
  CHECK_EQ(sim_memfds(), 3);
  CHECK_EQ(free_memory(), free_before);

  CHECK_CU(cuMemAddressFree(va, total), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
