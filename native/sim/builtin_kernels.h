// builtin_kernels.h — CPU implementations of the kernels in native/kernels/.
//
// The sim runs no PTX. A module's .entry is launchable only when a built-in
// implementation matches both its name and its parameter sizes, so a kernel the
// sim does not know (or one whose signature changed) fails at
// cuModuleGetFunction instead of silently doing nothing.
//
// An implementation computes exactly what the GPU would for the launch
// geometry: only the elements the grid covers, one per thread as the .cu file
// does, threads run one after another (a legal GPU schedule). It checks every
// range it will touch with device_accessible() first and returns
// CUDA_ERROR_ILLEGAL_ADDRESS, never faults, when one is not device memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim.h"

namespace gpupool::sim {

struct LaunchGeometry {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;
};

// Runs on the device executor. params[i] points at the bytes of parameter i
// (a copy taken at launch, param_sizes[i] long).
using KernelFn = CUresult (*)(Context* ctx, const LaunchGeometry& geometry,
                              const uint8_t* const* params);

struct BuiltinKernel {
  const char* name;
  std::vector<size_t> param_sizes;
  KernelFn run;
};

// The implementation for entry `name` with parameters of `param_sizes` bytes,
// or null when the sim has none.
const BuiltinKernel* find_builtin_kernel(const char* name, const std::vector<size_t>& param_sizes);

}  // namespace gpupool::sim
