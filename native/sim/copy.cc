// copy.cc — linear memory copies: cuMemcpy, cuMemcpyHtoD/DtoH/DtoD, their
// Async forms, peer copies, and the queueing all copies share (enqueue_copy).
//
// Every copy is device work: it is queued on the resolved stream and runs on
// the device's executor in stream order, so a copy after a kernel sees the
// kernel's results and a kernel after a copy sees the copied data. The host
// side follows the driver's "API synchronization behavior":
//   - synchronous copies return once the copy has happened;
//   - asynchronous copies from pageable host memory snapshot the source into a
//     staging buffer (staging.cc) at call time and return (the driver stages
//     pageable memory), so the caller may reuse its buffer at once;
//   - asynchronous copies into pageable host memory complete before returning;
//   - with pinned host memory or device memory on both sides they are truly
//     asynchronous.
// Device-side ranges are validated against the allocation registry before
// anything is queued: a range that leaves its allocation is
// CUDA_ERROR_INVALID_VALUE and nothing is written.
//
// Each entry point comes in the variants cuda.h declares: _ptds/_ptsz resolve
// the NULL stream to the per-thread default stream instead of the legacy one.
#include <cstring>
#include <memory>
#include <new>

#include "memory_internal.h"

namespace gpupool::sim {

std::function<CUresult()> copy_work(const CopyPlan& plan, std::shared_ptr<char[]> keep_alive) {
  return [p = plan, keep_alive] {
    for (size_t i = 0; i < p.rows; ++i)
      memmove(reinterpret_cast<void*>(p.dst + i * p.dst_pitch), reinterpret_cast<const void*>(p.src + i * p.src_pitch),
              p.width);
    return CUDA_SUCCESS;
  };
}

CUresult enqueue_copy(Stream* stream, const CopyPlan& plan, bool async) {
  if (!async) {
    if (CUresult r = capture_check_unsafe(); r != CUDA_SUCCESS) return r;
  }
  // A captured copy becomes a memcpy node, which reads and writes host memory
  // when the graph runs: nothing is staged or waited for now.
  bool captured = async && stream_capturing(stream);
  CopyPlan p = plan;
  std::shared_ptr<char[]> staged;
  if (async && plan.src_pageable && !captured) {
    size_t total = plan.width * plan.rows;  // callers checked it fits the address space
    staged = staging_buffer(total);
    if (!staged) return CUDA_ERROR_OUT_OF_MEMORY;
    for (size_t i = 0; i < plan.rows; ++i)
      memcpy(staged.get() + i * plan.width, reinterpret_cast<const char*>(plan.src + i * plan.src_pitch),
             plan.width);
    p.src = reinterpret_cast<uintptr_t>(staged.get());
    p.src_pitch = plan.width;
  }
  if (CUresult r = enqueue_work(stream, CU_GRAPH_NODE_TYPE_MEMCPY, copy_work(p, staged), !async); r != CUDA_SUCCESS)
    return r;
  if (!captured && (!async || plan.dst_pageable)) return synchronize(stream);
  return CUDA_SUCCESS;
}

namespace {

// How an entry point names one side of a copy.
enum class Side { kHost, kDevice, kUnified };

// Validates one side; sets *pageable for ordinary host memory.
CUresult check_side(Context* ctx, Side side, uintptr_t p, size_t n, bool write, bool* pageable) {
  *pageable = false;
  if (side == Side::kDevice) return range_accessible(ctx, p, n, write) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  // Host pointers and unified pointers are told apart by address alike.
  switch (classify_host(ctx, p, n, write)) {
    case HostSide::kInvalid: return CUDA_ERROR_INVALID_VALUE;
    case HostSide::kPageable: *pageable = true; return CUDA_SUCCESS;
    case HostSide::kAccessible: return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult copy(uintptr_t dst, Side dst_side, uintptr_t src, Side src_side, size_t n, CUstream h, bool per_thread,
              bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, async ? h : nullptr, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  CopyPlan plan;
  plan.dst = dst;
  plan.src = src;
  plan.width = n;
  if (CUresult r = check_side(ctx, dst_side, dst, n, true, &plan.dst_pageable); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_side(ctx, src_side, src, n, false, &plan.src_pageable); r != CUDA_SUCCESS) return r;
  return enqueue_copy(s, plan, async);
}

CUresult copy_peer(CUdeviceptr dst, CUcontext dst_handle, CUdeviceptr src, CUcontext src_handle, size_t n,
                   CUstream h, bool per_thread, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Context* dst_ctx = nullptr;
  Context* src_ctx = nullptr;
  if (CUresult r = check_context(dst_handle, &dst_ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_context(src_handle, &src_ctx); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, async ? h : nullptr, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (!range_accessible(dst_ctx, dst, n, true) || !range_accessible(src_ctx, src, n, false))
    return CUDA_ERROR_INVALID_VALUE;
  if (!async) {
    // cuMemcpyPeer is serialised with all pending work of both contexts.
    synchronize_context(src_ctx);
    synchronize_context(dst_ctx);
  }
  CopyPlan plan;
  plan.dst = static_cast<uintptr_t>(dst);
  plan.src = static_cast<uintptr_t>(src);
  plan.width = n;
  return enqueue_copy(s, plan, async);
}

uintptr_t host(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace
}  // namespace gpupool::sim

// ---- entry points -------------------------------------------------------------

using namespace gpupool::sim;

SIM_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return copy(dst, Side::kUnified, src, Side::kUnified, ByteCount, nullptr, false, false);
}
SIM_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return copy(dst, Side::kUnified, src, Side::kUnified, ByteCount, nullptr, true, false);
}
SIM_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return copy(dst, Side::kUnified, src, Side::kUnified, ByteCount, hStream, false, true);
}
SIM_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return copy(dst, Side::kUnified, src, Side::kUnified, ByteCount, hStream, true, true);
}

SIM_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  return copy(dstDevice, Side::kDevice, host(srcHost), Side::kHost, ByteCount, nullptr, false, false);
}
SIM_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  return copy(dstDevice, Side::kDevice, host(srcHost), Side::kHost, ByteCount, nullptr, true, false);
}
SIM_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount,
                                      CUstream hStream) {
  return copy(dstDevice, Side::kDevice, host(srcHost), Side::kHost, ByteCount, hStream, false, true);
}
SIM_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount,
                                           CUstream hStream) {
  return copy(dstDevice, Side::kDevice, host(srcHost), Side::kHost, ByteCount, hStream, true, true);
}

SIM_API CUresult cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy(host(dstHost), Side::kHost, srcDevice, Side::kDevice, ByteCount, nullptr, false, false);
}
SIM_API CUresult cuMemcpyDtoH_v2_ptds(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy(host(dstHost), Side::kHost, srcDevice, Side::kDevice, ByteCount, nullptr, true, false);
}
SIM_API CUresult cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  return copy(host(dstHost), Side::kHost, srcDevice, Side::kDevice, ByteCount, hStream, false, true);
}
SIM_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                           CUstream hStream) {
  return copy(host(dstHost), Side::kHost, srcDevice, Side::kDevice, ByteCount, hStream, true, true);
}

SIM_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy(dstDevice, Side::kDevice, srcDevice, Side::kDevice, ByteCount, nullptr, false, false);
}
SIM_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy(dstDevice, Side::kDevice, srcDevice, Side::kDevice, ByteCount, nullptr, true, false);
}
SIM_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                      CUstream hStream) {
  return copy(dstDevice, Side::kDevice, srcDevice, Side::kDevice, ByteCount, hStream, false, true);
}
SIM_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                           CUstream hStream) {
  return copy(dstDevice, Side::kDevice, srcDevice, Side::kDevice, ByteCount, hStream, true, true);
}

SIM_API CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                              CUcontext srcContext, size_t ByteCount) {
  return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, nullptr, false, false);
}
SIM_API CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                   CUcontext srcContext, size_t ByteCount) {
  return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, nullptr, true, false);
}
SIM_API CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                   CUcontext srcContext, size_t ByteCount, CUstream hStream) {
  return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, false, true);
}
SIM_API CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                        CUcontext srcContext, size_t ByteCount, CUstream hStream) {
  return copy_peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, true, true);
}
