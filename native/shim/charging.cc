// charging.cc — the non-template half of charging.h.
#include "charging.h"

#include "log.h"
#include "real_driver.h"
#include "swap.h"

namespace gpupool::shim {

namespace {

// The calling thread's current context, as a record key; 0 when none.
uint64_t current_context() {
  auto get = SHIM_REAL(cuCtxGetCurrent);
  CUcontext ctx = nullptr;
  if (get == nullptr || get(&ctx) != CUDA_SUCCESS) return 0;
  return reinterpret_cast<uint64_t>(ctx);
}

}  // namespace

int current_device() {
  auto get = SHIM_REAL(cuCtxGetDevice);
  CUdevice dev = -1;
  if (get == nullptr || get(&dev) != CUDA_SUCCESS) return -1;
  return dev;
}

int stream_device(CUstream stream) {
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) return current_device();
  if (auto get = SHIM_REAL(cuStreamGetDevice)) {  // CUDA >= 12.8 drivers
    CUdevice dev = -1;
    if (get(stream, &dev) == CUDA_SUCCESS) return dev;
  }
  return current_device();
}

bool charge(int device, uint64_t bytes, const char* call) {
  Charge c = quota_charge(device, bytes);
  if (c == Charge::kOk) {
    // A process holding memory must answer eviction requests (swap.h), even
    // one that never submits work: its gate thread does.
    swap_answer_requests();
    return true;
  }
  GPUPOOL_LOG_INFO("%s of %llu bytes on device %d refused: %s", call, static_cast<unsigned long long>(bytes),
                   device, c == Charge::kOverQuota ? "over the job's quota" : "the quota is unavailable");
  return false;
}

void remember(Resource kind, uint64_t key, int device, uint64_t bytes) {
  // VMM memory outlives contexts; everything else dies with the one it was made in.
  uint64_t context = kind == Resource::kVmmHandle ? 0 : current_context();
  Allocation stale;
  if (allocation_add(kind, key, device, bytes, context, &stale)) {
    GPUPOOL_LOG_DEBUG("allocation %#llx reused before the shim saw it freed; releasing its old charge",
                      static_cast<unsigned long long>(key));
    quota_uncharge(stale.device, stale.bytes);
  }
}

}  // namespace gpupool::shim
