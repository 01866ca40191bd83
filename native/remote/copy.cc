// copy.cc — copies and memsets. Arguments are checked against the local
// allocation table first (the driver fails those synchronously). Data moves in
// chunks of at most MAX_CHUNK_BYTES: HtoD chunks are pipelined (a synchronous
// copy ends with a Barrier), DtoH is a synchronous call whose reply chunks are
// received straight into the destination (Connection::call_into); neither
// side holds the whole copy.
// Async DtoH completes before the call returns (stricter than the driver).
#include <cstring>

#include "remote.h"

using namespace gpupool::remote;

namespace {

bool is_device(CUdeviceptr p) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  return find_range_locked(p, 0) != nullptr;
}

CUresult htod(CUdeviceptr dst, const void* src, size_t n, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_range(dst, n); r != CUDA_SUCCESS) return r;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  // Large chunks are sent from `src` itself (post_data), so they are all sent
  // before this returns: by flush_data (async) or the Barrier's call.
  const char* p = static_cast<const char*>(src);
  wire::Writer tail;
  tail.u64(4, stream);
  tail.boolean(5, async);
  for (size_t off = 0; off < n; off += wire::kMaxChunkBytes) {
    size_t len = std::min(wire::kMaxChunkBytes, n - off);
    wire::Writer head;
    head.u64(1, dst);
    head.u64(2, off);
    if (CUresult r = conn().post_data(wire::kMemcpyHtoD, head, 3, p + off, len, tail); r != CUDA_SUCCESS)
      return r;
  }
  if (async) return conn().flush_data();
  wire::Reply reply;
  return conn().call(wire::kBarrier, wire::Writer(), &reply);
}

CUresult dtoh(void* dst, CUdeviceptr src, size_t n, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (dst == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_range(src, n); r != CUDA_SUCCESS) return r;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, src);
  w.u64(2, n);
  w.u64(3, stream);
  w.boolean(4, async);
  wire::Reply reply;
  return conn().call_into(wire::kMemcpyDtoH, w, &reply, dst, n);
}

CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_range(dst, n); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_range(src, n); r != CUDA_SUCCESS) return r;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, dst);
  w.u64(2, src);
  w.u64(3, n);
  w.u64(4, stream);
  w.boolean(5, async);
  return conn().post(wire::kMemcpyDtoD, w);
}

// cuMemcpy: the direction follows from which addresses are device memory.
CUresult unified(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s, bool async) {
  bool d_dev = is_device(dst), s_dev = is_device(src);
  if (d_dev && s_dev) return dtod(dst, src, n, s, async);
  if (d_dev) return htod(dst, reinterpret_cast<const void*>(src), n, s, async);
  if (s_dev) return dtoh(reinterpret_cast<void*>(dst), src, n, s, async);
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (dst == 0 || src == 0) return CUDA_ERROR_INVALID_VALUE;
  // Host to host: ordered after earlier work on the stream.
  if (s != nullptr || !async) {
    uint64_t stream = 0;
    if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  }
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult copy2d(const CUDA_MEMCPY2D* c, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (c->srcPitch != 0 && c->srcPitch < c->WidthInBytes + c->srcXInBytes) return CUDA_ERROR_INVALID_VALUE;
  if (c->dstPitch != 0 && c->dstPitch < c->WidthInBytes + c->dstXInBytes) return CUDA_ERROR_INVALID_VALUE;
  if (c->Height > 1 && (c->srcPitch == 0 || c->dstPitch == 0)) return CUDA_ERROR_INVALID_VALUE;
  auto kind = [](CUmemorytype t, CUdeviceptr dev, const void* host, CUdeviceptr* addr) -> int {
    switch (t) {
      case CU_MEMORYTYPE_HOST: *addr = reinterpret_cast<CUdeviceptr>(host); return 0;
      case CU_MEMORYTYPE_DEVICE: *addr = dev; return 1;
      case CU_MEMORYTYPE_UNIFIED: *addr = dev; return is_device(dev) ? 1 : 0;
      default: return -1;  // arrays are not supported remotely
    }
  };
  CUdeviceptr src = 0, dst = 0;
  int sk = kind(c->srcMemoryType, c->srcDevice, c->srcHost, &src);
  int dk = kind(c->dstMemoryType, c->dstDevice, c->dstHost, &dst);
  if (sk < 0 || dk < 0) return CUDA_ERROR_NOT_SUPPORTED;
  src += c->srcY * c->srcPitch + c->srcXInBytes;
  dst += c->dstY * c->dstPitch + c->dstXInBytes;
  size_t w = c->WidthInBytes;
  for (size_t y = 0; y < c->Height; ++y) {
    CUdeviceptr sp = src + y * c->srcPitch, dp = dst + y * c->dstPitch;
    CUresult r;
    if (sk && dk) r = dtod(dp, sp, w, s, true);
    else if (dk) r = htod(dp, reinterpret_cast<const void*>(sp), w, s, true);
    else if (sk) r = dtoh(reinterpret_cast<void*>(dp), sp, w, s, true);
    else r = (std::memmove(reinterpret_cast<void*>(dp), reinterpret_cast<const void*>(sp), w), CUDA_SUCCESS);
    if (r != CUDA_SUCCESS) return r;
  }
  if (async || !dk) return CUDA_SUCCESS;
  wire::Reply reply;
  return conn().call(wire::kBarrier, wire::Writer(), &reply);
}

CUresult memset(CUdeviceptr dst, uint32_t value, unsigned elem, size_t count, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dst % elem != 0) return CUDA_ERROR_INVALID_VALUE;
  if (count == 0) return CUDA_SUCCESS;
  if (count > ~size_t{0} / elem) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_range(dst, count * elem); r != CUDA_SUCCESS) return r;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, dst);
  w.u64(2, value);
  w.u64(3, elem);
  w.u64(4, count);
  w.u64(5, stream);
  w.boolean(6, async);
  return conn().post(wire::kMemset, w);
}

CUresult memset2d(CUdeviceptr dst, size_t pitch, uint32_t value, unsigned elem, size_t width,
                  size_t height, CUstream s, bool async) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (dst % elem != 0 || pitch % elem != 0) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && pitch < width * elem) return CUDA_ERROR_INVALID_VALUE;
  for (size_t y = 0; y < height; ++y)
    if (CUresult r = memset(dst + y * pitch, value, elem, width, s, async); r != CUDA_SUCCESS) return r;
  return CUDA_SUCCESS;
}

}  // namespace

#define COPY_VARIANTS(name, params, call)          \
  REMOTE_API CUresult name params { return call; } \
  REMOTE_API CUresult name##_ptds params { return call; }
#define ASYNC_VARIANTS(name, params, call)         \
  REMOTE_API CUresult name params { return call; } \
  REMOTE_API CUresult name##_ptsz params { return call; }

COPY_VARIANTS(cuMemcpyHtoD_v2, (CUdeviceptr dst, const void* src, size_t n), htod(dst, src, n, nullptr, false))
COPY_VARIANTS(cuMemcpyDtoH_v2, (void* dst, CUdeviceptr src, size_t n), dtoh(dst, src, n, nullptr, false))
COPY_VARIANTS(cuMemcpyDtoD_v2, (CUdeviceptr dst, CUdeviceptr src, size_t n), dtod(dst, src, n, nullptr, false))
COPY_VARIANTS(cuMemcpy, (CUdeviceptr dst, CUdeviceptr src, size_t n), unified(dst, src, n, nullptr, false))
COPY_VARIANTS(cuMemcpy2D_v2, (const CUDA_MEMCPY2D* c), copy2d(c, nullptr, false))
COPY_VARIANTS(cuMemcpy2DUnaligned_v2, (const CUDA_MEMCPY2D* c), copy2d(c, nullptr, false))
ASYNC_VARIANTS(cuMemcpyHtoDAsync_v2, (CUdeviceptr dst, const void* src, size_t n, CUstream s),
               htod(dst, src, n, s, true))
ASYNC_VARIANTS(cuMemcpyDtoHAsync_v2, (void* dst, CUdeviceptr src, size_t n, CUstream s),
               dtoh(dst, src, n, s, true))
ASYNC_VARIANTS(cuMemcpyDtoDAsync_v2, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
               dtod(dst, src, n, s, true))
ASYNC_VARIANTS(cuMemcpyAsync, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s),
               unified(dst, src, n, s, true))
ASYNC_VARIANTS(cuMemcpy2DAsync_v2, (const CUDA_MEMCPY2D* c, CUstream s), copy2d(c, s, true))

COPY_VARIANTS(cuMemsetD8_v2, (CUdeviceptr d, unsigned char v, size_t n), memset(d, v, 1, n, nullptr, false))
COPY_VARIANTS(cuMemsetD16_v2, (CUdeviceptr d, unsigned short v, size_t n), memset(d, v, 2, n, nullptr, false))
COPY_VARIANTS(cuMemsetD32_v2, (CUdeviceptr d, unsigned int v, size_t n), memset(d, v, 4, n, nullptr, false))
ASYNC_VARIANTS(cuMemsetD8Async, (CUdeviceptr d, unsigned char v, size_t n, CUstream s), memset(d, v, 1, n, s, true))
ASYNC_VARIANTS(cuMemsetD16Async, (CUdeviceptr d, unsigned short v, size_t n, CUstream s), memset(d, v, 2, n, s, true))
ASYNC_VARIANTS(cuMemsetD32Async, (CUdeviceptr d, unsigned int v, size_t n, CUstream s), memset(d, v, 4, n, s, true))
COPY_VARIANTS(cuMemsetD2D8_v2, (CUdeviceptr d, size_t pitch, unsigned char v, size_t w, size_t h),
              memset2d(d, pitch, v, 1, w, h, nullptr, false))
COPY_VARIANTS(cuMemsetD2D16_v2, (CUdeviceptr d, size_t pitch, unsigned short v, size_t w, size_t h),
              memset2d(d, pitch, v, 2, w, h, nullptr, false))
COPY_VARIANTS(cuMemsetD2D32_v2, (CUdeviceptr d, size_t pitch, unsigned int v, size_t w, size_t h),
              memset2d(d, pitch, v, 4, w, h, nullptr, false))
ASYNC_VARIANTS(cuMemsetD2D8Async, (CUdeviceptr d, size_t pitch, unsigned char v, size_t w, size_t h, CUstream s),
               memset2d(d, pitch, v, 1, w, h, s, true))
ASYNC_VARIANTS(cuMemsetD2D16Async, (CUdeviceptr d, size_t pitch, unsigned short v, size_t w, size_t h, CUstream s),
               memset2d(d, pitch, v, 2, w, h, s, true))
ASYNC_VARIANTS(cuMemsetD2D32Async, (CUdeviceptr d, size_t pitch, unsigned int v, size_t w, size_t h, CUstream s),
               memset2d(d, pitch, v, 4, w, h, s, true))
