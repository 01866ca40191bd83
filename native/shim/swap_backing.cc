// swap_backing.cc — the VMM calls behind swappable memory (swap_internal.h):
// physical memory created, mapped at a fixed address and made accessible, or
// unmapped and released. The real driver's entry points only: the shim's own
// cuMemCreate/cuMemMap hooks would charge the quota a second time.
#include <atomic>

#include "hook_table.h"
#include "real_driver.h"
#include "swap_internal.h"

namespace gpupool::shim {
namespace {

std::atomic<uint64_t> g_granularity[kMaxDevices];  // by job ordinal; 0: not asked yet

CUmemAllocationProp device_prop(int device) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

}  // namespace

uint64_t backing_granularity(int device) {
  if (device < 0 || device >= kMaxDevices) return 0;
  uint64_t g = g_granularity[device].load(std::memory_order_acquire);
  if (g != 0) return g;
  auto get = SHIM_REAL(cuMemGetAllocationGranularity);
  const CUmemAllocationProp prop = device_prop(device);
  size_t size = 0;
  // The minimum: what cuMemCreate and cuMemMap require, and the least waste.
  if (get == nullptr || get(&size, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || size == 0 ||
      (size & (size - 1)) != 0)
    return 0;
  g_granularity[device].store(size, std::memory_order_release);
  return size;
}

CUresult backing_map(SwapRecord* r) {
  auto create = SHIM_REAL(cuMemCreate);
  auto map = SHIM_REAL(cuMemMap);
  auto set_access = SHIM_REAL(cuMemSetAccess);
  auto unmap = SHIM_REAL(cuMemUnmap);
  auto release = SHIM_REAL(cuMemRelease);
  if (create == nullptr || map == nullptr || set_access == nullptr || unmap == nullptr || release == nullptr)
    return CUDA_ERROR_NOT_SUPPORTED;
  const CUmemAllocationProp prop = device_prop(r->device);
  CUmemGenericAllocationHandle handle = 0;
  CUresult result = create(&handle, r->span, &prop, 0);
  if (result != CUDA_SUCCESS) return result;
  result = map(r->base, r->span, 0, handle, 0);
  if (result != CUDA_SUCCESS) {
    release(handle);
    return result;
  }
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  result = set_access(r->base, r->span, &access, 1);
  if (result != CUDA_SUCCESS) {
    unmap(r->base, r->span);
    release(handle);
    return result;
  }
  r->handle = handle;
  return CUDA_SUCCESS;
}

CUresult backing_unmap(SwapRecord* r) {
  auto unmap = SHIM_REAL(cuMemUnmap);
  auto release = SHIM_REAL(cuMemRelease);
  if (unmap == nullptr || release == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  CUresult result = unmap(r->base, r->span);
  if (result != CUDA_SUCCESS) return result;  // still mapped: the memory stays in use
  // Unmapped, the memory is unreachable whatever cuMemRelease answers.
  release(r->handle);
  r->handle = 0;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::shim
