// memory.cc — device allocations (forwarded, and tracked locally so range and
// double-free errors are synchronous as the driver's are), host allocations
// (plain local memory: there is no device to pin it for, nor one that could
// map it), managed memory (not supported: CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY
// is 0), pointer queries.
#include <cstdlib>
#include <cstring>

#include "remote.h"

using namespace gpupool::remote;

namespace {

CUresult alloc(CUdeviceptr* dptr, size_t bytes) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  wire::Writer w;
  w.u64(1, bytes);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemAlloc, w, &reply); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(objects().mutex);
  objects().allocations[reply.handle] = Allocation{bytes, ctx, true};
  *dptr = reply.handle;
  return CUDA_SUCCESS;
}

}  // namespace

REMOTE_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) { return alloc(dptr, bytes); }

REMOTE_API CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                                       unsigned int element) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr || pitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (element != 4 && element != 8 && element != 16) return CUDA_ERROR_INVALID_VALUE;
  size_t align = attribute(CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT);
  if (align == 0) align = 32;
  size_t p = (width + align - 1) / align * align;
  if (height > ~size_t{0} / p) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult r = alloc(dptr, p * height);
  if (r == CUDA_SUCCESS) *pitch = p;
  return r;
}

REMOTE_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (dptr == 0) return CUDA_SUCCESS;  // as the driver: freeing NULL is a no-op
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto it = objects().allocations.find(dptr);
    if (it == objects().allocations.end() || !it->second.freeable) return CUDA_ERROR_INVALID_VALUE;
    objects().allocations.erase(it);
  }
  wire::Writer w;
  w.u64(1, dptr);
  return conn().post(wire::kMemFree, w);
}

REMOTE_API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (free_bytes == nullptr && total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemGetInfo, wire::Writer(), &reply); r != CUDA_SUCCESS) return r;
  if (free_bytes != nullptr) *free_bytes = reply.mem_free;
  if (total_bytes != nullptr) *total_bytes = reply.mem_total;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(objects().mutex);
  CUdeviceptr start = 0;
  const Allocation* a = find_range_locked(dptr, 0, &start);
  if (a == nullptr || dptr == 0) return CUDA_ERROR_NOT_FOUND;
  if (base != nullptr) *base = start;
  if (size != nullptr) *size = a->bytes;
  return CUDA_SUCCESS;
}

// Stream-ordered: forwarded (the worker allocates from its device's default
// pool); tracked as an allocation like cuMemAlloc's.
namespace {

CUresult alloc_async(CUdeviceptr* dptr, size_t bytes, CUstream s) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, bytes);
  w.u64(2, stream);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kMemAllocAsync, w, &reply); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(objects().mutex);
  objects().allocations[reply.handle] = Allocation{bytes, ctx, true};
  *dptr = reply.handle;
  return CUDA_SUCCESS;
}

CUresult free_async(CUdeviceptr dptr, CUstream s) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto it = objects().allocations.find(dptr);
    if (it == objects().allocations.end() || !it->second.freeable) return CUDA_ERROR_INVALID_VALUE;
    objects().allocations.erase(it);
  }
  wire::Writer w;
  w.u64(1, dptr);
  w.u64(2, stream);
  return conn().post(wire::kMemFreeAsync, w);
}

}  // namespace

REMOTE_API CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream s) { return alloc_async(dptr, bytes, s); }
REMOTE_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUstream s) {
  return alloc_async(dptr, bytes, s);
}
REMOTE_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream s) { return free_async(dptr, s); }
REMOTE_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream s) { return free_async(dptr, s); }

// "CUDA_ERROR_NOT_SUPPORTED if the device does not support managed memory".
REMOTE_API CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytes, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  return CUDA_ERROR_NOT_SUPPORTED;
}

// ---- host memory: local -----------------------------------------------------------

namespace {

struct HostBlock {
  size_t bytes;
  Context* ctx;
  unsigned flags;
};
std::mutex g_host_mutex;
std::map<uintptr_t, HostBlock> g_host;  // cuMemAllocHost / cuMemHostAlloc

CUresult host_alloc(void** pp, size_t bytes, unsigned flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (pp == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED))
    return CUDA_ERROR_INVALID_VALUE;
  void* p = nullptr;
  if (posix_memalign(&p, 4096, bytes) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard<std::mutex> lock(g_host_mutex);
  g_host[reinterpret_cast<uintptr_t>(p)] = HostBlock{bytes, ctx, flags};
  *pp = p;
  return CUDA_SUCCESS;
}

// The host block containing p, or null.
const HostBlock* host_block_locked(uintptr_t p, uintptr_t* base) {
  auto it = g_host.upper_bound(p);
  if (it == g_host.begin()) return nullptr;
  --it;
  if (p - it->first >= it->second.bytes) return nullptr;
  *base = it->first;
  return &it->second;
}

}  // namespace

REMOTE_API CUresult cuMemAllocHost_v2(void** pp, size_t bytes) { return host_alloc(pp, bytes, 0); }

REMOTE_API CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned int flags) {
  return host_alloc(pp, bytes, flags);
}

REMOTE_API CUresult cuMemFreeHost(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_host_mutex);
  auto it = g_host.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_host.end() || (it->second.flags & 0x80000000u)) return CUDA_ERROR_INVALID_VALUE;
  g_host.erase(it);
  std::free(p);
  return CUDA_SUCCESS;
}

// Registering pages is bookkeeping only (copies read host memory anyway). The
// device cannot map this process's memory (CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY
// is 0): as the driver does for cuMemHostAlloc on such a device, the DEVICEMAP
// flag is accepted and the failure comes from cuMemHostGetDevicePointer.
REMOTE_API CUresult cuMemHostRegister_v2(void* p, size_t bytes, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (p == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_IOMEMORY |
                CU_MEMHOSTREGISTER_READ_ONLY))
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_host_mutex);
  uintptr_t base = 0;
  if (host_block_locked(reinterpret_cast<uintptr_t>(p), &base) != nullptr)
    return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  g_host[reinterpret_cast<uintptr_t>(p)] = HostBlock{bytes, ctx, flags | 0x80000000u};
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemHostUnregister(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_host_mutex);
  auto it = g_host.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_host.end() || !(it->second.flags & 0x80000000u)) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  g_host.erase(it);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  // "will fail ... if the function is called on a GPU that does not support
  // mapped pinned memory", with the error the driver documents for it (the
  // one bad arguments get too).
  return CUDA_ERROR_INVALID_VALUE;
}

REMOTE_API CUresult cuMemHostGetFlags(unsigned int* flags, void* p) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_host_mutex);
  uintptr_t base = 0;
  const HostBlock* b = host_block_locked(reinterpret_cast<uintptr_t>(p), &base);
  if (b == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = b->flags & ~0x80000000u;
  return CUDA_SUCCESS;
}

// ---- pointer attributes -------------------------------------------------------------

namespace {

CUresult pointer_attribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  CUdeviceptr base = 0;
  uint64_t bytes = 0;
  Context* ctx = nullptr;
  unsigned type = 0;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    if (const Allocation* a = find_range_locked(ptr, 0, &base); a != nullptr && ptr != 0) {
      bytes = a->bytes;
      ctx = a->ctx;
      type = CU_MEMORYTYPE_DEVICE;
    }
  }
  if (type == 0) {
    std::lock_guard<std::mutex> lock(g_host_mutex);
    uintptr_t hbase = 0;
    if (const HostBlock* b = host_block_locked(static_cast<uintptr_t>(ptr), &hbase)) {
      base = hbase;
      bytes = b->bytes;
      ctx = b->ctx;
      type = CU_MEMORYTYPE_HOST;
    }
  }
  if (type == 0) return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *static_cast<CUcontext*>(data) = reinterpret_cast<CUcontext>(ctx); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: *static_cast<unsigned*>(data) = type; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      *static_cast<CUdeviceptr*>(data) = type == CU_MEMORYTYPE_DEVICE ? ptr : 0;
      if (type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (type != CU_MEMORYTYPE_HOST) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<void**>(data) = reinterpret_cast<void*>(ptr);
      break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *static_cast<unsigned*>(data) = 0; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *static_cast<int*>(data) = 0; break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *static_cast<CUdeviceptr*>(data) = base; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *static_cast<size_t*>(data) = bytes; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: *static_cast<int*>(data) = 1; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *static_cast<unsigned long long*>(data) = base; break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *static_cast<int*>(data) = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace

REMOTE_API CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return pointer_attribute(data, attribute, ptr);
}

REMOTE_API CUresult cuPointerGetAttributes(unsigned int n, CUpointer_attribute* attributes, void** data,
                                          CUdeviceptr ptr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (n == 0 || attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < n; ++i) {
    if (data[i] == nullptr) continue;
    if (pointer_attribute(data[i], attributes[i], ptr) != CUDA_SUCCESS) {
      // Not a CUDA pointer: zeros, and no error (as documented).
      switch (attributes[i]) {
        case CU_POINTER_ATTRIBUTE_CONTEXT: *static_cast<CUcontext*>(data[i]) = nullptr; break;
        case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
        case CU_POINTER_ATTRIBUTE_BUFFER_ID: *static_cast<uint64_t*>(data[i]) = 0; break;
        case CU_POINTER_ATTRIBUTE_HOST_POINTER: *static_cast<void**>(data[i]) = nullptr; break;
        case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *static_cast<size_t*>(data[i]) = 0; break;
        case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *static_cast<int*>(data[i]) = -2; break;
        default: *static_cast<unsigned*>(data[i]) = 0; break;
      }
    }
  }
  return CUDA_SUCCESS;
}
