// hooks_pointer.cc — pointer queries about swappable allocations (swap.h)
// answer as they would for the cuMemAlloc memory the job asked for.
//
// The driver sees the shim's VMM memory: its range is the rounded mapping, it
// belongs to no context, and while swapped out its addresses are unknown to
// the driver. So for a pointer inside a swappable allocation:
//   cuMemGetAddressRange_v2            the allocation's start and the size asked for
//   CU_POINTER_ATTRIBUTE_CONTEXT       the allocating context
//   RANGE_START_ADDR / RANGE_SIZE      as cuMemGetAddressRange
// and while it is swapped out, the attributes that describe device memory
// rather than its current backing: MEMORY_TYPE (device), DEVICE_POINTER (the
// pointer), DEVICE_ORDINAL, IS_MANAGED (0), MAPPED (1), ACCESS_FLAGS
// (read/write). Every other attribute is the driver's answer: while swapped
// out, none (cuPointerGetAttribute: CUDA_ERROR_INVALID_VALUE), and BUFFER_ID
// changes when the memory comes back (new physical memory). Everything else
// goes to the driver unchanged; the legacy 32-bit cuMemGetAddressRange cannot
// name a swappable (64-bit) address and is not hooked.
#include <cstring>

#include "hook_table.h"
#include "real_driver.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

template <typename T>
void put(void* data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

bool has_context() {
  auto current = SHIM_REAL(cuCtxGetCurrent);
  CUcontext ctx = nullptr;
  return current != nullptr && current(&ctx) == CUDA_SUCCESS && ctx != nullptr;
}

// Writes the shim's answer for `attribute` of `ptr` in `r`; false: the
// driver's answer stands.
bool answer(CUpointer_attribute attribute, void* data, CUdeviceptr ptr, const SwapRange& r) {
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: put(data, r.ctx); return true;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: put(data, r.base); return true;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: put(data, static_cast<size_t>(r.bytes)); return true;
    default: break;
  }
  if (r.resident) return false;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: put(data, static_cast<unsigned>(CU_MEMORYTYPE_DEVICE)); return true;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (!has_context()) return false;  // the driver's CUDA_ERROR_INVALID_CONTEXT
      put(data, ptr);
      return true;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: put(data, r.device); return true;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: put(data, 0u); return true;
    case CU_POINTER_ATTRIBUTE_MAPPED: put(data, 1u); return true;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      put(data, static_cast<unsigned>(CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE));
      return true;
    default: return false;
  }
}

}  // namespace

SHIM_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
  auto real = SHIM_REAL(cuMemGetAddressRange_v2);
  if (real == nullptr) return missing_real_result();
  SwapRange r;
  if (!swap_find(dptr, &r) || !has_context()) return real(pbase, psize, dptr);
  if (pbase != nullptr) *pbase = r.base;
  if (psize != nullptr) *psize = static_cast<size_t>(r.bytes);
  return CUDA_SUCCESS;
}

SHIM_EXPORT CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  auto real = SHIM_REAL(cuPointerGetAttribute);
  if (real == nullptr) return missing_real_result();
  SwapRange r;
  if (data == nullptr || !swap_find(ptr, &r)) return real(data, attribute, ptr);
  if (answer(attribute, data, ptr, r)) return CUDA_SUCCESS;
  return real(data, attribute, ptr);
}

SHIM_EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute* attributes, void** data,
                                            CUdeviceptr ptr) {
  auto real = SHIM_REAL(cuPointerGetAttributes);
  if (real == nullptr) return missing_real_result();
  // The driver validates the arguments and writes "no value" where it has none.
  const CUresult result = real(numAttributes, attributes, data, ptr);
  SwapRange r;
  if (result != CUDA_SUCCESS || !swap_find(ptr, &r)) return result;
  for (unsigned i = 0; i < numAttributes; ++i) answer(attributes[i], data[i], ptr, r);
  return CUDA_SUCCESS;
}
