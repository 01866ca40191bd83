// module.h — loaded modules and their functions, shared by module.cc
// (loading), function.cc (cuFunc* queries and attributes) and launch.cc.
//
// CUmodule and CUfunction are pointers to these structs, validated through
// their HandleRegistry like every other sim handle (see sim.h). A Module is
// immutable once loaded, except for the per-function attributes that
// cuFuncSetAttribute / cuFuncSetCacheConfig change (atomics). Unloaded modules
// are kept, unregistered, so a stale handle never aliases a new one.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "builtin_kernels.h"
#include "ptx.h"
#include "sim.h"

namespace gpupool::sim {

struct Function;

struct Module {
  Context* ctx = nullptr;
  ptx::Module ptx;
  struct Global {
    std::string name;
    CUdeviceptr ptr = 0;
    size_t size = 0;
  };
  std::vector<Global> globals;       // device memory of .global/.const variables
  std::vector<Function*> functions;  // launchable entries (a built-in kernel matched)
};

struct Function {
  Module* module = nullptr;
  const ptx::Entry* entry = nullptr;  // in module->ptx.entries
  const BuiltinKernel* kernel = nullptr;
  std::atomic<int> max_dynamic_shared{48 * 1024};  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  std::atomic<int> carveout{-1};                   // ..._PREFERRED_SHARED_MEMORY_CARVEOUT
  std::atomic<int> cache_config{CU_FUNC_CACHE_PREFER_NONE};
  std::atomic<int> cluster[3] = {{0}, {0}, {0}};   // ..._REQUIRED_CLUSTER_WIDTH/HEIGHT/DEPTH
  std::atomic<int> non_portable_cluster{0};
  std::atomic<int> cluster_policy{0};
};

extern HandleRegistry<Module> g_modules;
extern HandleRegistry<Function> g_functions;

// CUDA_ERROR_INVALID_HANDLE unless `handle` is a function of a loaded module.
CUresult check_function(CUfunction handle, Function** out);

// Threads per block the function can be launched with (1024, or less when the
// PTX bounds it with .maxntid/.reqntid).
unsigned max_threads_per_block(const Function* f);

// A device attribute of `ctx`'s device (cuDeviceGetAttribute), or `fallback`
// when the device layer cannot say; the compute capability as major*10+minor.
int device_attribute(const Context* ctx, CUdevice_attribute attribute, int fallback);
int compute_capability(const Context* ctx);

}  // namespace gpupool::sim
