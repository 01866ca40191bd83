// copy2d.cc — pitched 2D copies: cuMemcpy2D, cuMemcpy2DUnaligned, cuMemcpy2DAsync.
//
// A CUDA_MEMCPY2D names each side by memory type (host, device, unified; CUDA
// arrays are not simulated and give CUDA_ERROR_NOT_SUPPORTED), a base, an
// (x, y) origin and a pitch. Each side is validated as the single span from its
// first to its last byte, so a copy that strays outside an allocation is
// rejected before anything is written; the rows are then queued through the
// same path as linear copies (copy.cc), with the same synchronisation rules.
// There is no alignment requirement to relax in the sim, so the Unaligned
// variant is the same copy.
#include "memory_internal.h"

namespace gpupool::sim {

CUresult check_copy_side(Context* ctx, const CopySide& side, size_t width, size_t height, bool write,
                         uintptr_t* start, bool* pageable) {
  *pageable = false;
  if (side.type == CU_MEMORYTYPE_ARRAY) return CUDA_ERROR_NOT_SUPPORTED;
  if (side.type != CU_MEMORYTYPE_HOST && side.type != CU_MEMORYTYPE_DEVICE && side.type != CU_MEMORYTYPE_UNIFIED)
    return CUDA_ERROR_INVALID_VALUE;
  // The pitch only matters from the second row on; then it must hold a row.
  size_t row_end = 0, offset = 0, extent = 0;
  if (__builtin_add_overflow(side.x, width, &row_end)) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && side.pitch < row_end) return CUDA_ERROR_INVALID_VALUE;
  if (__builtin_mul_overflow(side.y, side.pitch, &offset) || __builtin_add_overflow(offset, side.x, &offset) ||
      __builtin_mul_overflow(height - 1, side.pitch, &extent) || __builtin_add_overflow(extent, width, &extent) ||
      __builtin_add_overflow(side.base, offset, start))
    return CUDA_ERROR_INVALID_VALUE;
  if (side.base == 0) return CUDA_ERROR_INVALID_VALUE;
  if (side.type == CU_MEMORYTYPE_DEVICE)
    return range_accessible(ctx, *start, extent, write) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  switch (classify_host(ctx, *start, extent, write)) {
    case HostSide::kInvalid: return CUDA_ERROR_INVALID_VALUE;
    case HostSide::kPageable: *pageable = true; return CUDA_SUCCESS;
    case HostSide::kAccessible: return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}

}  // namespace gpupool::sim

using namespace gpupool::sim;

namespace {

CUresult copy_2d(const CUDA_MEMCPY2D* pc, CUstream h, bool per_thread, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, async ? h : nullptr, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (pc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (pc->WidthInBytes == 0 || pc->Height == 0) return CUDA_SUCCESS;
  auto base_of = [](CUmemorytype type, const void* host, CUdeviceptr dev) {
    return type == CU_MEMORYTYPE_HOST ? reinterpret_cast<uintptr_t>(host) : static_cast<uintptr_t>(dev);
  };
  CopySide src{pc->srcMemoryType, base_of(pc->srcMemoryType, pc->srcHost, pc->srcDevice), pc->srcXInBytes,
               pc->srcY, pc->srcPitch};
  CopySide dst{pc->dstMemoryType, base_of(pc->dstMemoryType, pc->dstHost, pc->dstDevice), pc->dstXInBytes,
               pc->dstY, pc->dstPitch};
  CopyPlan plan;
  plan.width = pc->WidthInBytes;
  plan.rows = pc->Height;
  plan.dst_pitch = dst.pitch;
  plan.src_pitch = src.pitch;
  if (CUresult r = check_copy_side(ctx, dst, plan.width, plan.rows, true, &plan.dst, &plan.dst_pageable);
      r != CUDA_SUCCESS)
    return r;
  if (CUresult r = check_copy_side(ctx, src, plan.width, plan.rows, false, &plan.src, &plan.src_pageable);
      r != CUDA_SUCCESS)
    return r;
  size_t total = 0;  // staging a pageable source needs width * height bytes
  if (__builtin_mul_overflow(plan.width, plan.rows, &total)) return CUDA_ERROR_INVALID_VALUE;
  return enqueue_copy(s, plan, async);
}

}  // namespace

SIM_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* pCopy) { return copy_2d(pCopy, nullptr, false, false); }
SIM_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* pCopy) { return copy_2d(pCopy, nullptr, true, false); }
SIM_API CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* pCopy) { return copy_2d(pCopy, nullptr, false, false); }
SIM_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D* pCopy) {
  return copy_2d(pCopy, nullptr, true, false);
}
SIM_API CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* pCopy, CUstream hStream) {
  return copy_2d(pCopy, hStream, false, true);
}
SIM_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* pCopy, CUstream hStream) {
  return copy_2d(pCopy, hStream, true, true);
}
