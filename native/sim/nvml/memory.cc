// memory.cc — memory and process queries of the simulated NVML (contract and
// the one-process view: nvml_internal.h).
//
// The simulated GPU reserves nothing for the driver or firmware, so
// nvmlMemory_t.used (reserved + allocated) and nvmlMemory_v2_t.used
// (allocated) are the same number here and reserved is 0; free = total - used,
// which is what the sim's cuMemGetInfo reports.
#include <dlfcn.h>
#include <unistd.h>

#include "nvml_internal.h"

namespace gpupool::sim_nvml {

void device_usage(const nvmlDevice_st* device, uint64_t* used, int* contexts) {
  *used = 0;
  *contexts = 0;
  // Only a driver already in the process can have allocated anything: never
  // load one here.
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (driver == nullptr) return;
  using UsageFn = int (*)(int, unsigned long long*, int*);
  auto usage = reinterpret_cast<UsageFn>(dlsym(driver, "gpupool_sim_device_usage"));
  unsigned long long bytes = 0;
  int active = 0;
  // A libcuda.so.1 without it is not the sim's: it has allocated nothing of ours.
  if (usage != nullptr && usage(static_cast<int>(device->index), &bytes, &active) == 0) {
    *used = bytes;
    *contexts = active;
  }
  dlclose(driver);
}

}  // namespace gpupool::sim_nvml

using namespace gpupool::sim_nvml;

namespace {

// The processes using `d`: this one, when it has a context on it.
template <typename Info, typename Fill>
nvmlReturn_t processes(nvmlDevice_t device, unsigned int* infoCount, Info* infos, Fill fill) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  if (infoCount == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (infos == nullptr && *infoCount != 0) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t used = 0;
  int contexts = 0;
  device_usage(d, &used, &contexts);
  unsigned needed = contexts > 0 ? 1 : 0;
  if (*infoCount < needed) {
    *infoCount = needed;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  *infoCount = needed;
  if (needed == 1) fill(&infos[0], static_cast<unsigned>(getpid()), used);
  return NVML_SUCCESS;
}

template <typename Info>
void fill_v2(Info* info, unsigned pid, uint64_t used) {
  *info = Info{};
  info->pid = pid;
  info->usedGpuMemory = used;
  info->gpuInstanceId = 0xFFFFFFFFu;  // not in MIG mode
  info->computeInstanceId = 0xFFFFFFFFu;
}

}  // namespace

NVML_SIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t used = 0;
  int contexts = 0;
  device_usage(d, &used, &contexts);
  memory->total = d->total_bytes;
  memory->used = used;
  memory->free = used >= d->total_bytes ? 0 : d->total_bytes - used;
  return NVML_SUCCESS;
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  uint64_t used = 0;
  int contexts = 0;
  device_usage(d, &used, &contexts);
  memory->total = d->total_bytes;
  memory->reserved = 0;
  memory->used = used;
  memory->free = used >= d->total_bytes ? 0 : d->total_bytes - used;
  return NVML_SUCCESS;
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* infoCount,
                                                                  nvmlProcessInfo_t* infos) {
  return processes(device, infoCount, infos, fill_v2<nvmlProcessInfo_t>);
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int* infoCount,
                                                                  nvmlProcessInfo_v2_t* infos) {
  return processes(device, infoCount, infos, fill_v2<nvmlProcessInfo_v2_t>);
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int* infoCount,
                                                               nvmlProcessInfo_v1_t* infos) {
  return processes(device, infoCount, infos, [](nvmlProcessInfo_v1_t* info, unsigned pid, uint64_t used) {
    *info = nvmlProcessInfo_v1_t{};
    info->pid = pid;
    info->usedGpuMemory = used;
  });
}
