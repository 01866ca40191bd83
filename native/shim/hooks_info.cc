// hooks_info.cc — cuInit and what a job is told about device memory.
//
// A device with a quota looks like a device of the quota's size:
//   cuMemGetInfo      total = min(quota, physical total)
//                     free  = min(quota - the job's usage (all its processes),
//                             physical free)
//   cuDeviceTotalMem  min(quota, physical total)
// never more than the hardware has (a total above it makes cuDNN pick plans
// that cannot run: LESSONS #9). A device without a quota passes through.
// The legacy 32-bit forms report the smaller of the driver's own (clamped)
// answer and the virtual one.
//
// cuInit first brings the job's visible devices in line (devices.h) and fails
// with CUDA_ERROR_INVALID_VALUE when they cannot be honoured; after the real
// cuInit succeeds it records which physical device each job ordinal is (the
// agent's limits are per physical device).
#include <algorithm>

#include "devices.h"
#include "charging.h"
#include "hook_table.h"
#include "quota.h"
#include "real_driver.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

// The question joined the job's region (quota_limit): the process now holds
// a slot the agent counts, so it must answer eviction requests (swap.h).
void joined() { swap_answer_requests(); }

// Virtual (free, total) of `device` given the physical ones; false when the
// device has no quota.
bool virtual_info(int device, uint64_t physical_free, uint64_t physical_total, uint64_t* free, uint64_t* total) {
  if (device < 0) return false;
  uint64_t limit = quota_limit(device);
  if (limit == kUnlimited) return false;
  uint64_t used = std::min(quota_used(device), limit);
  *total = std::min(limit, physical_total);
  *free = std::min(limit - used, physical_free);
  return true;
}

}  // namespace

SHIM_EXPORT CUresult cuInit(unsigned int Flags) {
  auto real = SHIM_REAL(cuInit);
  if (real == nullptr) return missing_real_result();
  if (CUresult r = devices_before_init(); r != CUDA_SUCCESS) return r;
  CUresult r = real(Flags);
  if (r == CUDA_SUCCESS) devices_after_init();
  return r;
}

SHIM_EXPORT CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  auto real = SHIM_REAL(cuMemGetInfo_v2);
  if (real == nullptr) return missing_real_result();
  int dev = current_device();
  if (dev < 0) return real(free, total);
  joined();
  if (quota_limit(dev) == kUnlimited) return real(free, total);
  size_t physical_free = 0, physical_total = 0;
  CUresult r = real(&physical_free, &physical_total);
  if (r != CUDA_SUCCESS) return r;
  uint64_t f = physical_free, t = physical_total;
  virtual_info(dev, physical_free, physical_total, &f, &t);
  if (free != nullptr) *free = static_cast<size_t>(f);
  if (total != nullptr) *total = static_cast<size_t>(t);
  return r;
}

SHIM_EXPORT CUresult cuMemGetInfo(unsigned int* free, unsigned int* total) {
  auto real = SHIM_REAL(cuMemGetInfo);
  if (real == nullptr) return missing_real_result();
  int dev = current_device();
  if (dev < 0) return real(free, total);
  joined();
  if (quota_limit(dev) == kUnlimited) return real(free, total);
  unsigned int physical_free = 0, physical_total = 0;
  CUresult r = real(&physical_free, &physical_total);
  if (r != CUDA_SUCCESS) return r;
  uint64_t f = physical_free, t = physical_total;
  virtual_info(dev, physical_free, physical_total, &f, &t);
  if (free != nullptr) *free = static_cast<unsigned int>(std::min<uint64_t>(f, physical_free));
  if (total != nullptr) *total = static_cast<unsigned int>(std::min<uint64_t>(t, physical_total));
  return r;
}

SHIM_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  auto real = SHIM_REAL(cuDeviceTotalMem_v2);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(bytes, dev);
  if (r == CUDA_SUCCESS && bytes != nullptr) {
    joined();
    uint64_t limit = quota_limit(dev);
    if (limit != kUnlimited) *bytes = static_cast<size_t>(std::min<uint64_t>(limit, *bytes));
  }
  return r;
}

SHIM_EXPORT CUresult cuDeviceTotalMem(unsigned int* bytes, CUdevice dev) {
  auto real = SHIM_REAL(cuDeviceTotalMem);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(bytes, dev);
  if (r == CUDA_SUCCESS && bytes != nullptr) {
    joined();
    uint64_t limit = quota_limit(dev);
    if (limit != kUnlimited) *bytes = static_cast<unsigned int>(std::min<uint64_t>(limit, *bytes));
  }
  return r;
}
