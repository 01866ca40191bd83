// init.cc — nvmlInit*, nvmlShutdown, nvmlErrorString and the system queries of
// the simulated NVML (contract: nvml_internal.h).
//
// Init is reference counted as NVML documents: every successful nvmlInit*
// must be matched by an nvmlShutdown; nvmlShutdown without an outstanding init
// is NVML_ERROR_UNINITIALIZED. A configuration the sim's driver would refuse
// (config.cc) fails init with NVML_ERROR_UNKNOWN and the same message.
#include <cuda.h>

#include <mutex>
#include <vector>

#include "nvml_internal.h"
#include "sim.h"

namespace gpupool::sim_nvml {
namespace {

std::mutex g_mutex;
int g_init_count = 0;                    // guarded by g_mutex
std::vector<nvmlDevice_st*> g_devices;   // built once under g_mutex, then read-only
bool g_devices_built = false;

void build_devices() {
  const sim::Config& c = sim::config();
  for (int i = 0; i < c.device_count; ++i) {
    auto* d = new nvmlDevice_st;
    d->index = static_cast<unsigned>(i);
    d->name = c.name;
    sim::device_uuid(c.name, i, d->uuid);
    d->uuid_text = sim::uuid_text(d->uuid);
    d->total_bytes = c.memory_bytes;
    g_devices.push_back(d);
  }
  g_devices_built = true;
}

nvmlReturn_t init(unsigned flags) {
  if ((flags & ~(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH)) != 0) return NVML_ERROR_INVALID_ARGUMENT;
  std::lock_guard<std::mutex> lock(g_mutex);
  const sim::Config& c = sim::config();
  if (!c.error.empty()) {
    sim::report(c.error);
    return NVML_ERROR_UNKNOWN;
  }
  // "NVML_INIT_FLAG_NO_GPUS: don't fail nvmlInit() when no GPUs are found."
  if (c.device_count == 0 && (flags & NVML_INIT_FLAG_NO_GPUS) == 0) return NVML_ERROR_UNKNOWN;
  if (!g_devices_built) build_devices();
  ++g_init_count;
  return NVML_SUCCESS;
}

}  // namespace

nvmlReturn_t require_init() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

unsigned device_count() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return static_cast<unsigned>(g_devices.size());
}

nvmlDevice_st* device_at(unsigned index) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return index < g_devices.size() ? g_devices[index] : nullptr;
}

nvmlReturn_t checked(nvmlDevice_t handle, nvmlDevice_st** out) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  for (nvmlDevice_st* d : g_devices) {
    if (d == handle) {
      *out = d;
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t copy_text(const std::string& text, char* buf, unsigned length) {
  if (buf == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  text.copy(buf, text.size());
  buf[text.size()] = 0;
  return NVML_SUCCESS;
}

}  // namespace gpupool::sim_nvml

using namespace gpupool::sim_nvml;

NVML_SIM_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return init(flags); }
NVML_SIM_API nvmlReturn_t nvmlInit_v2(void) { return init(0); }
NVML_SIM_API nvmlReturn_t nvmlInit(void) { return init(0); }

NVML_SIM_API nvmlReturn_t nvmlShutdown(void) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  --g_init_count;
  return NVML_SUCCESS;
}

NVML_SIM_API const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
  }
}

NVML_SIM_API nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  if (nvmlReturn_t r = require_init(); r != NVML_SUCCESS) return r;
  // The kernel-mode driver's version; the sim has none, so it names itself.
  return copy_text("580.00-gpupool-sim", version, length);
}

NVML_SIM_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* cudaDriverVersion) {
  if (cudaDriverVersion == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *cudaDriverVersion = CUDA_VERSION;  // what the sim's cuDriverGetVersion reports
  return NVML_SUCCESS;
}

NVML_SIM_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* cudaDriverVersion) {
  return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}
