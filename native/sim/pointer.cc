// pointer.cc — unified-addressing pointer queries: cuPointerGetAttribute,
// cuPointerGetAttributes, cuPointerSetAttribute.
//
// Every answer comes from the same registry copies and launches consult
// (find_range), so attributes describe exactly what the rest of the sim will
// accept. The two getters differ as the reference says: cuPointerGetAttribute
// fails with CUDA_ERROR_INVALID_VALUE for a pointer the driver does not know
// (or an attribute that has no value for it), cuPointerGetAttributes succeeds
// and writes "no value" (zeros; device ordinal -2, as the runtime reports for
// unregistered memory).
//
// Value sizes are those the driver writes (checked on an H100): booleans and
// enums are 4-byte unsigned ints, ALLOWED_HANDLE_TYPES / BUFFER_ID /
// MEMORY_BLOCK_ID are 64-bit, addresses and sizes are pointer-sized. Capability
// flags the sim does not provide (legacy IPC, GPUDirect RDMA, hardware
// decompression, nv-p2p tokens) read as 0 / NOT_SUPPORTED.
#include <cstring>

#include "memory_internal.h"

using namespace gpupool::sim;

namespace {

// Bytes written for an attribute; 0 for attributes not known.
size_t attribute_size(CUpointer_attribute a) {
  switch (a) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return sizeof(CUcontext);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS: return sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return sizeof(CUmemoryPool);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_MAPPED:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: return sizeof(unsigned int);
  }
  return 0;
}

template <typename T>
CUresult put(void* data, T value) {
  memcpy(data, &value, sizeof(T));
  return CUDA_SUCCESS;
}

// Writes the attribute of `ptr` (described by `r`, null when unknown) to
// `data`, or returns why it has no value.
CUresult get_attribute(CUpointer_attribute a, void* data, uintptr_t ptr, const RangeInfo* r, Context* cur) {
  if (a == CU_POINTER_ATTRIBUTE_P2P_TOKENS) return CUDA_ERROR_NOT_SUPPORTED;  // no nv-p2p kernel interface
  if (attribute_size(a) == 0) return CUDA_ERROR_INVALID_VALUE;
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const bool vmm = r->type == RangeType::kVmm;
  const bool host = r->type == RangeType::kHostAlloc || r->type == RangeType::kHostRegistered;
  switch (a) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
      return put(data, reinterpret_cast<CUcontext>(r->ctx));  // VMM memory belongs to no context
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      return put(data, static_cast<unsigned>(host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE));
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (cur == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
      if (vmm && r->access == 0) return CUDA_ERROR_INVALID_VALUE;  // no access from this device
      return put(data, static_cast<CUdeviceptr>(ptr));
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (!host && r->type != RangeType::kManaged) return CUDA_ERROR_INVALID_VALUE;  // device memory
      return put(data, reinterpret_cast<void*>(ptr));
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return put(data, static_cast<unsigned>(r->sync_memops));
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return put(data, static_cast<unsigned long long>(r->buffer_id));
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return put(data, static_cast<unsigned>(r->type == RangeType::kManaged));
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return put(data, r->device);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: return put(data, 0u);  // no IPC in the sim
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      return put(data, static_cast<CUdeviceptr>(vmm ? r->reserve_base : r->base));
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return put(data, vmm ? r->reserve_size : r->size);
    case CU_POINTER_ATTRIBUTE_MAPPED: return put(data, 1u);  // unmapped addresses are not found
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: return put(data, vmm ? r->handle_types : 0ull);
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: return put(data, 0u);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: {
      unsigned flags = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
      if (vmm) flags = r->access;
      if (r->type == RangeType::kHostRegistered && (r->flags & CU_MEMHOSTREGISTER_READ_ONLY))
        flags = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ;
      return put(data, flags);
    }
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return put(data, r->pool);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return put(data, r->size);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return put(data, reinterpret_cast<void*>(r->base));
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return put(data, static_cast<unsigned long long>(r->buffer_id));
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: return put(data, 0u);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

// The current context when there is one; these queries also work without.
CUresult optional_context(Context** out) {
  *out = nullptr;
  CUresult r = require_context(out);
  if (r == CUDA_ERROR_INVALID_CONTEXT) {
    *out = nullptr;
    return CUDA_SUCCESS;
  }
  return r;
}

bool lookup(uintptr_t ptr, Context* cur, RangeInfo* r) {
  return ptr != 0 && find_range(ptr, cur != nullptr ? cur->device->ordinal : -1, r);
}

}  // namespace

SIM_API CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  Context* cur = nullptr;
  if (CUresult r = optional_context(&cur); r != CUDA_SUCCESS) return r;
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  RangeInfo r;
  bool known = lookup(static_cast<uintptr_t>(ptr), cur, &r);
  return get_attribute(attribute, data, static_cast<uintptr_t>(ptr), known ? &r : nullptr, cur);
}

SIM_API CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute* attributes, void** data,
                                        CUdeviceptr ptr) {
  Context* cur = nullptr;
  if (CUresult r = optional_context(&cur); r != CUDA_SUCCESS) return r;
  if (numAttributes == 0 || attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < numAttributes; ++i) {
    // P2P tokens are not among the attributes this call supports.
    if (data[i] == nullptr || attribute_size(attributes[i]) == 0 ||
        attributes[i] == CU_POINTER_ATTRIBUTE_P2P_TOKENS)
      return CUDA_ERROR_INVALID_VALUE;
  }
  RangeInfo r;
  bool known = lookup(static_cast<uintptr_t>(ptr), cur, &r);
  for (unsigned i = 0; i < numAttributes; ++i) {
    if (get_attribute(attributes[i], data[i], static_cast<uintptr_t>(ptr), known ? &r : nullptr, cur) ==
        CUDA_SUCCESS)
      continue;
    memset(data[i], 0, attribute_size(attributes[i]));
    if (attributes[i] == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) put(data[i], -2);
  }
  return CUDA_SUCCESS;
}

SIM_API CUresult cuPointerSetAttribute(const void* value, CUpointer_attribute attribute, CUdeviceptr ptr) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (value == nullptr || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) return CUDA_ERROR_INVALID_VALUE;
  unsigned set = 0;
  memcpy(&set, value, sizeof(set));
  // Synchronous copies and memsets in the sim always complete before they
  // return, so the flag is only recorded (and reported back).
  if (ptr == 0 || !linear_set_sync_memops(static_cast<uintptr_t>(ptr), set != 0)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
