// hooks_memory.cc — every linear, VMM and stream-ordered allocation path
// charges the job's quota (charging.h), every free uncharges it.
//
// The pattern (quota.h): charge before the real call — over quota means
// CUDA_ERROR_OUT_OF_MEMORY and the driver is never called, so nothing is
// allocated — and uncharge if the real call fails. Successful allocations are
// recorded (allocations.h) so that the free uncharges exactly what was
// charged, on the device it was charged to.
//
// What is charged, and to which device:
//   cuMemAlloc, cuMemAllocManaged   the bytes asked for; the current context's
//                                   device (managed memory is charged where it
//                                   is allocated, wherever it migrates later).
//   cuMemAllocPitch                 an upper bound first — the width rounded up
//                                   to 512 bytes, times the height — then, once
//                                   the driver has chosen the pitch, exactly
//                                   pitch * height.
//   cuMemCreate                     the size, to prop->location's device
//                                   (host-located memory is not charged), for
//                                   as long as the driver keeps the memory: until
//                                   the handle is released (every cuMemRelease
//                                   of cuMemCreate and cuMemRetainAllocationHandle)
//                                   and every cuMemMap of it is unmapped.
//   cuMemAllocAsync,                the bytes asked for, at the call, to the
//   cuMemAllocFromPoolAsync         pool's device (pools of cuMemPoolCreate) or
//                                   the stream's; uncharged by the free
//                                   (cuMemFreeAsync or cuMemFree) at its call.
//                                   Memory a pool keeps cached after frees
//                                   (release threshold) is not charged.
//   arrays                          hooks_array.cc.
// A call made without a current context goes to the driver uncharged: the
// driver refuses it (CUDA_ERROR_INVALID_CONTEXT) and allocates nothing.
//
// Destroying a context releases the memory made in it without frees the shim
// could see: hooks_context.cc uncharges it.
//
// On a device the agent oversubscribes, cuMemAlloc_v2 and cuMemAllocPitch_v2
// memory is made swappable (swap.h): backed through the VMM API by the shim
// itself, charged the same bytes as above; cuMemFree_v2 and cuMemFreeAsync of
// such a pointer release it.
#include "allocations.h"
#include "charging.h"
#include "hook_table.h"
#include "log.h"
#include "quota.h"
#include "real_driver.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

// ---- pitch ---------------------------------------------------------------------

// Charges the upper bound, allocates, then settles on pitch * height.
template <typename Ptr, typename Size, typename Alloc, typename Free>
CUresult pitch_alloc(Ptr* dptr, Size* pitch, size_t width, size_t height, const char* name, Alloc alloc,
                     Free free_fn) {
  int dev = current_device();
  if (dev < 0) return alloc();
  uint64_t bound = mul_sat(round_up(width, kLinearAlign), height);
  if (!charge(dev, bound, name)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult r = alloc();
  if (r != CUDA_SUCCESS) {
    quota_uncharge(dev, bound);
    return r;
  }
  uint64_t actual = mul_sat(*pitch, height);
  if (actual < bound) {
    quota_uncharge(dev, bound - actual);
  } else if (actual > bound && !charge(dev, actual - bound, name)) {
    free_fn(*dptr);
    quota_uncharge(dev, bound);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  remember(Resource::kDevicePointer, static_cast<uint64_t>(*dptr), dev, actual);
  return r;
}

// ---- stream-ordered ------------------------------------------------------------

template <typename Alloc>
CUresult async_alloc(CUdeviceptr* dptr, size_t bytes, int dev, const char* name, Alloc alloc) {
  if (dev < 0 || dptr == nullptr) return alloc();
  return charged(Resource::kDevicePointer, dev, bytes, name, [&](uint64_t* key) {
    CUresult r = alloc();
    if (r == CUDA_SUCCESS) *key = *dptr;
    return r;
  });
}

int pool_alloc_device(CUmemoryPool pool, CUstream stream) {
  int dev = -1;
  if (pool_device(pool, &dev)) return dev;  // -1: a host pool, not charged
  return stream_device(stream);             // a device's own pool: the stream's device
}

// ---- swappable memory (swap.h) ------------------------------------------------------

// cuMemAllocPitch_v2 on an oversubscribed device: rows 512-byte aligned (the
// alignment the sim and current GPUs give), charged pitch * height exactly.
CUresult swappable_pitch(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height, unsigned element,
                         int dev, int physical) {
  if ((element != 4 && element != 8 && element != 16) || width == 0 || height == 0)
    return CUDA_ERROR_INVALID_VALUE;
  const uint64_t row = round_up(width, kLinearAlign);
  const uint64_t bytes = mul_sat(row, height);
  if (bytes == UINT64_MAX) return CUDA_ERROR_OUT_OF_MEMORY;
  return charged(Resource::kDevicePointer, dev, bytes, "cuMemAllocPitch", [&](uint64_t* key) {
    CUresult r = swap_alloc(dev, physical, bytes, dptr);
    if (r == CUDA_SUCCESS) {
      *key = *dptr;
      *pitch = row;
    }
    return r;
  });
}

// A stream-ordered free of a swappable allocation frees it once the work
// queued on the stream before it is done, as the driver does for cuMemAlloc
// memory; anything else goes to the driver.
template <typename Free>
CUresult swappable_free_async(CUdeviceptr dptr, CUstream stream, bool per_thread, Free free_fn) {
  SwapRange range;
  if (!swap_find(dptr, &range) || range.base != dptr) return free_fn();
  if (stream == nullptr && per_thread) stream = CU_STREAM_PER_THREAD;
  if (auto sync = SHIM_REAL(cuStreamSynchronize)) {
    CUresult r = sync(stream);
    if (r != CUDA_SUCCESS) return r;
  }
  CUresult r = CUDA_SUCCESS;
  return swap_free(dptr, &r) ? r : free_fn();
}

}  // namespace

// ---- linear memory ----------------------------------------------------------------

SHIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  auto real = SHIM_REAL(cuMemAlloc_v2);
  if (real == nullptr) return missing_real_result();
  int dev = current_device();
  if (dev < 0 || dptr == nullptr) return real(dptr, bytesize);
  int physical = -1;
  if (bytesize > 0 && swap_backs(dev, &physical))
    return charged(Resource::kDevicePointer, dev, bytesize, "cuMemAlloc", [&](uint64_t* key) {
      CUresult r = swap_alloc(dev, physical, bytesize, dptr);
      if (r == CUDA_SUCCESS) *key = *dptr;
      return r;
    });
  return charged(Resource::kDevicePointer, dev, bytesize, "cuMemAlloc", [&](uint64_t* key) {
    CUresult r = real(dptr, bytesize);
    if (r == CUDA_SUCCESS) *key = *dptr;
    return r;
  });
}

SHIM_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1* dptr, unsigned int bytesize) {
  auto real = SHIM_REAL(cuMemAlloc);
  if (real == nullptr) return missing_real_result();
  int dev = current_device();
  if (dev < 0 || dptr == nullptr) return real(dptr, bytesize);
  return charged(Resource::kDevicePointer, dev, bytesize, "cuMemAlloc", [&](uint64_t* key) {
    CUresult r = real(dptr, bytesize);
    if (r == CUDA_SUCCESS) *key = *dptr;
    return r;
  });
}

SHIM_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes, size_t Height,
                                        unsigned int ElementSizeBytes) {
  auto real = SHIM_REAL(cuMemAllocPitch_v2);
  if (real == nullptr) return missing_real_result();
  auto alloc = [&] { return real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes); };
  if (dptr == nullptr || pPitch == nullptr) return alloc();
  int physical = -1;
  int dev = current_device();
  if (dev >= 0 && swap_backs(dev, &physical)) return swappable_pitch(dptr, pPitch, WidthInBytes, Height,
                                                                     ElementSizeBytes, dev, physical);
  return pitch_alloc(dptr, pPitch, WidthInBytes, Height, "cuMemAllocPitch", alloc, [](CUdeviceptr p) {
    if (auto free_fn = SHIM_REAL(cuMemFree_v2)) free_fn(p);
  });
}

SHIM_EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1* dptr, unsigned int* pPitch, unsigned int WidthInBytes,
                                     unsigned int Height, unsigned int ElementSizeBytes) {
  auto real = SHIM_REAL(cuMemAllocPitch);
  if (real == nullptr) return missing_real_result();
  auto alloc = [&] { return real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes); };
  if (dptr == nullptr || pPitch == nullptr) return alloc();
  return pitch_alloc(dptr, pPitch, WidthInBytes, Height, "cuMemAllocPitch", alloc, [](CUdeviceptr_v1 p) {
    if (auto free_fn = SHIM_REAL(cuMemFree)) free_fn(p);
  });
}

SHIM_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  auto real = SHIM_REAL(cuMemAllocManaged);
  if (real == nullptr) return missing_real_result();
  int dev = current_device();
  if (dev < 0 || dptr == nullptr) return real(dptr, bytesize, flags);
  return charged(Resource::kDevicePointer, dev, bytesize, "cuMemAllocManaged", [&](uint64_t* key) {
    CUresult r = real(dptr, bytesize, flags);
    if (r == CUDA_SUCCESS) *key = *dptr;
    return r;
  });
}

SHIM_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  auto real = SHIM_REAL(cuMemFree_v2);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kDevicePointer, dptr, [&] {
    CUresult r = CUDA_SUCCESS;
    return swap_free(dptr, &r) ? r : real(dptr);
  });
}

SHIM_EXPORT CUresult cuMemFree(CUdeviceptr_v1 dptr) {
  auto real = SHIM_REAL(cuMemFree);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kDevicePointer, dptr, [&] { return real(dptr); });
}

// ---- virtual memory management ------------------------------------------------------

SHIM_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                                 unsigned long long flags) {
  auto real = SHIM_REAL(cuMemCreate);
  if (real == nullptr) return missing_real_result();
  if (handle == nullptr || prop == nullptr || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return real(handle, size, prop, flags);
  return charged(Resource::kVmmHandle, prop->location.id, size, "cuMemCreate", [&](uint64_t* key) {
    CUresult r = real(handle, size, prop, flags);
    if (r == CUDA_SUCCESS) *key = *handle;
    return r;
  });
}

SHIM_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  auto real = SHIM_REAL(cuMemRetainAllocationHandle);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(handle, addr);
  if (r == CUDA_SUCCESS && handle != nullptr) allocation_retain(Resource::kVmmHandle, *handle);
  return r;
}

SHIM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  auto real = SHIM_REAL(cuMemRelease);
  if (real == nullptr) return missing_real_result();
  bool last = false;
  Allocation a;
  bool known = allocation_release(Resource::kVmmHandle, handle, &last, &a);
  CUresult r = real(handle);
  if (known) {
    if (r != CUDA_SUCCESS) allocation_unrelease(Resource::kVmmHandle, handle, last, a);
    else if (last) quota_uncharge(a.device, a.bytes);
  }
  return r;
}

SHIM_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                              unsigned long long flags) {
  auto real = SHIM_REAL(cuMemMap);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(ptr, size, offset, handle, flags);
  if (r == CUDA_SUCCESS && allocation_retain(Resource::kVmmHandle, handle)) mapping_add(Mapping{ptr, size, handle});
  return r;
}

SHIM_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  auto real = SHIM_REAL(cuMemUnmap);
  if (real == nullptr) return missing_real_result();
  std::vector<Mapping> unmapped = mappings_take(ptr, size);
  CUresult r = real(ptr, size);
  if (r != CUDA_SUCCESS) {
    mappings_restore(unmapped);
    return r;
  }
  for (const Mapping& m : unmapped) {
    bool last = false;
    Allocation a;
    if (allocation_release(Resource::kVmmHandle, m.handle, &last, &a) && last) quota_uncharge(a.device, a.bytes);
  }
  return r;
}

// ---- stream-ordered memory ------------------------------------------------------------

SHIM_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  auto real = SHIM_REAL(cuMemAllocAsync);
  if (real == nullptr) return missing_real_result();
  return async_alloc(dptr, bytesize, stream_device(hStream), "cuMemAllocAsync",
                     [&] { return real(dptr, bytesize, hStream); });
}

SHIM_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  auto real = SHIM_REAL(cuMemAllocAsync_ptsz);
  if (real == nullptr) return missing_real_result();
  return async_alloc(dptr, bytesize, stream_device(hStream), "cuMemAllocAsync",
                     [&] { return real(dptr, bytesize, hStream); });
}

SHIM_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                             CUstream hStream) {
  auto real = SHIM_REAL(cuMemAllocFromPoolAsync);
  if (real == nullptr) return missing_real_result();
  return async_alloc(dptr, bytesize, pool_alloc_device(pool, hStream), "cuMemAllocFromPoolAsync",
                     [&] { return real(dptr, bytesize, pool, hStream); });
}

SHIM_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                                  CUstream hStream) {
  auto real = SHIM_REAL(cuMemAllocFromPoolAsync_ptsz);
  if (real == nullptr) return missing_real_result();
  return async_alloc(dptr, bytesize, pool_alloc_device(pool, hStream), "cuMemAllocFromPoolAsync",
                     [&] { return real(dptr, bytesize, pool, hStream); });
}

SHIM_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
  auto real = SHIM_REAL(cuMemFreeAsync);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kDevicePointer, dptr, [&] {
    return swappable_free_async(dptr, hStream, false, [&] { return real(dptr, hStream); });
  });
}

SHIM_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream) {
  auto real = SHIM_REAL(cuMemFreeAsync_ptsz);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kDevicePointer, dptr, [&] {
    return swappable_free_async(dptr, hStream, true, [&] { return real(dptr, hStream); });
  });
}

SHIM_EXPORT CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* poolProps) {
  auto real = SHIM_REAL(cuMemPoolCreate);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(pool, poolProps);
  if (r == CUDA_SUCCESS && pool != nullptr && poolProps != nullptr) {
    bool on_device = poolProps->location.type == CU_MEM_LOCATION_TYPE_DEVICE;
    pool_remember(*pool, on_device ? poolProps->location.id : -1);
  }
  return r;
}

SHIM_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  auto real = SHIM_REAL(cuMemPoolDestroy);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(pool);
  // Allocations still out keep their records; they are uncharged when freed.
  if (r == CUDA_SUCCESS) pool_forget(pool);
  return r;
}
