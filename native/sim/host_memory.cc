// host_memory.cc — page-locked host memory: cuMemAllocHost, cuMemHostAlloc,
// cuMemHostRegister and their queries.
//
// Nothing is actually locked (the sim needs no DMA, and mlock would run into
// RLIMIT_MEMLOCK on CI machines); what matters is the bookkeeping. A pinned
// range is entered in the linear registry, which makes it device-accessible
// (kernels and memsets may use it: unified addressing, device pointer == host
// pointer) and lets copies from and to it be truly asynchronous, where copies
// of pageable memory are staged or waited for as the driver does.
//
// Host memory never counts against a device's capacity. Allocations and
// registrations belong to the current context and go away with it.
#include <sys/mman.h>

#include "memory_internal.h"

using namespace gpupool::sim;

namespace {

constexpr unsigned kHostAllocFlags =
    CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
constexpr unsigned kHostRegisterFlags = CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                                        CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;

CUresult host_alloc(void** pp, size_t bytesize, unsigned flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (pp == nullptr || (flags & ~kHostAllocFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (bytesize == 0) {  // the driver accepts it (observed on an H100); nothing to hand out
    *pp = nullptr;
    return CUDA_SUCCESS;
  }
  size_t length = round_up(bytesize, host_page_size());
  if (length < bytesize) return CUDA_ERROR_OUT_OF_MEMORY;
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  RangeInfo info;
  info.type = RangeType::kHostAlloc;
  info.base = reinterpret_cast<uintptr_t>(p);
  info.size = bytesize;
  info.ctx = ctx;
  info.device = ctx->device->ordinal;
  // With unified addressing every pinned allocation is mapped: the driver
  // reports DEVICEMAP from cuMemHostGetFlags even when it was not asked for.
  info.flags = flags | CU_MEMHOSTALLOC_DEVICEMAP;
  info.buffer_id = next_buffer_id();
  if (!linear_insert(info, nullptr)) {  // cannot happen: the kernel just gave us this range
    munmap(p, length);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  *pp = p;
  return CUDA_SUCCESS;
}

// Waits for device work that may still read or write a pinned range.
void drain_for(const RangeInfo& r, Context* caller) {
  if (Device* d = device(r.device)) d->executor->wait(d->executor->last_submitted());
  if (caller != nullptr && caller->device->ordinal != r.device) synchronize_context(caller);
}

}  // namespace

SIM_API CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) { return host_alloc(pp, bytesize, 0); }

// The original 32-bit-size entry point: a host pointer has no 32-bit problem.
SIM_API CUresult cuMemAllocHost(void** pp, unsigned int bytesize) { return host_alloc(pp, bytesize, 0); }

SIM_API CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int Flags) {
  return host_alloc(pp, bytesize, Flags);
}

SIM_API CUresult cuMemFreeHost(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (p == nullptr) return CUDA_SUCCESS;  // like free(NULL) and cudaFreeHost(NULL)
  RangeInfo r;
  if (!linear_detach(reinterpret_cast<uintptr_t>(p), type_bit(RangeType::kHostAlloc), &r))
    return CUDA_ERROR_INVALID_VALUE;
  drain_for(r, ctx);
  linear_release(r);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int Flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (pdptr == nullptr || p == nullptr || Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  RangeInfo r;
  if (!linear_find(reinterpret_cast<uintptr_t>(p), &r) ||
      (r.type != RangeType::kHostAlloc && r.type != RangeType::kHostRegistered))
    return CUDA_ERROR_INVALID_VALUE;
  // Every device of the sim can use host pointers for mapped memory
  // (CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM), so the
  // device pointer is the host pointer.
  *pdptr = reinterpret_cast<CUdeviceptr>(p);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemHostGetFlags(unsigned int* pFlags, void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (pFlags == nullptr || p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  RangeInfo r;
  if (!linear_find(reinterpret_cast<uintptr_t>(p), &r) || r.type != RangeType::kHostAlloc)
    return CUDA_ERROR_INVALID_VALUE;
  *pFlags = r.flags;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int Flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (p == nullptr || bytesize == 0 || (Flags & ~kHostRegisterFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  uintptr_t base = reinterpret_cast<uintptr_t>(p);
  if (base + bytesize < base) return CUDA_ERROR_INVALID_VALUE;
  // There is no third-party PCIe memory in a simulation: ordinary memory
  // registered as I/O memory is refused as the driver refuses it.
  if (Flags & CU_MEMHOSTREGISTER_IOMEMORY) return CUDA_ERROR_INVALID_VALUE;
  // Device memory and VMM ranges are not host memory to register.
  if (in_sim_address_space(base) || in_sim_address_space(base + bytesize - 1)) return CUDA_ERROR_INVALID_VALUE;
  // The range must be mapped in this process: msync fails with ENOMEM otherwise.
  const uintptr_t page = host_page_size();
  uintptr_t first = base / page * page;
  if (msync(reinterpret_cast<void*>(first), round_up(base + bytesize - first, page), MS_ASYNC) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  RangeInfo info;
  info.type = RangeType::kHostRegistered;
  info.base = base;
  info.size = bytesize;
  info.ctx = ctx;
  info.device = ctx->device->ordinal;
  info.flags = Flags;
  info.buffer_id = next_buffer_id();
  RangeInfo hit;
  if (!linear_insert(info, &hit)) {
    // Overlapping a registration is "already registered"; page-locked memory
    // from cuMemHostAlloc is simply not registrable.
    return hit.type == RangeType::kHostRegistered ? CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED
                                                  : CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

// Declared by cuda.h (internal section) with the same signature as _v2.
SIM_API CUresult cuMemHostRegister(void* p, size_t bytesize, unsigned int Flags) {
  return cuMemHostRegister_v2(p, bytesize, Flags);
}

SIM_API CUresult cuMemHostUnregister(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  RangeInfo r;
  if (!linear_detach(reinterpret_cast<uintptr_t>(p), type_bit(RangeType::kHostRegistered), &r)) {
    // Not the base of a registration: inside one is an invalid value.
    bool inside = linear_find(reinterpret_cast<uintptr_t>(p), &r) && r.type == RangeType::kHostRegistered;
    return inside ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  }
  drain_for(r, ctx);
  return CUDA_SUCCESS;
}
