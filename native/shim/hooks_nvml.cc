// hooks_nvml.cc — what NVML tells a job about device memory (nvidia-smi,
// pynvml, torch.cuda.list_gpu_processes inside the job).
//
// For an NVML device that is one of the job's devices (job_uuids.h: by UUID,
// since NVML ignores CUDA_VISIBLE_DEVICES) and has a quota, the answer is the
// job's view, the same numbers cuMemGetInfo gives (hooks_info.cc):
//   total     min(quota, the real total)
//   used      min(the job's charged usage, all its processes, total)
//   free      min(total - used, the real free)
//   reserved  (v2 only) the real reservation, capped at total - used; v2's free
//             is then min(total - used - reserved, the real free), keeping
//             v2's total == reserved + free + used
// The quota has no reserve of its own: the driver's reservation is outside
// what the job may allocate, so v1's used is the charged usage alone.
// Every other device, a job without a quota, and every failed real call pass
// through untouched — including the real library's error for a wrong struct
// version, since the real call always runs first with the caller's struct.
//
// Utilisation, process lists and the other NVML queries are not interposed
// (the process list shows the physical usage of the job's own processes).
//
// Recursion: a thread already inside one of these hooks (e.g. a driver that
// asks NVML during the cuInit of the UUID lookup) gets the real answer.
#include <algorithm>
#include <cstdint>

#include "job_uuids.h"
#include "hook_table.h"
#include "nvml_real.h"
#include "quota.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

__attribute__((tls_model("initial-exec"))) thread_local bool t_inside = false;

class InsideScope {
 public:
  InsideScope() { t_inside = true; }
  ~InsideScope() { t_inside = false; }
  InsideScope(const InsideScope&) = delete;
  InsideScope& operator=(const InsideScope&) = delete;
};

// The job's view of NVML device `device`, whose real total is `real_total`:
// total = min(quota, real total) and used = min(charged usage, total). False
// when the device is not the job's, has no quota, or this thread is already
// inside a hook (the UUID lookup may run cuInit).
bool job_view(nvmlDevice_t device, uint64_t real_total, uint64_t* total, uint64_t* used) {
  if (t_inside) return false;
  InsideScope inside;
  auto uuid_of = SHIM_NVML_REAL(nvmlDeviceGetUUID);
  if (uuid_of == nullptr) return false;
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {0};
  if (uuid_of(device, uuid, sizeof(uuid)) != NVML_SUCCESS) return false;
  int dev = job_device_by_uuid(uuid);
  if (dev < 0) return false;
  // Asking joins the job's region: the process then answers eviction requests (swap.h).
  swap_answer_requests();
  uint64_t limit = quota_limit(dev);
  if (limit == kUnlimited) return false;
  *total = std::min(limit, real_total);
  *used = std::min(quota_used(dev), *total);
  return true;
}

}  // namespace

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  auto real = SHIM_NVML_REAL(nvmlDeviceGetMemoryInfo);
  if (real == nullptr) return nvml_missing_result();
  nvmlReturn_t r = real(device, memory);
  uint64_t total = 0, used = 0;
  if (r != NVML_SUCCESS || memory == nullptr || !job_view(device, memory->total, &total, &used)) return r;
  memory->free = std::min<uint64_t>(total - used, memory->free);
  memory->used = used;
  memory->total = total;
  return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  auto real = SHIM_NVML_REAL(nvmlDeviceGetMemoryInfo_v2);
  if (real == nullptr) return nvml_missing_result();
  nvmlReturn_t r = real(device, memory);
  uint64_t total = 0, used = 0;
  if (r != NVML_SUCCESS || memory == nullptr || !job_view(device, memory->total, &total, &used)) return r;
  uint64_t reserved = std::min<uint64_t>(memory->reserved, total - used);
  memory->free = std::min<uint64_t>(total - used - reserved, memory->free);
  memory->reserved = reserved;
  memory->used = used;
  memory->total = total;
  return r;
}
