// The virtual memory management API (what the shim's swapping and PyTorch's
// expandable segments use): granularity, reserve / create / map / set access,
// one allocation mapped at two addresses, two allocations in one range,
// handles outliving their release, unmap / free, and the alignment errors.
#include <algorithm>
#include <vector>

#include "driver_test.h"

namespace {

CUmemAccessDesc read_write(CUdevice dev) {
  CUmemAccessDesc desc;
  std::memset(&desc, 0, sizeof desc);
  desc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  desc.location.id = dev;
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return desc;
}

size_t free_memory() {
  size_t free_bytes = 0, total = 0;
  CHECK_CU(cuMemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  return free_bytes;
}

size_t check_granularity(CUdevice dev) {
  dt::section("granularity");
  CUmemAllocationProp prop = dt::device_prop(dev);
  size_t minimum = 0, recommended = 0;
  CHECK_CU(cuMemGetAllocationGranularity(&minimum, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
           CUDA_SUCCESS);
  CHECK_CU(cuMemGetAllocationGranularity(&recommended, &prop,
                                         CU_MEM_ALLOC_GRANULARITY_RECOMMENDED),
           CUDA_SUCCESS);
  dt::info("granularity: minimum %zu, recommended %zu", minimum, recommended);
  CHECK(minimum >= 4096 && (minimum & (minimum - 1)) == 0);
  CHECK(recommended >= minimum && recommended % minimum == 0);
  return minimum;
}

void check_map_twice(CUdevice dev, size_t gran) {
  dt::section("one allocation mapped at two addresses");
  const size_t size = 2 * gran;
  CUmemAllocationProp prop = dt::device_prop(dev);
  size_t free0 = free_memory();
  CUmemGenericAllocationHandle h = 0;
  REQUIRE_CU(cuMemCreate(&h, size, &prop, 0), CUDA_SUCCESS);
  CHECK_MSG(free0 >= free_memory() + size, "cuMemCreate did not take device memory");

  CUmemAllocationProp got;
  std::memset(&got, 0xff, sizeof got);
  CHECK_CU(cuMemGetAllocationPropertiesFromHandle(&got, h), CUDA_SUCCESS);
  CHECK_EQ(got.type, CU_MEM_ALLOCATION_TYPE_PINNED);
  CHECK_EQ(got.location.type, CU_MEM_LOCATION_TYPE_DEVICE);
  CHECK_EQ(got.location.id, static_cast<int>(dev));

  CUdeviceptr va = 0, vb = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, size, 0, 0, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAddressReserve(&vb, size, 0, 0, 0), CUDA_SUCCESS);
  CHECK(va != 0 && vb != 0 && va != vb);
  CHECK_MSG(va % gran == 0 && vb % gran == 0, "reservations not granularity-aligned");
  CHECK_CU(cuMemMap(va, size, 0, h, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(vb, size, 0, h, 0), CUDA_SUCCESS);
  CUmemAccessDesc rw = read_write(dev);
  CHECK_CU(cuMemSetAccess(va, size, &rw, 1), CUDA_SUCCESS);
  CHECK_CU(cuMemSetAccess(vb, size, &rw, 1), CUDA_SUCCESS);
  unsigned long long access = 0;
  CHECK_CU(cuMemGetAccess(&access, &rw.location, va + 100), CUDA_SUCCESS);
  CHECK_EQ(access, static_cast<unsigned long long>(CU_MEM_ACCESS_FLAGS_PROT_READWRITE));

  // Written through one address, read through the other.
  std::vector<uint32_t> data(size / 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint32_t>(i * 2654435761u);
  CHECK_CU(cuMemcpyHtoD(va, data.data(), size), CUDA_SUCCESS);
  std::vector<uint32_t> back(size / 4, 0);
  CHECK_CU(cuMemcpyDtoH(back.data(), vb, size), CUDA_SUCCESS);
  CHECK(back == data);
  CHECK_CU(cuMemsetD32(vb + gran, 0x5eed5eedu, 16), CUDA_SUCCESS);
  uint32_t word = 0;
  CHECK_CU(cuMemcpyDtoH(&word, va + gran + 60, 4), CUDA_SUCCESS);
  CHECK_EQ(word, 0x5eed5eedu);

  // What the driver reports about a mapped address.
  unsigned type = 0;
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, va + 8), CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_DEVICE));
  CUdeviceptr base = 0;
  size_t range = 0;
  CHECK_CU(cuMemGetAddressRange(&base, &range, va + 4096), CUDA_SUCCESS);
  CHECK_EQ(base, va);
  dt::info("cuMemGetAddressRange of a mapping of %zu bytes -> %zu", size, range);
  // "The handle is guaranteed to be the same handle value used to map the memory."
  CUmemGenericAllocationHandle again = 0;
  CHECK_CU(cuMemRetainAllocationHandle(&again, reinterpret_cast<void*>(vb + 12)), CUDA_SUCCESS);
  CHECK(again == h);
  CHECK_CU(cuMemRelease(again), CUDA_SUCCESS);

  // "The generic memory handle can be freed when there are still outstanding
  // mappings": the memory lives until the last unmap.
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  std::fill(back.begin(), back.end(), 0);
  CHECK_CU(cuMemcpyDtoH(back.data(), va, 4096), CUDA_SUCCESS);
  CHECK(std::equal(back.begin(), back.begin() + 1024, data.begin()));
  CHECK_CU(cuMemUnmap(va, size), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(back.data(), vb, 4096), CUDA_SUCCESS);
  CHECK(std::equal(back.begin(), back.begin() + 1024, data.begin()));
  CHECK_CU(cuMemUnmap(vb, size), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_MSG(free_memory() + size / 2 >= free0, "memory not returned after the last unmap");

  // "If the address requested is not mapped, the function will fail."
  CHECK_CU_MSG(cuMemRetainAllocationHandle(&again, reinterpret_cast<void*>(va)), CUDA_ERROR_INVALID_VALUE,
               "docs: 'will fail' on an address not mapped");
  CHECK_CU(cuMemAddressFree(va, size), CUDA_SUCCESS);
  CHECK_CU(cuMemAddressFree(vb, size), CUDA_SUCCESS);
}

void check_two_in_one_range(CUdevice dev, size_t gran) {
  dt::section("two allocations back to back in one reservation");
  CUmemAllocationProp prop = dt::device_prop(dev);
  CUmemGenericAllocationHandle h1 = 0, h2 = 0;
  REQUIRE_CU(cuMemCreate(&h1, gran, &prop, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemCreate(&h2, 2 * gran, &prop, 0), CUDA_SUCCESS);
  CUdeviceptr va = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, 4 * gran, 0, 0, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(va, gran, 0, h1, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(va + gran, 2 * gran, 0, h2, 0), CUDA_SUCCESS);
  CUmemAccessDesc rw = read_write(dev);
  CHECK_CU(cuMemSetAccess(va, 3 * gran, &rw, 1), CUDA_SUCCESS);  // both at once

  // A copy and a memset that straddle the seam between the two.
  std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13 + 1);
  CUdeviceptr seam = va + gran - 2048;
  CHECK_CU(cuMemcpyHtoD(seam, data.data(), data.size()), CUDA_SUCCESS);
  std::vector<uint8_t> back(data.size(), 0);
  CHECK_CU(cuMemcpyDtoH(back.data(), seam, back.size()), CUDA_SUCCESS);
  CHECK(back == data);
  CHECK_CU(cuMemsetD32(va + gran - 8, 0x0badf00du, 4), CUDA_SUCCESS);
  uint32_t words[4] = {0, 0, 0, 0};
  CHECK_CU(cuMemcpyDtoH(words, va + gran - 8, sizeof words), CUDA_SUCCESS);
  CHECK(words[0] == 0x0badf00du && words[3] == 0x0badf00du);

  dt::section("VMM argument errors");
  // "cuMemUnmap cannot unmap a sub-range of an address range mapped".
  CHECK_CU_MSG(cuMemUnmap(va + gran, gran), CUDA_ERROR_INVALID_VALUE, "sub-range of a mapping");
  // "The range must be a fully mapped address range" (the last granule is not).
  CHECK_CU_MSG(cuMemSetAccess(va, 4 * gran, &rw, 1), CUDA_ERROR_INVALID_VALUE,
               "range not fully mapped");

  // A reservation with mappings in it cannot be freed (observed on an H100).
  CHECK_CU(cuMemAddressFree(va, 4 * gran), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemUnmap(va, gran), CUDA_SUCCESS);
  CHECK_CU(cuMemUnmap(va + gran, 2 * gran), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h1), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h2), CUDA_SUCCESS);
  CHECK_CU_MSG(cuMemAddressFree(va, 2 * gran), CUDA_ERROR_INVALID_VALUE,
               "docs: the size must match the reservation");
  CHECK_CU(cuMemAddressFree(va, 4 * gran), CUDA_SUCCESS);
}

void check_errors(CUdevice dev, size_t gran, int count) {
  dt::section("sizes that are not multiples of the granularity");
  CUmemAllocationProp prop = dt::device_prop(dev);
  CUmemGenericAllocationHandle h = 0;
  // "The size of this allocation must be a multiple of the value given via
  // cuMemGetAllocationGranularity with the CU_MEM_ALLOC_GRANULARITY_MINIMUM flag."
  CHECK_CU(cuMemCreate(&h, gran + gran / 2, &prop, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemCreate(&h, 1, &prop, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemCreate(&h, 0, &prop, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemCreate(&h, gran, &prop, 1), CUDA_ERROR_INVALID_VALUE);  // flags must be zero
  CUmemAllocationProp bad = prop;
  bad.location.id = count;
  CHECK_CU(cuMemCreate(&h, gran, &bad, 0), CUDA_ERROR_INVALID_DEVICE);

  REQUIRE_CU(cuMemCreate(&h, 2 * gran, &prop, 0), CUDA_SUCCESS);
  CUdeviceptr va = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, 4 * gran, 0, 0, 0), CUDA_SUCCESS);
  // "Both ptr, size, and offset must be a multiple of the value given via
  // cuMemGetAllocationGranularity": an H100 (driver 580) answers NOT_SUPPORTED.
  CHECK_CU(cuMemMap(va, gran + 4096, 0, h, 0), CUDA_ERROR_NOT_SUPPORTED);
  CHECK_CU(cuMemMap(va + 4096, gran, 0, h, 0), CUDA_ERROR_NOT_SUPPORTED);
  // "offset + size must be less than the size of the memory allocation".
  CHECK_CU_ANY(cuMemMap(va, 4 * gran, 0, h, 0), CUDA_ERROR_NOT_SUPPORTED, CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemMap(va, 2 * gran, 0, h, 1), CUDA_ERROR_INVALID_VALUE);  // flags must be zero
  // "The size and address parameters must be a multiple of the host page size".
  CUdeviceptr odd = 0;
  CHECK_CU_MSG(cuMemAddressReserve(&odd, gran + 1, 0, 0, 0), CUDA_ERROR_INVALID_VALUE,
               "size not a multiple of the page size");
  CHECK_CU(cuMemAddressReserve(&odd, gran, 0, 0, 1), CUDA_ERROR_INVALID_VALUE);  // flags
  // The good mapping still works after the rejected ones.
  CHECK_CU(cuMemMap(va, 2 * gran, 0, h, 0), CUDA_SUCCESS);
  CUmemAccessDesc rw = read_write(dev);
  CHECK_CU(cuMemSetAccess(va, 2 * gran, &rw, 1), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(va, 1, 2 * gran), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuMemUnmap(va, 2 * gran), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  CHECK_CU(cuMemAddressFree(va, 4 * gran), CUDA_SUCCESS);
}

// NULL output pointers, last in the program: the real driver dereferences
// some without checking (cuGetErrorName, cuGetProcAddress crash), so a crash
// here loses nothing else.
void check_null_outputs(CUdevice dev) {
  dt::section("NULL output pointers");
  CUmemAllocationProp prop = dt::device_prop(dev);
  size_t minimum = 0;
  CHECK_CU(cuMemGetAllocationGranularity(&minimum, nullptr, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
           CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemGetAllocationGranularity(nullptr, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
           CUDA_ERROR_INVALID_VALUE);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  int count = 0;
  CHECK_CU(cuDeviceGetCount(&count), CUDA_SUCCESS);
  int vmm = 0;
  CHECK_CU(cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev),
           CUDA_SUCCESS);
  REQUIRE(vmm == 1);
  size_t gran = check_granularity(dev);
  REQUIRE(gran > 0);
  check_map_twice(dev, gran);
  check_two_in_one_range(dev, gran);
  check_errors(dev, gran, count);
  check_null_outputs(dev);
  dt::release_primary(dev);
  return dt::finish();
}
