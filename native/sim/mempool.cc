// mempool.cc — the stream-ordered allocator (cuMemAllocAsync, cuMemFreeAsync)
// and the one memory pool each device has.
//
// The sim keeps no cache of freed blocks: an asynchronous allocation is an
// ordinary device allocation, made and charged at call time (so
// cuMemGetInfo and OUT_OF_MEMORY behave at once, as a pool with release
// threshold 0 does), and an asynchronous free detaches the pointer at call
// time (a second free fails) and gives the memory back when the stream reaches
// it, after all work queued before it. Each device has exactly one pool, its
// default and current pool; its attributes are stored and its usage counters
// are real, which is what callers that report pool usage read.
//
// Pools created with cuMemPoolCreate are not simulated (that entry point stays
// CUDA_ERROR_NOT_SUPPORTED), so a pool handle is always a device's default pool.
#include "graph.h"
#include "memory_internal.h"

namespace gpupool::sim {
namespace {

constexpr int kMaxPools = 64;  // one per device; at most 64 devices

struct MemPool {
  std::atomic<int> reuse_follow_event_dependencies{1};
  std::atomic<int> reuse_allow_opportunistic{1};
  std::atomic<int> reuse_allow_internal_dependencies{1};
  std::atomic<unsigned long long> release_threshold{0};
  std::atomic<long long> used{0};  // allocated from the pool and not yet freed
  std::atomic<long long> used_high{0};
  std::atomic<long long> reserved_high{0};
};

MemPool g_pools[kMaxPools];

CUmemoryPool handle_of(int ordinal) { return reinterpret_cast<CUmemoryPool>(&g_pools[ordinal]); }

// The device ordinal of a pool handle, or -1 when it is not one.
int pool_device(CUmemoryPool pool) {
  for (int i = 0, n = device_count(); i < n && i < kMaxPools; ++i)
    if (handle_of(i) == pool) return i;
  return -1;
}

void raise_to(std::atomic<long long>& high, long long value) {
  long long seen = high.load();
  while (seen < value && !high.compare_exchange_weak(seen, value)) {
  }
}

// Captured stream-ordered allocations are graph memory nodes, which the sim
// does not simulate: refused, and the capture invalidated so that it cannot
// end in a graph that silently lacks them.
CUresult refuse_capture(Stream* s) {
  if (!stream_capturing(s)) return CUDA_SUCCESS;
  capture_invalidate(s);
  return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult alloc_async(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool, bool use_pool, CUstream hStream,
                     bool per_thread) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, hStream, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = refuse_capture(s); r != CUDA_SUCCESS) return r;
  Device* d = s->ctx->device;
  if (use_pool) {
    int ordinal = pool_device(pool);
    if (ordinal < 0) return CUDA_ERROR_INVALID_VALUE;
    d = device(ordinal);
  } else {
    pool = handle_of(d->ordinal);
  }
  if (bytesize == 0) {  // accepted by the driver (observed on an H100): no memory, NULL pointer
    *dptr = 0;
    return CUDA_SUCCESS;
  }
  return linear_alloc(s->ctx, d, bytesize, RangeType::kDevice, 0, pool, dptr);
}

CUresult free_async(CUdeviceptr dptr, CUstream hStream, bool per_thread) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, hStream, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (CUresult r = refuse_capture(s); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_legacy(s); r != CUDA_SUCCESS) return r;
  if (dptr == 0) return CUDA_SUCCESS;
  RangeInfo r;
  if (!linear_detach(static_cast<uintptr_t>(dptr), type_bit(RangeType::kDevice) | type_bit(RangeType::kManaged),
                     &r))
    return CUDA_ERROR_INVALID_VALUE;
  submit(s, [r] {
    linear_release(r);
    return CUDA_SUCCESS;
  });
  return CUDA_SUCCESS;
}

// Pools exist for device-resident, pinned allocations only.
CUresult pool_for_location(const CUmemLocation* location, CUmemAllocationType type, int* ordinal) {
  if (location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_ALLOCATION_TYPE_PINNED && type != CU_MEM_ALLOCATION_TYPE_MANAGED)
    return CUDA_ERROR_INVALID_VALUE;
  switch (location->type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
      if (device(location->id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
      if (type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_NOT_SUPPORTED;
      *ordinal = location->id;
      return CUDA_SUCCESS;
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
      return CUDA_ERROR_NOT_SUPPORTED;
    case CU_MEM_LOCATION_TYPE_NONE:
      return type == CU_MEM_ALLOCATION_TYPE_MANAGED ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

void pool_account(CUmemoryPool pool, long long delta) {
  auto* p = reinterpret_cast<MemPool*>(pool);
  long long now = p->used.fetch_add(delta) + delta;
  raise_to(p->used_high, now);
  raise_to(p->reserved_high, now);
}

}  // namespace gpupool::sim

// ---- entry points -------------------------------------------------------------

using namespace gpupool::sim;

SIM_API CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  return alloc_async(dptr, bytesize, nullptr, false, hStream, false);
}
SIM_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  return alloc_async(dptr, bytesize, nullptr, false, hStream, true);
}
SIM_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream) {
  return alloc_async(dptr, bytesize, pool, true, hStream, false);
}
SIM_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                              CUstream hStream) {
  return alloc_async(dptr, bytesize, pool, true, hStream, true);
}
SIM_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) { return free_async(dptr, hStream, false); }
SIM_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream) { return free_async(dptr, hStream, true); }

SIM_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool_out, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pool_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *pool_out = handle_of(dev);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) {
  // The default pool is the only pool, hence always the current one.
  return cuDeviceGetDefaultMemPool(pool, dev);
}

SIM_API CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr || pool_device(pool) != dev) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;  // it already is the current pool
}

SIM_API CUresult cuMemGetDefaultMemPool(CUmemoryPool* pool_out, CUmemLocation* location, CUmemAllocationType type) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pool_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int ordinal = 0;
  if (CUresult r = pool_for_location(location, type, &ordinal); r != CUDA_SUCCESS) return r;
  *pool_out = handle_of(ordinal);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemGetMemPool(CUmemoryPool* pool, CUmemLocation* location, CUmemAllocationType type) {
  return cuMemGetDefaultMemPool(pool, location, type);
}

SIM_API CUresult cuMemSetMemPool(CUmemLocation* location, CUmemAllocationType type, CUmemoryPool pool) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  int ordinal = 0;
  if (pool_for_location(location, type, &ordinal) != CUDA_SUCCESS || pool_device(pool) != ordinal)
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pool_device(pool) < 0) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;  // nothing is ever kept beyond what is allocated
}

SIM_API CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pool_device(pool) < 0 || value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* p = reinterpret_cast<MemPool*>(pool);
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
      p->reuse_follow_event_dependencies.store(*static_cast<int*>(value));
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
      p->reuse_allow_opportunistic.store(*static_cast<int*>(value));
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      p->reuse_allow_internal_dependencies.store(*static_cast<int*>(value));
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      p->release_threshold.store(*static_cast<cuuint64_t*>(value));
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:  // only resetting (to 0) is allowed
      if (*static_cast<cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
      p->reserved_high.store(p->used.load());
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      if (*static_cast<cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
      p->used_high.store(p->used.load());
      return CUDA_SUCCESS;
    default:  // the *_CURRENT counters are read-only
      return CUDA_ERROR_INVALID_VALUE;
  }
}

SIM_API CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pool_device(pool) < 0 || value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* p = reinterpret_cast<MemPool*>(pool);
  auto u64 = [](long long v) { return static_cast<cuuint64_t>(v < 0 ? 0 : v); };
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
      *static_cast<int*>(value) = p->reuse_follow_event_dependencies.load();
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
      *static_cast<int*>(value) = p->reuse_allow_opportunistic.load();
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      *static_cast<int*>(value) = p->reuse_allow_internal_dependencies.load();
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      *static_cast<cuuint64_t*>(value) = p->release_threshold.load();
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:  // freed memory is not kept: reserved == used
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
      *static_cast<cuuint64_t*>(value) = u64(p->used.load());
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
      *static_cast<cuuint64_t*>(value) = u64(p->reserved_high.load());
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      *static_cast<cuuint64_t*>(value) = u64(p->used_high.load());
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}
