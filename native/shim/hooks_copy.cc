// hooks_copy.cc — every copy entry point of cuda.h, through the time-slice gate
// (gate.h): host<->device, device<->device, arrays, 2D/3D, peer and batched
// copies, synchronous and asynchronous, each in every ABI variant (legacy
// 32-bit, _v2, per-thread _ptds/_ptsz) calling exactly its own real function.
// The gate records its timing events on the copy's stream: the NULL stream
// (per-thread for _ptds) for the synchronous forms. A peer copy is gated on
// the device of its stream's context (the current one for the synchronous
// forms).
#include "hooks_gated.h"

using namespace gpupool::shim;

// ---- synchronous -------------------------------------------------------------------
GATED_SYNC(cuMemcpy, false, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount), (dst, src, ByteCount))
GATED_SYNC(cuMemcpy2D, false, (const CUDA_MEMCPY2D_v1 *pCopy), (pCopy))
GATED_SYNC(cuMemcpy2DUnaligned, false, (const CUDA_MEMCPY2D_v1 *pCopy), (pCopy))
GATED_SYNC(cuMemcpy2DUnaligned_v2, false, (const CUDA_MEMCPY2D *pCopy), (pCopy))
GATED_SYNC(cuMemcpy2DUnaligned_v2_ptds, true, (const CUDA_MEMCPY2D *pCopy), (pCopy))
GATED_SYNC(cuMemcpy2D_v2, false, (const CUDA_MEMCPY2D *pCopy), (pCopy))
GATED_SYNC(cuMemcpy2D_v2_ptds, true, (const CUDA_MEMCPY2D *pCopy), (pCopy))
GATED_SYNC(cuMemcpy3D, false, (const CUDA_MEMCPY3D_v1 *pCopy), (pCopy))
GATED_SYNC(cuMemcpy3DPeer, false, (const CUDA_MEMCPY3D_PEER *pCopy), (pCopy))
GATED_SYNC(cuMemcpy3DPeer_ptds, true, (const CUDA_MEMCPY3D_PEER *pCopy), (pCopy))
GATED_SYNC(cuMemcpy3D_v2, false, (const CUDA_MEMCPY3D *pCopy), (pCopy))
GATED_SYNC(cuMemcpy3D_v2_ptds, true, (const CUDA_MEMCPY3D *pCopy), (pCopy))
GATED_SYNC(cuMemcpyAtoA, false, (CUarray dstArray, unsigned int dstOffset, CUarray srcArray, unsigned int srcOffset, unsigned int ByteCount),
           (dstArray, dstOffset, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoA_v2, false, (CUarray dstArray, size_t dstOffset, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstArray, dstOffset, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoA_v2_ptds, true, (CUarray dstArray, size_t dstOffset, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstArray, dstOffset, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoD, false, (CUdeviceptr_v1 dstDevice, CUarray srcArray, unsigned int srcOffset, unsigned int ByteCount),
           (dstDevice, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoD_v2, false, (CUdeviceptr dstDevice, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstDevice, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoD_v2_ptds, true, (CUdeviceptr dstDevice, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstDevice, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoH, false, (void *dstHost, CUarray srcArray, unsigned int srcOffset, unsigned int ByteCount),
           (dstHost, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoH_v2, false, (void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstHost, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyAtoH_v2_ptds, true, (void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount),
           (dstHost, srcArray, srcOffset, ByteCount))
GATED_SYNC(cuMemcpyDtoA, false, (CUarray dstArray, unsigned int dstOffset, CUdeviceptr_v1 srcDevice, unsigned int ByteCount),
           (dstArray, dstOffset, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoA_v2, false, (CUarray dstArray, size_t dstOffset, CUdeviceptr srcDevice, size_t ByteCount),
           (dstArray, dstOffset, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoA_v2_ptds, true, (CUarray dstArray, size_t dstOffset, CUdeviceptr srcDevice, size_t ByteCount),
           (dstArray, dstOffset, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoD, false, (CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice, unsigned int ByteCount),
           (dstDevice, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoD_v2, false, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount),
           (dstDevice, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoD_v2_ptds, true, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount),
           (dstDevice, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoH, false, (void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount),
           (dstHost, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoH_v2, false, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount),
           (dstHost, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyDtoH_v2_ptds, true, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount),
           (dstHost, srcDevice, ByteCount))
GATED_SYNC(cuMemcpyHtoA, false, (CUarray dstArray, unsigned int dstOffset, const void *srcHost, unsigned int ByteCount),
           (dstArray, dstOffset, srcHost, ByteCount))
GATED_SYNC(cuMemcpyHtoA_v2, false, (CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount),
           (dstArray, dstOffset, srcHost, ByteCount))
GATED_SYNC(cuMemcpyHtoA_v2_ptds, true, (CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount),
           (dstArray, dstOffset, srcHost, ByteCount))
GATED_SYNC(cuMemcpyHtoD, false, (CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount),
           (dstDevice, srcHost, ByteCount))
GATED_SYNC(cuMemcpyHtoD_v2, false, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount),
           (dstDevice, srcHost, ByteCount))
GATED_SYNC(cuMemcpyHtoD_v2_ptds, true, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount),
           (dstDevice, srcHost, ByteCount))
GATED_SYNC(cuMemcpyPeer, false, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount),
           (dstDevice, dstContext, srcDevice, srcContext, ByteCount))
GATED_SYNC(cuMemcpyPeer_ptds, true, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount),
           (dstDevice, dstContext, srcDevice, srcContext, ByteCount))
GATED_SYNC(cuMemcpy_ptds, true, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount), (dst, src, ByteCount))

// ---- asynchronous ------------------------------------------------------------------
GATED_ASYNC(cuMemcpy2DAsync, false, (const CUDA_MEMCPY2D_v1 *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy2DAsync_v2, false, (const CUDA_MEMCPY2D *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy2DAsync_v2_ptsz, true, (const CUDA_MEMCPY2D *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy3DAsync, false, (const CUDA_MEMCPY3D_v1 *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy3DAsync_v2, false, (const CUDA_MEMCPY3D *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy3DAsync_v2_ptsz, true, (const CUDA_MEMCPY3D *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy3DBatchAsync, false, (size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx, unsigned long long flags, CUstream hStream),
           (numOps, opList, failIdx, flags, hStream))
GATED_ASYNC(cuMemcpy3DBatchAsync_ptsz, true, (size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx, unsigned long long flags, CUstream hStream),
           (numOps, opList, failIdx, flags, hStream))
GATED_ASYNC(cuMemcpy3DBatchAsync_v2, false, (size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, unsigned long long flags, CUstream hStream),
           (numOps, opList, flags, hStream))
GATED_ASYNC(cuMemcpy3DBatchAsync_v2_ptsz, true, (size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, unsigned long long flags, CUstream hStream),
           (numOps, opList, flags, hStream))
GATED_ASYNC(cuMemcpy3DPeerAsync, false, (const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpy3DPeerAsync_ptsz, true, (const CUDA_MEMCPY3D_PEER *pCopy, CUstream hStream), (pCopy, hStream))
GATED_ASYNC(cuMemcpyAsync, false, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream),
           (dst, src, ByteCount, hStream))
GATED_ASYNC(cuMemcpyAsync_ptsz, true, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream),
           (dst, src, ByteCount, hStream))
GATED_ASYNC(cuMemcpyAtoHAsync, false, (void *dstHost, CUarray srcArray, unsigned int srcOffset, unsigned int ByteCount, CUstream hStream),
           (dstHost, srcArray, srcOffset, ByteCount, hStream))
GATED_ASYNC(cuMemcpyAtoHAsync_v2, false, (void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount, CUstream hStream),
           (dstHost, srcArray, srcOffset, ByteCount, hStream))
GATED_ASYNC(cuMemcpyAtoHAsync_v2_ptsz, true, (void *dstHost, CUarray srcArray, size_t srcOffset, size_t ByteCount, CUstream hStream),
           (dstHost, srcArray, srcOffset, ByteCount, hStream))
GATED_ASYNC(cuMemcpyBatchAsync, false, (CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx, CUstream hStream),
           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream))
GATED_ASYNC(cuMemcpyBatchAsync_ptsz, true, (CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx, CUstream hStream),
           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream))
GATED_ASYNC(cuMemcpyBatchAsync_v2, false, (CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream),
           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, hStream))
GATED_ASYNC(cuMemcpyBatchAsync_v2_ptsz, true, (CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream),
           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, hStream))
GATED_ASYNC(cuMemcpyDtoDAsync, false, (CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice, unsigned int ByteCount, CUstream hStream),
           (dstDevice, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyDtoDAsync_v2, false, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream),
           (dstDevice, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyDtoDAsync_v2_ptsz, true, (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream),
           (dstDevice, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyDtoHAsync, false, (void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount, CUstream hStream),
           (dstHost, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyDtoHAsync_v2, false, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream),
           (dstHost, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyDtoHAsync_v2_ptsz, true, (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream),
           (dstHost, srcDevice, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoAAsync, false, (CUarray dstArray, unsigned int dstOffset, const void *srcHost, unsigned int ByteCount, CUstream hStream),
           (dstArray, dstOffset, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoAAsync_v2, false, (CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount, CUstream hStream),
           (dstArray, dstOffset, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoAAsync_v2_ptsz, true, (CUarray dstArray, size_t dstOffset, const void *srcHost, size_t ByteCount, CUstream hStream),
           (dstArray, dstOffset, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoDAsync, false, (CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount, CUstream hStream),
           (dstDevice, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoDAsync_v2, false, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream),
           (dstDevice, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyHtoDAsync_v2_ptsz, true, (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream),
           (dstDevice, srcHost, ByteCount, hStream))
GATED_ASYNC(cuMemcpyPeerAsync, false, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream),
           (dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream))
GATED_ASYNC(cuMemcpyPeerAsync_ptsz, true, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream),
           (dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream))
