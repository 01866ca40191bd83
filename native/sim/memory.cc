// memory.cc — device and managed memory: cuMemAlloc and friends, and the
// questions the rest of the sim asks about pointers.
//
// Allocation itself (arenas, capacity, the registry) is in memory_arena.cc.
// Here are the entry points and the shared checks: device_accessible() for
// launches, range_accessible()/classify_host() for copies and memsets. A
// device pointer is a host address (unified addressing), so "is this access
// legal" is decided by the registry, never by touching the memory: an invalid
// pointer becomes CUDA_ERROR_INVALID_VALUE instead of a crash.
//
// Freeing waits for device work queued so far on the memory's device (and the
// caller's), as the driver's cuMemFree synchronises: work already queued may
// still use the allocation, and the arena must not hand it out underneath it.
#include "memory_internal.h"

namespace gpupool::sim {

// ---- shared queries -----------------------------------------------------------

bool find_range(uintptr_t p, int device, RangeInfo* out) {
  return linear_find(p, out) || vmm_find(p, device, out);
}

bool range_accessible(Context* ctx, uintptr_t p, size_t n, bool write) {
  if (p == 0 || p + n < p) return false;
  RangeInfo r;
  if (linear_find(p, &r)) {
    if (n > r.size - (p - r.base)) return false;
    if (write && r.type == RangeType::kHostRegistered && (r.flags & CU_MEMHOSTREGISTER_READ_ONLY))
      return false;
    return true;
  }
  return vmm_accessible(ctx != nullptr ? ctx->device->ordinal : -1, p, n, write);
}

HostSide classify_host(Context* ctx, uintptr_t p, size_t n, bool write) {
  if (p == 0 || p + n < p) return HostSide::kInvalid;
  RangeInfo r;
  if (linear_find(p, &r)) {
    bool fits = n <= r.size - (p - r.base);
    bool host = r.type == RangeType::kHostAlloc || r.type == RangeType::kHostRegistered;
    if (!host) return fits ? HostSide::kAccessible : HostSide::kInvalid;
    // Pinned host memory is what the copy engines reach directly. A range that
    // runs past the pinned part (or a device write into read-only registered
    // memory) is ordinary host memory to the driver.
    bool read_only = r.type == RangeType::kHostRegistered && (r.flags & CU_MEMHOSTREGISTER_READ_ONLY);
    if (fits && !(write && read_only)) return HostSide::kAccessible;
  } else if (in_sim_address_space(p)) {
    return vmm_accessible(ctx != nullptr ? ctx->device->ordinal : -1, p, n, write) ? HostSide::kAccessible
                                                                                   : HostSide::kInvalid;
  }
  if (n > 0 && in_sim_address_space(p + n - 1)) return HostSide::kInvalid;
  return HostSide::kPageable;
}

void wait_all_devices() {
  for (int i = 0, n = device_count(); i < n; ++i) {
    if (Device* d = device(i)) d->executor->wait(d->executor->last_submitted());
  }
}

// ---- sim.h contract -----------------------------------------------------------

CUresult device_alloc(Context* ctx, size_t bytes, CUdeviceptr* out) {
  return linear_alloc(ctx, ctx->device, bytes, RangeType::kDevice, 0, nullptr, out);
}

CUresult device_free(Context* ctx, CUdeviceptr ptr) {
  RangeInfo r;
  // Detach first: a concurrent second free of the same pointer fails here.
  if (!linear_detach(static_cast<uintptr_t>(ptr), type_bit(RangeType::kDevice) | type_bit(RangeType::kManaged),
                     &r))
    return CUDA_ERROR_INVALID_VALUE;
  if (Device* d = device(r.device)) d->executor->wait(d->executor->last_submitted());
  if (ctx != nullptr && ctx->device->ordinal != r.device) synchronize_context(ctx);
  linear_release(r);
  return CUDA_SUCCESS;
}

bool device_accessible(Context* ctx, CUdeviceptr ptr, size_t bytes) {
  return range_accessible(ctx, static_cast<uintptr_t>(ptr), bytes, true);
}

MemoryKind memory_kind(uintptr_t ptr, size_t bytes) {
  if (ptr == 0 || ptr + bytes < ptr) return MemoryKind::kUnknown;
  RangeInfo r;
  if (linear_find(ptr, &r)) {
    if (bytes > r.size - (ptr - r.base)) return MemoryKind::kUnknown;
    switch (r.type) {
      case RangeType::kDevice: return MemoryKind::kDevice;
      case RangeType::kManaged: return MemoryKind::kManaged;
      default: return MemoryKind::kHostPinned;
    }
  }
  return vmm_accessible(-1, ptr, bytes, false) ? MemoryKind::kDevice : MemoryKind::kUnknown;
}

void memory_release_context(Context* ctx) {
  for (const RangeInfo& owned : linear_owned_by(ctx)) {
    RangeInfo r;
    if (linear_detach(owned.base, type_bit(owned.type), &r)) linear_release(r);
  }
}

}  // namespace gpupool::sim

// ---- entry points -------------------------------------------------------------

using namespace gpupool::sim;

SIM_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  // Allocation and free are "potentially unsafe" during stream capture.
  if (CUresult r = capture_check_unsafe(); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return device_alloc(ctx, bytesize, dptr);
}

SIM_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_unsafe(); r != CUDA_SUCCESS) return r;
  if (dptr == 0) return CUDA_SUCCESS;
  return device_free(ctx, dptr);
}

SIM_API CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  // Either output may be NULL (the driver accepts it; observed on an H100).
  uint64_t capacity = ctx->device->total_bytes;
  uint64_t used = ctx->device->used_bytes.load();
  if (total != nullptr) *total = static_cast<size_t>(capacity);
  if (free != nullptr) *free = static_cast<size_t>(used >= capacity ? 0 : capacity - used);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes, size_t Height,
                                    unsigned int ElementSizeBytes) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr || pPitch == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16) return CUDA_ERROR_INVALID_VALUE;
  if (WidthInBytes == 0 || Height == 0) return CUDA_ERROR_INVALID_VALUE;
  // Rows start 512-byte aligned, which meets every alignment the driver promises.
  size_t pitch = rounded_size(WidthInBytes);
  size_t bytes = 0;
  if (pitch == 0 || __builtin_mul_overflow(pitch, Height, &bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdeviceptr p = 0;
  if (CUresult r = device_alloc(ctx, bytes, &p); r != CUDA_SUCCESS) return r;
  *dptr = p;
  *pPitch = pitch;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  RangeInfo r;
  // For VMM memory the answer is the mapping (cuPointerGetAttribute's
  // RANGE_START_ADDR/RANGE_SIZE give the reservation).
  if (!find_range(static_cast<uintptr_t>(dptr), ctx->device->ordinal, &r)) return CUDA_ERROR_NOT_FOUND;
  if (pbase != nullptr) *pbase = static_cast<CUdeviceptr>(r.base);
  if (psize != nullptr) *psize = r.size;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  // Managed memory lives on the device here (no migration), so it counts
  // against the device's capacity like cuMemAlloc.
  return linear_alloc(ctx, ctx->device, bytesize, RangeType::kManaged, flags, nullptr, dptr);
}
