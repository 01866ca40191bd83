// nvml_bridge.cc — what the simulated NVML (nvml/) asks the simulated driver.
//
// Contract
//   The simulated NVML is its own library (libnvidia-ml.so.1), but the memory
//   and contexts it reports live in this one. It finds this library with
//   dlopen("libcuda.so.1", RTLD_NOLOAD) and calls gpupool_sim_device_usage, the
//   one export of the sim that is not a driver entry point (exports.map). A
//   program that never loaded the driver has, correctly, nothing allocated.
//
//   gpupool_sim_device_usage(physical, &used, &contexts): for the physical
//   device `physical` (index among GPUPOOL_SIM_DEVICES, as NVML numbers them —
//   NVML ignores CUDA_VISIBLE_DEVICES), the bytes this process has allocated on
//   it and how many of its contexts on it are active. Returns 0; returns -1
//   (and reports nothing allocated) when the driver is not initialised or this
//   process does not see the device.
//
// Threading: thread-safe; reads atomics and the context registry's snapshot.
#include "sim.h"

SIM_API int gpupool_sim_device_usage(int physical, unsigned long long* used, int* contexts) {
  using namespace gpupool::sim;
  if (used != nullptr) *used = 0;
  if (contexts != nullptr) *contexts = 0;
  if (require_init() != CUDA_SUCCESS) return -1;
  for (int ordinal = 0, n = device_count(); ordinal < n; ++ordinal) {
    Device* d = device(ordinal);
    if (d == nullptr || d->physical != physical) continue;
    if (used != nullptr) *used = d->used_bytes.load();
    if (contexts != nullptr) {
      int active = 0;
      for (Context* ctx : g_contexts.all()) active += ctx->device == d && ctx->active.load();
      *contexts = active;
    }
    return 0;
  }
  return -1;
}
