// vmm.cc — the virtual memory management API, forwarded (remote.proto,
// MemCreate and after; all synchronous, as their errors are).
//
// Kept here: the allocation handles (the worker's numbers, with the
// properties asked for and a reference count: cuMemRetainAllocationHandle
// and cuMemRelease count locally, the worker releases at zero) and the
// mappings, entered into the allocation table (remote.h) so copies, memsets,
// cuMemGetAddressRange and pointer attributes know them as device memory.
// Only pinned memory on the session's one device can be had: other locations
// and shareable handle types (file descriptors, fabric handles) cannot cross
// the network and are CUDA_ERROR_NOT_SUPPORTED.
#include <cstring>
#include <iterator>
#include <vector>

#include "remote.h"

using namespace gpupool::remote;

namespace {

struct VmmAllocation {
  CUmemAllocationProp prop;
  uint64_t bytes = 0;
  int refs = 1;
};
std::mutex g_vmm_mutex;
std::map<uint64_t, VmmAllocation> g_vmm;  // by handle value (the worker's number)

CUresult check_location(const CUmemLocation& l) {
  if (l.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
  return l.id == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult check_prop(const CUmemAllocationProp* prop) {
  if (prop == nullptr || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_location(prop->location); r != CUDA_SUCCESS) return r;
  if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE) return CUDA_ERROR_NOT_SUPPORTED;
  return CUDA_SUCCESS;
}

wire::Writer alloc_flags(const CUmemAllocationProp& prop) {
  wire::Writer f;
  f.u64(1, prop.allocFlags.compressionType);
  f.boolean(2, prop.allocFlags.gpuDirectRDMACapable != 0);
  f.u64(3, prop.allocFlags.usage);
  return f;
}

// A synchronous call whose reply carries only a result.
CUresult call(wire::CallOp op, const wire::Writer& w) {
  wire::Reply reply;
  return conn().call(op, w, &reply);
}

bool is_mapped(uint64_t handle) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  for (const auto& [base, a] : objects().allocations)
    if (a.mapping && a.vmm_handle == handle) return true;
  return false;
}

CUresult release_on_worker(uint64_t handle) {
  wire::Writer w;
  w.u64(1, handle);
  return call(wire::kMemRelease, w);
}

}  // namespace

REMOTE_API CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                  CUmemAllocationGranularity_flags option) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (granularity == nullptr || prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_prop(prop); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, option);
  w.message(2, alloc_flags(*prop));
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemGetAllocationGranularity, w, &reply); r != CUDA_SUCCESS) return r;
  *granularity = reply.number;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                                unsigned long long flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_prop(prop); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, size);
  w.message(2, alloc_flags(*prop));
  w.u64(3, flags);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemCreate, w, &reply); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_vmm_mutex);
  VmmAllocation& a = g_vmm[reply.handle];
  a.prop = *prop;
  a.bytes = size;
  *handle = reply.handle;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  bool mapped = is_mapped(handle);
  {
    std::lock_guard<std::mutex> lock(g_vmm_mutex);
    auto it = g_vmm.find(handle);
    if (it == g_vmm.end() || it->second.refs == 0) return CUDA_ERROR_INVALID_VALUE;
    if (--it->second.refs > 0) return CUDA_SUCCESS;
    // "The generic memory handle can be freed when there are still outstanding
    // mappings": the worker releases it when the last mapping goes.
    if (mapped) return CUDA_SUCCESS;
    g_vmm.erase(it);
  }
  return release_on_worker(handle);
}

REMOTE_API CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                           CUmemGenericAllocationHandle handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_vmm_mutex);
  auto it = g_vmm.find(handle);
  if (it == g_vmm.end() || it->second.refs == 0) return CUDA_ERROR_INVALID_VALUE;
  *prop = it->second.prop;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t h = 0;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    const Allocation* a = find_range_locked(reinterpret_cast<CUdeviceptr>(addr), 0);
    if (a == nullptr || !a->mapping) return CUDA_ERROR_INVALID_VALUE;
    h = a->vmm_handle;
  }
  std::lock_guard<std::mutex> lock(g_vmm_mutex);
  ++g_vmm[h].refs;  // a released handle still mapped is usable again, as the driver's is
  *handle = h;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                        unsigned long long flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (ptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  wire::Writer w;
  w.u64(1, size);
  w.u64(2, alignment);
  w.u64(3, addr);
  w.u64(4, flags);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemAddressReserve, w, &reply); r != CUDA_SUCCESS) return r;
  *ptr = reply.handle;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, ptr);
  w.u64(2, size);
  return call(wire::kMemAddressFree, w);
}

REMOTE_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                             unsigned long long flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  {
    std::lock_guard<std::mutex> lock(g_vmm_mutex);
    auto it = g_vmm.find(handle);
    if (it == g_vmm.end() || it->second.refs == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  wire::Writer w;
  w.u64(1, ptr);
  w.u64(2, size);
  w.u64(3, offset);
  w.u64(4, handle);
  w.u64(5, flags);
  if (CUresult r = call(wire::kMemMap, w); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(objects().mutex);
  Allocation& a = objects().allocations[ptr];
  a = Allocation{size, ctx, false, true, handle};
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, ptr);
  w.u64(2, size);
  if (CUresult r = call(wire::kMemUnmap, w); r != CUDA_SUCCESS) return r;
  std::vector<uint64_t> unmapped;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto& allocs = objects().allocations;
    for (auto it = allocs.lower_bound(ptr); it != allocs.end() && it->first < ptr + size;) {
      if (!it->second.mapping) {
        ++it;
        continue;
      }
      unmapped.push_back(it->second.vmm_handle);
      it = allocs.erase(it);
    }
  }
  // Handles released while mapped go now, with their last mapping.
  for (uint64_t h : unmapped) {
    if (is_mapped(h)) continue;
    {
      std::lock_guard<std::mutex> lock(g_vmm_mutex);
      auto it = g_vmm.find(h);
      if (it == g_vmm.end() || it->second.refs > 0) continue;
      g_vmm.erase(it);
    }
    if (CUresult r = release_on_worker(h); r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  // One device: the last descriptor for it is the one that holds.
  unsigned flags = 0;
  for (size_t i = 0; i < count; ++i) {
    if (CUresult r = check_location(desc[i].location); r != CUDA_SUCCESS) return r;
    flags = desc[i].flags;
  }
  wire::Writer w;
  w.u64(1, ptr);
  w.u64(2, size);
  w.u64(3, flags);
  return call(wire::kMemSetAccess, w);
}

REMOTE_API CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location, CUdeviceptr ptr) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_location(*location); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, ptr);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemGetAccess, w, &reply); r != CUDA_SUCCESS) return r;
  *flags = reply.number;
  return CUDA_SUCCESS;
}
