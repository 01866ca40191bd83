// hooks_launch.cc — every way a kernel reaches a device: kernel launches
// (plain, extended, cooperative, the deprecated cuLaunch/cuLaunchGrid forms)
// and CUDA graph launches, each in its legacy and per-thread (_ptsz) variant
// (graphs and cooperative launches escape other limiters: LESSONS #3).
//
// Each goes through the time-slice gate (gate.h). Without an agent table the
// gate is inactive and a launch costs one relaxed load and a branch before the
// real call; the gate's work is out of line.
#include "gate.h"
#include "hook_table.h"
#include "real_driver.h"

namespace gpupool::shim {

std::atomic<bool> g_launch_gate_active{false};

}  // namespace gpupool::shim

using namespace gpupool::shim;

#define REAL_OR_FAIL(name)                          \
  auto real = SHIM_REAL(name);                      \
  if (__builtin_expect(real == nullptr, 0)) return missing_real_result()

SHIM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                    unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream, void** kernelParams,
                                    void** extra) {
  REAL_OR_FAIL(cuLaunchKernel);
  GPUPOOL_GATED((GateTarget{hStream, false, false}),
                real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                     kernelParams, extra));
}

SHIM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                         unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                         unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                         void** kernelParams, void** extra) {
  REAL_OR_FAIL(cuLaunchKernel_ptsz);
  GPUPOOL_GATED((GateTarget{hStream, true, false}),
                real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                     kernelParams, extra));
}

SHIM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams, void** extra) {
  REAL_OR_FAIL(cuLaunchKernelEx);
  if (config == nullptr) return real(config, f, kernelParams, extra);  // the driver's error to report
  GPUPOOL_GATED((GateTarget{config->hStream, false, false}), real(config, f, kernelParams, extra));
}

SHIM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                           void** extra) {
  REAL_OR_FAIL(cuLaunchKernelEx_ptsz);
  if (config == nullptr) return real(config, f, kernelParams, extra);
  GPUPOOL_GATED((GateTarget{config->hStream, true, false}), real(config, f, kernelParams, extra));
}

SHIM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                               unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                               unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                               void** kernelParams) {
  REAL_OR_FAIL(cuLaunchCooperativeKernel);
  GPUPOOL_GATED((GateTarget{hStream, false, false}),
                real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                     kernelParams));
}

SHIM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                                    unsigned int gridDimZ, unsigned int blockDimX,
                                                    unsigned int blockDimY, unsigned int blockDimZ,
                                                    unsigned int sharedMemBytes, CUstream hStream,
                                                    void** kernelParams) {
  REAL_OR_FAIL(cuLaunchCooperativeKernel_ptsz);
  GPUPOOL_GATED((GateTarget{hStream, true, false}),
                real(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                     kernelParams));
}

SHIM_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
  REAL_OR_FAIL(cuGraphLaunch);
  GPUPOOL_GATED((GateTarget{hStream, false, false}), real(hGraphExec, hStream));
}

SHIM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream) {
  REAL_OR_FAIL(cuGraphLaunch_ptsz);
  GPUPOOL_GATED((GateTarget{hStream, true, false}), real(hGraphExec, hStream));
}

// The deprecated forms run on the legacy NULL stream of the current context.
SHIM_EXPORT CUresult cuLaunch(CUfunction f) {
  REAL_OR_FAIL(cuLaunch);
  GPUPOOL_GATED((GateTarget{nullptr, false, false}), real(f));
}

SHIM_EXPORT CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height) {
  REAL_OR_FAIL(cuLaunchGrid);
  GPUPOOL_GATED((GateTarget{nullptr, false, false}), real(f, grid_width, grid_height));
}

SHIM_EXPORT CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height, CUstream hStream) {
  REAL_OR_FAIL(cuLaunchGridAsync);
  GPUPOOL_GATED((GateTarget{hStream, false, false}), real(f, grid_width, grid_height, hStream));
}
