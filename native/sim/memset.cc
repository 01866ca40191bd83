// memset.cc — cuMemsetD8/D16/D32, their 2D forms, and the Async variants.
//
// A memset is device work like a kernel: validated up front (the destination
// must be device-accessible memory of the right alignment, entirely inside one
// allocation — otherwise CUDA_ERROR_INVALID_VALUE and nothing is written), then
// queued on the resolved stream (recorded as a graph node while it is
// captured) and run on the device's executor in stream order. The synchronous
// forms return once it has run; the Async forms return at once. _ptds/_ptsz variants use the per-thread default stream for NULL.
#include <cstring>

#include "graph.h"
#include "memory_internal.h"

using namespace gpupool::sim;

namespace {

template <typename T>
void fill_row(uintptr_t dst, T value, size_t count) {
  if constexpr (sizeof(T) == 1) {
    memset(reinterpret_cast<void*>(dst), static_cast<int>(value), count);
    return;
  }
  T* p = reinterpret_cast<T*>(dst);
  for (size_t i = 0; i < count; ++i) p[i] = value;
}

// Validates `height` rows of `width` elements of T, rows `pitch` bytes apart,
// and returns the work that writes them.
template <typename T>
CUresult prepare(Context* ctx, CUdeviceptr dst, size_t pitch, T value, size_t width, size_t height,
                 std::function<CUresult()>* work) {
  // The destination (and, for more than one row, the pitch) must be aligned
  // to the element size.
  if (dst % sizeof(T) != 0 || (height > 1 && pitch % sizeof(T) != 0)) return CUDA_ERROR_INVALID_VALUE;
  size_t row_bytes = 0, extent = 0;
  if (__builtin_mul_overflow(width, sizeof(T), &row_bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && pitch < row_bytes) return CUDA_ERROR_INVALID_VALUE;
  if (__builtin_mul_overflow(height - 1, pitch, &extent) || __builtin_add_overflow(extent, row_bytes, &extent))
    return CUDA_ERROR_INVALID_VALUE;
  if (!range_accessible(ctx, static_cast<uintptr_t>(dst), extent, true)) return CUDA_ERROR_INVALID_VALUE;
  uintptr_t base = static_cast<uintptr_t>(dst);
  *work = [base, pitch, value, width, height] {
    for (size_t row = 0; row < height; ++row) fill_row<T>(base + row * pitch, value, width);
    return CUDA_SUCCESS;
  };
  return CUDA_SUCCESS;
}

template <typename T>
CUresult memset_2d(CUdeviceptr dst, size_t pitch, T value, size_t width, size_t height, CUstream h,
                   bool per_thread, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, async ? h : nullptr, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (!async) {
    if (CUresult r = capture_check_unsafe(); r != CUDA_SUCCESS) return r;
  }
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  std::function<CUresult()> work;
  if (CUresult r = prepare<T>(ctx, dst, pitch, value, width, height, &work); r != CUDA_SUCCESS) return r;
  if (CUresult r = enqueue_work(s, CU_GRAPH_NODE_TYPE_MEMSET, std::move(work), !async); r != CUDA_SUCCESS) return r;
  return async ? CUDA_SUCCESS : synchronize(s);
}

template <typename T>
CUresult memset_1d(CUdeviceptr dst, T value, size_t n, CUstream h, bool per_thread, bool async) {
  return memset_2d<T>(dst, 0, value, n, 1, h, per_thread, async);
}

using U8 = unsigned char;
using U16 = unsigned short;
using U32 = unsigned int;

}  // namespace

namespace gpupool::sim {

CUresult prepare_memset(Context* ctx, CUdeviceptr dst, size_t pitch, unsigned value, unsigned element_size,
                        size_t width, size_t height, std::function<CUresult()>* work) {
  switch (element_size) {
    case 1: return prepare<U8>(ctx, dst, pitch, static_cast<U8>(value), width, height, work);
    case 2: return prepare<U16>(ctx, dst, pitch, static_cast<U16>(value), width, height, work);
    case 4: return prepare<U32>(ctx, dst, pitch, value, width, height, work);
    default: return CUDA_ERROR_INVALID_VALUE;  // "Must be 1, 2, or 4"
  }
}

}  // namespace gpupool::sim

SIM_API CUresult cuMemsetD8_v2(CUdeviceptr d, U8 v, size_t n) { return memset_1d<U8>(d, v, n, nullptr, false, false); }
SIM_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, U8 v, size_t n) {
  return memset_1d<U8>(d, v, n, nullptr, true, false);
}
SIM_API CUresult cuMemsetD16_v2(CUdeviceptr d, U16 v, size_t n) {
  return memset_1d<U16>(d, v, n, nullptr, false, false);
}
SIM_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, U16 v, size_t n) {
  return memset_1d<U16>(d, v, n, nullptr, true, false);
}
SIM_API CUresult cuMemsetD32_v2(CUdeviceptr d, U32 v, size_t n) {
  return memset_1d<U32>(d, v, n, nullptr, false, false);
}
SIM_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, U32 v, size_t n) {
  return memset_1d<U32>(d, v, n, nullptr, true, false);
}

SIM_API CUresult cuMemsetD8Async(CUdeviceptr d, U8 v, size_t n, CUstream h) {
  return memset_1d<U8>(d, v, n, h, false, true);
}
SIM_API CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, U8 v, size_t n, CUstream h) {
  return memset_1d<U8>(d, v, n, h, true, true);
}
SIM_API CUresult cuMemsetD16Async(CUdeviceptr d, U16 v, size_t n, CUstream h) {
  return memset_1d<U16>(d, v, n, h, false, true);
}
SIM_API CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, U16 v, size_t n, CUstream h) {
  return memset_1d<U16>(d, v, n, h, true, true);
}
SIM_API CUresult cuMemsetD32Async(CUdeviceptr d, U32 v, size_t n, CUstream h) {
  return memset_1d<U32>(d, v, n, h, false, true);
}
SIM_API CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, U32 v, size_t n, CUstream h) {
  return memset_1d<U32>(d, v, n, h, true, true);
}

SIM_API CUresult cuMemsetD2D8_v2(CUdeviceptr d, size_t pitch, U8 v, size_t w, size_t hgt) {
  return memset_2d<U8>(d, pitch, v, w, hgt, nullptr, false, false);
}
SIM_API CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr d, size_t pitch, U8 v, size_t w, size_t hgt) {
  return memset_2d<U8>(d, pitch, v, w, hgt, nullptr, true, false);
}
SIM_API CUresult cuMemsetD2D16_v2(CUdeviceptr d, size_t pitch, U16 v, size_t w, size_t hgt) {
  return memset_2d<U16>(d, pitch, v, w, hgt, nullptr, false, false);
}
SIM_API CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr d, size_t pitch, U16 v, size_t w, size_t hgt) {
  return memset_2d<U16>(d, pitch, v, w, hgt, nullptr, true, false);
}
SIM_API CUresult cuMemsetD2D32_v2(CUdeviceptr d, size_t pitch, U32 v, size_t w, size_t hgt) {
  return memset_2d<U32>(d, pitch, v, w, hgt, nullptr, false, false);
}
SIM_API CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr d, size_t pitch, U32 v, size_t w, size_t hgt) {
  return memset_2d<U32>(d, pitch, v, w, hgt, nullptr, true, false);
}

SIM_API CUresult cuMemsetD2D8Async(CUdeviceptr d, size_t pitch, U8 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U8>(d, pitch, v, w, hgt, h, false, true);
}
SIM_API CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr d, size_t pitch, U8 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U8>(d, pitch, v, w, hgt, h, true, true);
}
SIM_API CUresult cuMemsetD2D16Async(CUdeviceptr d, size_t pitch, U16 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U16>(d, pitch, v, w, hgt, h, false, true);
}
SIM_API CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr d, size_t pitch, U16 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U16>(d, pitch, v, w, hgt, h, true, true);
}
SIM_API CUresult cuMemsetD2D32Async(CUdeviceptr d, size_t pitch, U32 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U32>(d, pitch, v, w, hgt, h, false, true);
}
SIM_API CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr d, size_t pitch, U32 v, size_t w, size_t hgt, CUstream h) {
  return memset_2d<U32>(d, pitch, v, w, hgt, h, true, true);
}
