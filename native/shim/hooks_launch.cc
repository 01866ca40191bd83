// hooks_launch.cc — every way work reaches a device: kernel launches (plain,
// extended, cooperative, the deprecated cuLaunch/cuLaunchGrid forms) and CUDA
// graph launches, each in its legacy and per-thread (_ptsz) variant (graphs
// and cooperative launches escape other limiters: LESSONS #3).
//
// They pass straight through. The only addition on this path is one relaxed
// load of g_launch_gate_active (false until time-slicing arrives): no lock, no
// system call, no map lookup, and the real function resolved once. The gate's
// slow path is kept out of line so the common path stays a load, a branch and
// a tail call.
#include "hook_table.h"
#include "real_driver.h"

namespace gpupool::shim {

std::atomic<bool> g_launch_gate_active{false};

__attribute__((noinline, cold)) CUresult launch_gate_wait() { return CUDA_SUCCESS; }

}  // namespace gpupool::shim

using namespace gpupool::shim;

#define GATE()                                                                         \
  do {                                                                                 \
    if (__builtin_expect(g_launch_gate_active.load(std::memory_order_relaxed), 0)) {   \
      if (CUresult gate = launch_gate_wait(); gate != CUDA_SUCCESS) return gate;       \
    }                                                                                  \
  } while (0)

#define REAL_OR_FAIL(name)                          \
  auto real = SHIM_REAL(name);                      \
  if (__builtin_expect(real == nullptr, 0)) return missing_real_result()

SHIM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                    unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream, void** kernelParams,
                                    void** extra) {
  GATE();
  REAL_OR_FAIL(cuLaunchKernel);
  return real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
              kernelParams, extra);
}

SHIM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                         unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                         unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                         void** kernelParams, void** extra) {
  GATE();
  REAL_OR_FAIL(cuLaunchKernel_ptsz);
  return real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
              kernelParams, extra);
}

SHIM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams, void** extra) {
  GATE();
  REAL_OR_FAIL(cuLaunchKernelEx);
  return real(config, f, kernelParams, extra);
}

SHIM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                           void** extra) {
  GATE();
  REAL_OR_FAIL(cuLaunchKernelEx_ptsz);
  return real(config, f, kernelParams, extra);
}

SHIM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                               unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                               unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                               void** kernelParams) {
  GATE();
  REAL_OR_FAIL(cuLaunchCooperativeKernel);
  return real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
              kernelParams);
}

SHIM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                                    unsigned int gridDimZ, unsigned int blockDimX,
                                                    unsigned int blockDimY, unsigned int blockDimZ,
                                                    unsigned int sharedMemBytes, CUstream hStream,
                                                    void** kernelParams) {
  GATE();
  REAL_OR_FAIL(cuLaunchCooperativeKernel_ptsz);
  return real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
              kernelParams);
}

SHIM_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
  GATE();
  REAL_OR_FAIL(cuGraphLaunch);
  return real(hGraphExec, hStream);
}

SHIM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream) {
  GATE();
  REAL_OR_FAIL(cuGraphLaunch_ptsz);
  return real(hGraphExec, hStream);
}

SHIM_EXPORT CUresult cuLaunch(CUfunction f) {
  GATE();
  REAL_OR_FAIL(cuLaunch);
  return real(f);
}

SHIM_EXPORT CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height) {
  GATE();
  REAL_OR_FAIL(cuLaunchGrid);
  return real(f, grid_width, grid_height);
}

SHIM_EXPORT CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height, CUstream hStream) {
  GATE();
  REAL_OR_FAIL(cuLaunchGridAsync);
  return real(f, grid_width, grid_height, hStream);
}
