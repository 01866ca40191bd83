// hook_table.h — every driver entry point the shim intercepts, in one list.
//
// Contract
//   GPUPOOL_SHIM_HOOKS lists the exported names the shim defines (hooks_*.cc),
//   one per ABI variant: a legacy name, its _v2, and its _ptsz/_ptds forms are
//   separate hooks, and each calls exactly its own real variant. exports.map
//   must list the same names plus dlsym (CMake checks this at configure time).
//   GPUPOOL_SHIM_HELPERS lists real entry points the hooks use but that are not
//   hooked (asking the driver which device a context or stream is on).
//
//   real_driver.cc fills one slot per name with the real driver's address,
//   resolved once; hook_for_real() then maps a real address back to the hook
//   of exactly that variant, which is how dlsym and cuGetProcAddress hand out
//   hooks (never by base name: LESSONS #4).
//
// Calling the real driver
//   SHIM_REAL(cuMemAlloc_v2) is the real function, typed as cuda.h declares
//   it, or nullptr when the driver cannot be loaded or lacks the entry point.
//   The first use loads the driver (real_driver.h); after that it is one
//   acquire load. Hooks call real functions only through it, never through the
//   exported names (which would be the shim's own hooks).
//
// Compiled with __CUDA_API_VERSION_INTERNAL, so cuda.h declares every variant
// under its own name (cuMemAlloc is the legacy 32-bit one, not a macro).
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstddef>

#define GPUPOOL_SHIM_HOOKS(X)                                                              \
  /* initialisation, virtualised information (hooks_info.cc) */                          \
  X(cuInit)                                                                               \
  X(cuMemGetInfo) X(cuMemGetInfo_v2)                                                      \
  X(cuDeviceTotalMem) X(cuDeviceTotalMem_v2)                                              \
  /* entry-point lookup (hooks_lookup.cc; dlsym is not a driver symbol) */                \
  X(cuGetProcAddress) X(cuGetProcAddress_v2)                                              \
  /* memory (hooks_memory.cc) */                                                          \
  X(cuMemAlloc) X(cuMemAlloc_v2)                                                          \
  X(cuMemAllocPitch) X(cuMemAllocPitch_v2)                                                \
  X(cuMemAllocManaged)                                                                    \
  X(cuMemFree) X(cuMemFree_v2)                                                            \
  X(cuMemCreate) X(cuMemRelease) X(cuMemRetainAllocationHandle)                           \
  X(cuMemMap) X(cuMemUnmap)                                                               \
  X(cuMemAllocAsync) X(cuMemAllocAsync_ptsz)                                              \
  X(cuMemAllocFromPoolAsync) X(cuMemAllocFromPoolAsync_ptsz)                              \
  X(cuMemFreeAsync) X(cuMemFreeAsync_ptsz)                                                \
  X(cuMemPoolCreate) X(cuMemPoolDestroy)                                                  \
  X(cuArrayCreate) X(cuArrayCreate_v2)                                                    \
  X(cuArray3DCreate) X(cuArray3DCreate_v2)                                                \
  X(cuMipmappedArrayCreate)                                                               \
  X(cuArrayDestroy) X(cuMipmappedArrayDestroy)                                            \
  /* pointer queries about swappable memory (hooks_pointer.cc) */                         \
  X(cuMemGetAddressRange_v2) X(cuPointerGetAttribute) X(cuPointerGetAttributes)           \
  /* contexts that take their memory with them (hooks_memory.cc) */                       \
  X(cuCtxDestroy) X(cuCtxDestroy_v2)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                             \
  X(cuDevicePrimaryCtxRelease) X(cuDevicePrimaryCtxRelease_v2)                            \
  X(cuDevicePrimaryCtxReset) X(cuDevicePrimaryCtxReset_v2)                                \
  /* work submission, through the time-slice gate (hooks_launch.cc) */                                                 \
  X(cuLaunchKernel) X(cuLaunchKernel_ptsz)                                                \
  X(cuLaunchKernelEx) X(cuLaunchKernelEx_ptsz)                                            \
  X(cuLaunchCooperativeKernel) X(cuLaunchCooperativeKernel_ptsz)                          \
  X(cuGraphLaunch) X(cuGraphLaunch_ptsz)                                                  \
  X(cuLaunch) X(cuLaunchGrid) X(cuLaunchGridAsync)                                       \
  /* copies (hooks_copy.cc) */                                                            \
  X(cuMemcpy) X(cuMemcpy2D) X(cuMemcpy2DAsync) X(cuMemcpy2DAsync_v2)                    \
  X(cuMemcpy2DAsync_v2_ptsz) X(cuMemcpy2DUnaligned) X(cuMemcpy2DUnaligned_v2)           \
  X(cuMemcpy2DUnaligned_v2_ptds) X(cuMemcpy2D_v2) X(cuMemcpy2D_v2_ptds) X(cuMemcpy3D)   \
  X(cuMemcpy3DAsync) X(cuMemcpy3DAsync_v2) X(cuMemcpy3DAsync_v2_ptsz)                   \
  X(cuMemcpy3DBatchAsync) X(cuMemcpy3DBatchAsync_ptsz) X(cuMemcpy3DBatchAsync_v2)       \
  X(cuMemcpy3DBatchAsync_v2_ptsz) X(cuMemcpy3DPeer) X(cuMemcpy3DPeerAsync)              \
  X(cuMemcpy3DPeerAsync_ptsz) X(cuMemcpy3DPeer_ptds) X(cuMemcpy3D_v2)                   \
  X(cuMemcpy3D_v2_ptds) X(cuMemcpyAsync) X(cuMemcpyAsync_ptsz) X(cuMemcpyAtoA)          \
  X(cuMemcpyAtoA_v2) X(cuMemcpyAtoA_v2_ptds) X(cuMemcpyAtoD) X(cuMemcpyAtoD_v2)         \
  X(cuMemcpyAtoD_v2_ptds) X(cuMemcpyAtoH) X(cuMemcpyAtoHAsync) X(cuMemcpyAtoHAsync_v2)  \
  X(cuMemcpyAtoHAsync_v2_ptsz) X(cuMemcpyAtoH_v2) X(cuMemcpyAtoH_v2_ptds)               \
  X(cuMemcpyBatchAsync) X(cuMemcpyBatchAsync_ptsz) X(cuMemcpyBatchAsync_v2)             \
  X(cuMemcpyBatchAsync_v2_ptsz) X(cuMemcpyDtoA) X(cuMemcpyDtoA_v2)                      \
  X(cuMemcpyDtoA_v2_ptds) X(cuMemcpyDtoD) X(cuMemcpyDtoDAsync) X(cuMemcpyDtoDAsync_v2)  \
  X(cuMemcpyDtoDAsync_v2_ptsz) X(cuMemcpyDtoD_v2) X(cuMemcpyDtoD_v2_ptds)               \
  X(cuMemcpyDtoH) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoHAsync_v2)                          \
  X(cuMemcpyDtoHAsync_v2_ptsz) X(cuMemcpyDtoH_v2) X(cuMemcpyDtoH_v2_ptds)               \
  X(cuMemcpyHtoA) X(cuMemcpyHtoAAsync) X(cuMemcpyHtoAAsync_v2)                          \
  X(cuMemcpyHtoAAsync_v2_ptsz) X(cuMemcpyHtoA_v2) X(cuMemcpyHtoA_v2_ptds)               \
  X(cuMemcpyHtoD) X(cuMemcpyHtoDAsync) X(cuMemcpyHtoDAsync_v2)                          \
  X(cuMemcpyHtoDAsync_v2_ptsz) X(cuMemcpyHtoD_v2) X(cuMemcpyHtoD_v2_ptds)               \
  X(cuMemcpyPeer) X(cuMemcpyPeerAsync) X(cuMemcpyPeerAsync_ptsz) X(cuMemcpyPeer_ptds)   \
  X(cuMemcpy_ptds)                                                                      \
  /* memsets (hooks_memset.cc) */                                                          \
  X(cuMemsetD16) X(cuMemsetD16Async) X(cuMemsetD16Async_ptsz) X(cuMemsetD16_v2)         \
  X(cuMemsetD16_v2_ptds) X(cuMemsetD2D16) X(cuMemsetD2D16Async)                         \
  X(cuMemsetD2D16Async_ptsz) X(cuMemsetD2D16_v2) X(cuMemsetD2D16_v2_ptds)               \
  X(cuMemsetD2D32) X(cuMemsetD2D32Async) X(cuMemsetD2D32Async_ptsz) X(cuMemsetD2D32_v2) \
  X(cuMemsetD2D32_v2_ptds) X(cuMemsetD2D8) X(cuMemsetD2D8Async)                         \
  X(cuMemsetD2D8Async_ptsz) X(cuMemsetD2D8_v2) X(cuMemsetD2D8_v2_ptds) X(cuMemsetD32)   \
  X(cuMemsetD32Async) X(cuMemsetD32Async_ptsz) X(cuMemsetD32_v2) X(cuMemsetD32_v2_ptds) \
  X(cuMemsetD8) X(cuMemsetD8Async) X(cuMemsetD8Async_ptsz) X(cuMemsetD8_v2)             \
  X(cuMemsetD8_v2_ptds)

#define GPUPOOL_SHIM_HELPERS(X)                                        \
  X(cuCtxGetCurrent)                                                   \
  X(cuCtxGetDevice)                                                    \
  X(cuStreamGetDevice)                                                 \
  X(cuDevicePrimaryCtxGetState)                                        \
  /* the NVML hooks' UUID lookup (job_uuids.cc) */                     \
  X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetUuid_v2)             \
  /* the time-slice gate (gate*.cc) */                                 \
  X(cuCtxSetCurrent) X(cuCtxPushCurrent_v2) X(cuCtxPopCurrent_v2)      \
  X(cuStreamGetCtx) X(cuStreamIsCapturing) X(cuStreamSynchronize)      \
  X(cuEventCreate) X(cuEventDestroy_v2) X(cuEventRecord)               \
  X(cuEventQuery) X(cuEventSynchronize)                                \
  X(cuEventElapsedTime) X(cuEventElapsedTime_v2)                       \
  X(cuThreadExchangeStreamCaptureMode)                                 \
  /* swappable memory (swap*.cc) */                                    \
  X(cuMemAddressReserve) X(cuMemAddressFree) X(cuMemSetAccess)         \
  X(cuMemGetAllocationGranularity) X(cuStreamCreate) X(cuStreamDestroy_v2)

namespace gpupool::shim {

enum HookId : int {
#define GPUPOOL_SHIM_ID(name) kHook_##name,
  GPUPOOL_SHIM_HOOKS(GPUPOOL_SHIM_ID)
  kHookCount,
  kHelpersFirst = kHookCount - 1,
  GPUPOOL_SHIM_HELPERS(GPUPOOL_SHIM_ID)
  kRealCount
#undef GPUPOOL_SHIM_ID
};

// Exported name of a hook or helper, by id.
extern const char* const kRealNames[kRealCount];
// The shim's hook by id (ids below kHookCount).
extern void* const kHooks[kHookCount];
// The real driver's address by id; null until loaded, or when missing.
extern std::atomic<void*> g_real[kRealCount];

// The hook id for an exported name, or -1 (only hooks, not helpers).
int hook_id_by_name(const char* name);

// The shim's hook for a real driver address it hooks, or nullptr. Valid once
// the driver is loaded (returns nullptr before).
void* hook_for_real(const void* real);

// Called by real_driver.cc once every g_real slot is filled: builds the
// reverse map behind hook_for_real().
void hook_table_publish();

// Whether `symbol` (a cuGetProcAddress base name such as "cuMemAlloc") names
// something the shim hooks in some variant.
bool hooked_base_name(const char* symbol);

// ---- the time-slice gate (gate.h) -------------------------------------------------
// Set while the process runs under the agent's node table; read with one
// relaxed load by every gated hook (launches, copies, memsets).
extern std::atomic<bool> g_launch_gate_active;

}  // namespace gpupool::shim

// Entry points the shim exports: C linkage, default visibility (everything
// else is hidden, and exports.map keeps only these and dlsym).
#define SHIM_EXPORT extern "C" __attribute__((visibility("default")))
