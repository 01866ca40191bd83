// swap_alloc.cc — which allocations are swappable, and making one (swap.h).
#include "agent_table.h"
#include "gate_internal.h"
#include "hook_table.h"
#include "log.h"
#include "swap_internal.h"

namespace gpupool::shim {
namespace {

std::atomic<bool> g_no_vmm_warned{false};

// The device's swapped memory is back and this thread counted (kEntered), or
// the error that stops the allocation. Memory that is out comes back only
// under this job's slice, as before a gated operation.
CUresult enter(int physical, CUcontext ctx) {
  bool held = false, may_swap_in = false;
  for (;;) {
    CUresult error = CUDA_SUCCESS;
    const SwapEntry entry = swap_enter(physical, ctx, false, may_swap_in, &error);
    if (entry == SwapEntry::kEntered) break;
    if (entry == SwapEntry::kSwappedOut) {
      bool refused = false;
      held = gate_hold(physical, &refused);
      if (refused) return CUDA_ERROR_NOT_PERMITTED;
      may_swap_in = true;  // held, or the gate is open
      continue;
    }
    if (held) gate_unhold(physical);
    held = may_swap_in = false;
    if (entry == SwapEntry::kFailed) return error;
    swap_await_eviction(physical);  // kEvicting (kUntracked cannot be: tracked first)
  }
  // Counted now, eviction waits for this thread: the slice is not needed any more.
  if (held) gate_unhold(physical);
  return CUDA_SUCCESS;
}

}  // namespace

bool swap_backs(int device, int* physical) {
  if (!g_launch_gate_active.load(std::memory_order_relaxed) || !quota_ready()) return false;
  const int p = agent_table_physical(device);
  const gpupool_node_slice* slice = agent_table_slice(p);
  if (p < 0 || p >= kMaxDevices || slice == nullptr) return false;
  if ((__atomic_load_n(&slice->flags, __ATOMIC_ACQUIRE) & GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED) == 0) return false;
  if (backing_granularity(device) == 0) {
    if (!g_no_vmm_warned.exchange(true))
      GPUPOOL_LOG_WARN("device %d is oversubscribed but its driver reports no VMM allocation granularity: "
                       "its memory cannot be swapped",
                       device);
    return false;
  }
  *physical = p;
  return true;
}

CUresult swap_alloc(int device, int physical, uint64_t bytes, CUdeviceptr* out) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;  // as cuMemAlloc
  const uint64_t granularity = backing_granularity(device);
  if (bytes > UINT64_MAX - granularity) return CUDA_ERROR_OUT_OF_MEMORY;
  const uint64_t span = (bytes + granularity - 1) / granularity * granularity;
  auto current = SHIM_REAL(cuCtxGetCurrent);
  auto reserve = SHIM_REAL(cuMemAddressReserve);
  auto address_free = SHIM_REAL(cuMemAddressFree);
  if (current == nullptr || reserve == nullptr || address_free == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  CUcontext ctx = nullptr;
  if (CUresult r = current(&ctx); r != CUDA_SUCCESS || ctx == nullptr)
    return r != CUDA_SUCCESS ? r : CUDA_ERROR_INVALID_CONTEXT;
  gate_thread_ensure();  // evictions are served by the gate thread
  registry_track(physical);
  if (CUresult r = enter(physical, ctx); r != CUDA_SUCCESS) return r;
  SwapRecord record;
  record.bytes = bytes;
  record.span = span;
  record.device = device;
  record.physical = physical;
  record.ctx = ctx;
  CUresult result = reserve(&record.base, span, 0, 0, 0);
  if (result == CUDA_SUCCESS) {
    result = backing_map(&record);
    if (result != CUDA_SUCCESS) address_free(record.base, span);
  }
  if (result == CUDA_SUCCESS) {
    registry_add(record);
    if (gpupool_region_gate* row = gate_row(physical))
      __atomic_add_fetch(&row->resident_bytes, span, __ATOMIC_RELEASE);
    *out = record.base;
  }
  swap_leave(physical);
  return result;
}

}  // namespace gpupool::shim
