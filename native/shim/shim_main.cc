// shim_main.cc — the library constructor of libgpupool-shim.so.
//
// Runs when the loader maps the shim (LD_PRELOAD: before main, before any
// driver initialisation, normally while the process has one thread):
//   - reads the configuration (shim_config.h; exports GPUPOOL_JOB for children),
//   - hands GPUPOOL_VISIBLE_DEVICES to the driver as CUDA_VISIBLE_DEVICES
//     (devices.h) — it must be in the environment before cuInit,
//   - arms the fork handlers of the allocation map,
//   - activates the time-slice gate when the agent started the job (gate.h),
//   - finds glibc's dlsym.
// It does not load the driver or attach the quota region: a process that never
// calls the driver (a shell, a compiler under the same LD_PRELOAD) pays for
// neither. The whole constructor runs as "resolving", so a dlsym made from
// here goes straight to glibc (real_driver.h, Recursion).
#include "allocations.h"
#include "devices.h"
#include "gate.h"
#include "real_driver.h"
#include "shim_config.h"

namespace {

__attribute__((constructor)) void gpupool_shim_start() {
  using namespace gpupool::shim;
  ResolvingScope resolving;
  shim_config_init();
  devices_apply();
  allocations_init();
  gate_init();
  real_dlsym();
}

}  // namespace
