// nvml_real.h — the real NVML behind the shim's NVML hooks.
//
// Contract
//   GPUPOOL_SHIM_NVML_HOOKS lists the NVML entry points the shim exports
//   (hooks_nvml.cc), one per ABI variant, each calling exactly its own real
//   variant; exports.map lists them beside the driver hooks (CMake checks
//   both lists at configure time). GPUPOOL_SHIM_NVML_HELPERS are real NVML
//   entry points the hooks call but do not hook.
//
//   nvml_load() resolves them once, from the NVML the process already has
//   (dlopen("libnvidia-ml.so.1", RTLD_NOLOAD): nvidia-smi links it, pynvml
//   dlopens it) or else by opening it (RTLD_LOCAL: the shim needs only its own
//   handle). Like driver_load() it takes no lock and runs as "resolving"
//   (real_driver.h), so a library constructor's dlsym inside that dlopen goes
//   straight to glibc. A process that never calls NVML never loads it.
//
//   nvml_hook_for_real() maps a real NVML address back to the hook of exactly
//   that variant, for the dlsym hook (hooks_lookup.cc): a program that dlopens
//   NVML and dlsyms nvmlDeviceGetMemoryInfo_v2 gets the hook (LESSONS #4:
//   by the returned pointer, never by base name).
//
// Threading: everything here is thread-safe; after loading, a lookup is one
// acquire load.
#pragma once

#include <gpupool/nvml_abi.h>

#include <atomic>

#define GPUPOOL_SHIM_NVML_HOOKS(X) X(nvmlDeviceGetMemoryInfo) X(nvmlDeviceGetMemoryInfo_v2)
#define GPUPOOL_SHIM_NVML_HELPERS(X) X(nvmlDeviceGetUUID)

namespace gpupool::shim {

enum NvmlId : int {
#define GPUPOOL_SHIM_NVML_ID(name) kNvml_##name,
  GPUPOOL_SHIM_NVML_HOOKS(GPUPOOL_SHIM_NVML_ID)
  kNvmlHookCount,
  kNvmlHelpersFirst = kNvmlHookCount - 1,
  GPUPOOL_SHIM_NVML_HELPERS(GPUPOOL_SHIM_NVML_ID)
  kNvmlRealCount
#undef GPUPOOL_SHIM_NVML_ID
};

// The hook id of an exported NVML hook name, or -1.
int nvml_hook_id_by_name(const char* name);
// The shim's NVML hook by id (ids below kNvmlHookCount).
void* nvml_hook(int id);
// The shim's hook for a real NVML address it hooks, or nullptr (also before
// NVML is loaded).
void* nvml_hook_for_real(const void* real);

// Loads NVML and resolves every name once; false when libnvidia-ml.so.1
// cannot be opened (reported once, at warn level).
bool nvml_load();
bool nvml_loaded();

// The real entry point by id; nullptr when NVML cannot be loaded or lacks it.
void* nvml_real(int id);

// What a hook returns when it has no real function: NVML cannot be loaded
// (NVML_ERROR_LIBRARY_NOT_FOUND) or lacks the entry point
// (NVML_ERROR_FUNCTION_NOT_FOUND).
nvmlReturn_t nvml_missing_result();

}  // namespace gpupool::shim

// The real NVML `name`, typed as nvml_abi.h declares it; nullptr if missing.
#define SHIM_NVML_REAL(name) \
  reinterpret_cast<decltype(&::name)>(::gpupool::shim::nvml_real(::gpupool::shim::kNvml_##name))
