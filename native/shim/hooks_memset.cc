// hooks_memset.cc — every memset entry point of cuda.h (8/16/32-bit, 1D and
// 2D, synchronous and asynchronous, every ABI variant), through the
// time-slice gate (gate.h), as hooks_copy.cc does for copies.
#include "hooks_gated.h"

using namespace gpupool::shim;

// ---- synchronous -------------------------------------------------------------------
GATED_SYNC(cuMemsetD16, false, (CUdeviceptr_v1 dstDevice, unsigned short us, unsigned int N), (dstDevice, us, N))
GATED_SYNC(cuMemsetD16_v2, false, (CUdeviceptr dstDevice, unsigned short us, size_t N), (dstDevice, us, N))
GATED_SYNC(cuMemsetD16_v2_ptds, true, (CUdeviceptr dstDevice, unsigned short us, size_t N), (dstDevice, us, N))
GATED_SYNC(cuMemsetD2D16, false, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned short us, unsigned int Width, unsigned int Height),
           (dstDevice, dstPitch, us, Width, Height))
GATED_SYNC(cuMemsetD2D16_v2, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height),
           (dstDevice, dstPitch, us, Width, Height))
GATED_SYNC(cuMemsetD2D16_v2_ptds, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height),
           (dstDevice, dstPitch, us, Width, Height))
GATED_SYNC(cuMemsetD2D32, false, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned int ui, unsigned int Width, unsigned int Height),
           (dstDevice, dstPitch, ui, Width, Height))
GATED_SYNC(cuMemsetD2D32_v2, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height),
           (dstDevice, dstPitch, ui, Width, Height))
GATED_SYNC(cuMemsetD2D32_v2_ptds, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height),
           (dstDevice, dstPitch, ui, Width, Height))
GATED_SYNC(cuMemsetD2D8, false, (CUdeviceptr_v1 dstDevice, unsigned int dstPitch, unsigned char uc, unsigned int Width, unsigned int Height),
           (dstDevice, dstPitch, uc, Width, Height))
GATED_SYNC(cuMemsetD2D8_v2, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height),
           (dstDevice, dstPitch, uc, Width, Height))
GATED_SYNC(cuMemsetD2D8_v2_ptds, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height),
           (dstDevice, dstPitch, uc, Width, Height))
GATED_SYNC(cuMemsetD32, false, (CUdeviceptr_v1 dstDevice, unsigned int ui, unsigned int N), (dstDevice, ui, N))
GATED_SYNC(cuMemsetD32_v2, false, (CUdeviceptr dstDevice, unsigned int ui, size_t N), (dstDevice, ui, N))
GATED_SYNC(cuMemsetD32_v2_ptds, true, (CUdeviceptr dstDevice, unsigned int ui, size_t N), (dstDevice, ui, N))
GATED_SYNC(cuMemsetD8, false, (CUdeviceptr_v1 dstDevice, unsigned char uc, unsigned int N), (dstDevice, uc, N))
GATED_SYNC(cuMemsetD8_v2, false, (CUdeviceptr dstDevice, unsigned char uc, size_t N), (dstDevice, uc, N))
GATED_SYNC(cuMemsetD8_v2_ptds, true, (CUdeviceptr dstDevice, unsigned char uc, size_t N), (dstDevice, uc, N))

// ---- asynchronous ------------------------------------------------------------------
GATED_ASYNC(cuMemsetD16Async, false, (CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream),
           (dstDevice, us, N, hStream))
GATED_ASYNC(cuMemsetD16Async_ptsz, true, (CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream),
           (dstDevice, us, N, hStream))
GATED_ASYNC(cuMemsetD2D16Async, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, us, Width, Height, hStream))
GATED_ASYNC(cuMemsetD2D16Async_ptsz, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, us, Width, Height, hStream))
GATED_ASYNC(cuMemsetD2D32Async, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, ui, Width, Height, hStream))
GATED_ASYNC(cuMemsetD2D32Async_ptsz, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, ui, Width, Height, hStream))
GATED_ASYNC(cuMemsetD2D8Async, false, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, uc, Width, Height, hStream))
GATED_ASYNC(cuMemsetD2D8Async_ptsz, true, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height, CUstream hStream),
           (dstDevice, dstPitch, uc, Width, Height, hStream))
GATED_ASYNC(cuMemsetD32Async, false, (CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream),
           (dstDevice, ui, N, hStream))
GATED_ASYNC(cuMemsetD32Async_ptsz, true, (CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream),
           (dstDevice, ui, N, hStream))
GATED_ASYNC(cuMemsetD8Async, false, (CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream),
           (dstDevice, uc, N, hStream))
GATED_ASYNC(cuMemsetD8Async_ptsz, true, (CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream),
           (dstDevice, uc, N, hStream))
