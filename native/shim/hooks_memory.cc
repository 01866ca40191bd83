// hooks_memory.cc — every allocation path charges the job's quota, every free
// uncharges it.
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
//   cuArrayCreate, cuArray3DCreate, width * max(height,1) * max(depth,1) *
//   cuMipmappedArrayCreate          element size, rounded up to 512 bytes; a
//                                   mipmapped array the sum of its levels; the
//                                   current context's device. Sparse and
//                                   deferred-mapping arrays have no memory of
//                                   their own (their backing comes from
//                                   cuMemCreate) and are not charged.
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
#include <algorithm>

#include "allocations.h"
#include "hook_table.h"
#include "log.h"
#include "quota.h"
#include "real_driver.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

constexpr uint64_t kLinearAlign = 512;

uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t round_up(uint64_t v, uint64_t a) { return v > UINT64_MAX - (a - 1) ? UINT64_MAX : (v + a - 1) / a * a; }

// The device of the calling thread's current context; -1 when there is none.
int current_device() {
  auto get = SHIM_REAL(cuCtxGetDevice);
  CUdevice dev = -1;
  if (get == nullptr || get(&dev) != CUDA_SUCCESS) return -1;
  return dev;
}

// The device a stream-ordered allocation on `stream` comes from.
int stream_device(CUstream stream) {
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) return current_device();
  if (auto get = SHIM_REAL(cuStreamGetDevice)) {  // CUDA >= 12.8 drivers
    CUdevice dev = -1;
    if (get(stream, &dev) == CUDA_SUCCESS) return dev;
  }
  return current_device();
}

// Reserves `bytes` on `device`; false when the job may not have them.
bool charge(int device, uint64_t bytes, const char* call) {
  Charge c = quota_charge(device, bytes);
  if (c == Charge::kOk) {
    // A process holding memory must answer eviction requests (swap.h), even
    // one that never submits work: its gate thread does.
    swap_answer_requests();
    return true;
  }
  GPUPOOL_LOG_INFO("%s of %llu bytes on device %d refused: %s", call, static_cast<unsigned long long>(bytes),
                   device, c == Charge::kOverQuota ? "over the job's quota" : "the quota is unavailable");
  return false;
}

// The calling thread's current context, as a record key; 0 when none.
uint64_t current_context() {
  auto get = SHIM_REAL(cuCtxGetCurrent);
  CUcontext ctx = nullptr;
  if (get == nullptr || get(&ctx) != CUDA_SUCCESS) return 0;
  return reinterpret_cast<uint64_t>(ctx);
}

void remember(Resource kind, uint64_t key, int device, uint64_t bytes) {
  // VMM memory outlives contexts; everything else dies with the one it was made in.
  uint64_t context = kind == Resource::kVmmHandle ? 0 : current_context();
  Allocation stale;
  if (allocation_add(kind, key, device, bytes, context, &stale)) {
    GPUPOOL_LOG_DEBUG("allocation %#llx reused before the shim saw it freed; releasing its old charge",
                      static_cast<unsigned long long>(key));
    quota_uncharge(stale.device, stale.bytes);
  }
}

// Charge, call, record: the common shape of an allocation hook. `call` runs
// the real allocation and returns its result and key.
template <typename Call>
CUresult charged(Resource kind, int device, uint64_t bytes, const char* name, Call call) {
  if (!charge(device, bytes, name)) return CUDA_ERROR_OUT_OF_MEMORY;
  uint64_t key = 0;
  CUresult r = call(&key);
  if (r != CUDA_SUCCESS || key == 0) {
    quota_uncharge(device, bytes);  // failed, or nothing allocated (0 bytes)
    return r;
  }
  remember(kind, key, device, bytes);
  return r;
}

// Take the record, free, uncharge — or restore the record if the driver refuses.
template <typename Call>
CUresult uncharged(Resource kind, uint64_t key, Call call) {
  Allocation a;
  bool known = key != 0 && allocation_take(kind, key, &a);
  CUresult r = call();
  if (known) {
    if (r == CUDA_SUCCESS) quota_uncharge(a.device, a.bytes);
    else allocation_restore(kind, key, a);
  }
  return r;
}

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

// ---- arrays ----------------------------------------------------------------------

// Bytes per texel, in eighths of a byte (YUV and block-compressed formats
// have fractional sizes); *block4: the format stores 4x4 blocks.
uint64_t texel_eighths(CUarray_format format, unsigned channels, bool* block4) {
  *block4 = false;
  uint64_t ch = channels == 0 ? 1 : channels;
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 8 * ch;
    case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 16 * ch;
    case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 32 * ch;
    case CU_AD_FORMAT_UNORM_INT8X1: case CU_AD_FORMAT_SNORM_INT8X1: return 8;
    case CU_AD_FORMAT_UNORM_INT8X2: case CU_AD_FORMAT_SNORM_INT8X2: return 16;
    case CU_AD_FORMAT_UNORM_INT8X4: case CU_AD_FORMAT_SNORM_INT8X4: return 32;
    case CU_AD_FORMAT_UNORM_INT16X1: case CU_AD_FORMAT_SNORM_INT16X1: return 16;
    case CU_AD_FORMAT_UNORM_INT16X2: case CU_AD_FORMAT_SNORM_INT16X2: return 32;
    case CU_AD_FORMAT_UNORM_INT16X4: case CU_AD_FORMAT_SNORM_INT16X4: return 64;
    case CU_AD_FORMAT_BC1_UNORM: case CU_AD_FORMAT_BC1_UNORM_SRGB:
    case CU_AD_FORMAT_BC4_UNORM: case CU_AD_FORMAT_BC4_SNORM:
      *block4 = true;
      return 4;  // 8 bytes per 4x4 block
    case CU_AD_FORMAT_BC2_UNORM: case CU_AD_FORMAT_BC2_UNORM_SRGB:
    case CU_AD_FORMAT_BC3_UNORM: case CU_AD_FORMAT_BC3_UNORM_SRGB:
    case CU_AD_FORMAT_BC5_UNORM: case CU_AD_FORMAT_BC5_SNORM:
    case CU_AD_FORMAT_BC6H_UF16: case CU_AD_FORMAT_BC6H_SF16:
    case CU_AD_FORMAT_BC7_UNORM: case CU_AD_FORMAT_BC7_UNORM_SRGB:
      *block4 = true;
      return 8;  // 16 bytes per 4x4 block
    case CU_AD_FORMAT_NV12: return 12;
    case CU_AD_FORMAT_NV16: case CU_AD_FORMAT_YUY2: return 16;
    case CU_AD_FORMAT_P010: case CU_AD_FORMAT_P016: case CU_AD_FORMAT_Y444_PLANAR8:
    case CU_AD_FORMAT_YUV444_8bit_SemiPlanar: return 24;
    case CU_AD_FORMAT_P210: case CU_AD_FORMAT_P216: case CU_AD_FORMAT_Y210: case CU_AD_FORMAT_Y216:
    case CU_AD_FORMAT_AYUV: case CU_AD_FORMAT_Y410: case CU_AD_FORMAT_UNORM_INT_101010_2: return 32;
    case CU_AD_FORMAT_Y444_PLANAR10: case CU_AD_FORMAT_YUV444_16bit_SemiPlanar: return 48;
    case CU_AD_FORMAT_Y416: return 64;
    default: return 16 * 8;  // unknown: the largest element there is
  }
}

struct Shape {
  uint64_t width, height, depth;
  CUarray_format format;
  unsigned channels, flags;
};

uint64_t level_bytes(uint64_t w, uint64_t h, uint64_t d, uint64_t eighths, bool block4) {
  if (block4) {
    w = round_up(w, 4);
    h = round_up(h ? h : 1, 4);
  }
  uint64_t texels = mul_sat(mul_sat(w, h ? h : 1), d ? d : 1);
  uint64_t eighth_bytes = mul_sat(texels, eighths);
  return round_up(eighth_bytes == UINT64_MAX ? UINT64_MAX : (eighth_bytes + 7) / 8, kLinearAlign);
}

// The memory an array of `levels` mip levels (1: a plain array) takes.
uint64_t array_bytes(const Shape& s, unsigned levels) {
  if (s.flags & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING)) return 0;
  bool block4 = false;
  uint64_t eighths = texel_eighths(s.format, s.channels, &block4);
  // Layers and cube faces are not mip-mapped: only width, height and a 3D depth halve.
  const bool depth_halves = (s.flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) == 0;
  uint64_t largest = std::max(s.width, std::max(s.height, depth_halves ? s.depth : 0));
  unsigned max_levels = 1;
  for (uint64_t v = largest; v > 1; v /= 2) ++max_levels;
  levels = std::min(std::max(levels, 1u), max_levels);  // the driver clamps the same way
  uint64_t w = s.width, h = s.height, d = s.depth, total = 0;
  for (unsigned i = 0; i < levels; ++i) {
    total = add_sat(total, level_bytes(w, h, d, eighths, block4));
    w = w > 1 ? w / 2 : 1;
    if (h) h = h > 1 ? h / 2 : 1;
    if (d && depth_halves) d = d > 1 ? d / 2 : 1;
  }
  return total;
}

template <typename Desc>
Shape shape2d(const Desc& d) {
  return Shape{d.Width, d.Height, 0, d.Format, d.NumChannels, 0};
}
template <typename Desc>
Shape shape3d(const Desc& d) {
  return Shape{d.Width, d.Height, d.Depth, d.Format, d.NumChannels, d.Flags};
}

// Charge, create, record for the array hooks. `handle` is the caller's output.
template <typename Handle, typename Create>
CUresult array_create(Resource kind, Handle* handle, const Shape* shape, unsigned levels, const char* name,
                      Create create) {
  int dev = current_device();
  if (dev < 0 || handle == nullptr || shape == nullptr) return create();
  uint64_t bytes = array_bytes(*shape, levels);
  if (bytes == 0) return create();
  return charged(kind, dev, bytes, name, [&](uint64_t* key) {
    CUresult r = create();
    if (r == CUDA_SUCCESS) *key = reinterpret_cast<uint64_t>(*handle);
    return r;
  });
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

// ---- arrays ----------------------------------------------------------------------------

SHIM_EXPORT CUresult cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* pAllocateArray) {
  auto real = SHIM_REAL(cuArrayCreate_v2);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape2d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArrayCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArrayCreate(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR_v1* pAllocateArray) {
  auto real = SHIM_REAL(cuArrayCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape2d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArrayCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* pAllocateArray) {
  auto real = SHIM_REAL(cuArray3DCreate_v2);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape3d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArray3DCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArray3DCreate(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1* pAllocateArray) {
  auto real = SHIM_REAL(cuArray3DCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape3d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArray3DCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* pHandle,
                                            const CUDA_ARRAY3D_DESCRIPTOR* pMipmappedArrayDesc,
                                            unsigned int numMipmapLevels) {
  auto real = SHIM_REAL(cuMipmappedArrayCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pMipmappedArrayDesc != nullptr) s = shape3d(*pMipmappedArrayDesc);
  return array_create(Resource::kMipmappedArray, pHandle, pMipmappedArrayDesc ? &s : nullptr, numMipmapLevels,
                      "cuMipmappedArrayCreate", [&] { return real(pHandle, pMipmappedArrayDesc, numMipmapLevels); });
}

SHIM_EXPORT CUresult cuArrayDestroy(CUarray hArray) {
  auto real = SHIM_REAL(cuArrayDestroy);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kArray, reinterpret_cast<uint64_t>(hArray), [&] { return real(hArray); });
}

SHIM_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray) {
  auto real = SHIM_REAL(cuMipmappedArrayDestroy);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kMipmappedArray, reinterpret_cast<uint64_t>(hMipmappedArray),
                   [&] { return real(hMipmappedArray); });
}
