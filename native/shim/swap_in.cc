// swap_in.cc — swap_enter/swap_leave (swap.h): an operation or allocation on a
// device first brings the device's swapped memory back, at the addresses it
// had, and is counted while it runs so that eviction waits for it.
//
// The count and the device state are a Dekker pair: this side increments its
// device's user count, then loads the state; the evicting gate thread stores
// kEvicting, then waits for the count to reach 0 (swap_out.cc). Both
// sequentially consistent, so either the operation sees kEvicting and backs
// off, or the eviction sees it and waits.
#include "gate_internal.h"
#include "log.h"
#include "swap_host.h"
#include "swap_internal.h"
#include "swap_stream.h"

namespace gpupool::shim {
namespace {

constexpr long kBusyPollNs = 50 * 1000;

// Maps and fills each record of `physical` (claimed by this thread as
// kSwappingIn) in `ctx`; a record that fails stays swapped out. The first
// error, or CUDA_SUCCESS.
CUresult bring_back(int physical, const std::vector<SwapRecord*>& records, CUcontext ctx, bool push) {
  CtxScope scope(ctx, push);
  RelaxedCapture relaxed;
  SwapStream stream;  // not the legacy stream: swap_stream.h
  CUresult first_error = CUDA_SUCCESS;
  uint64_t mapped = 0, copied = 0;
  std::vector<SwapRecord*> back;
  for (SwapRecord* r : records) {
    CUresult result = backing_map(r);
    if (result == CUDA_SUCCESS) {
      result = stream.to_device(r->base, r->host, r->bytes);
      if (result != CUDA_SUCCESS) backing_unmap(r);  // its bytes stay in r->host
    }
    if (result != CUDA_SUCCESS) {
      if (first_error == CUDA_SUCCESS) first_error = result;
      continue;
    }
    mapped += r->span;
    copied += r->bytes;
    back.push_back(r);
  }
  stream.close();  // each copy was waited for on the stream: the memory is whole
  for (SwapRecord* r : back) {  // kept for the next swap-out (swap_host.h)
    host_buffer_keep(r->host, &r->spare, r->bytes);
    r->host = nullptr;
  }
  if (gpupool_region_gate* row = gate_row(physical)) {
    __atomic_add_fetch(&row->resident_bytes, mapped, __ATOMIC_RELEASE);
    __atomic_add_fetch(&row->swapped_in_bytes, copied, __ATOMIC_RELEASE);
  }
  if (first_error != CUDA_SUCCESS)
    GPUPOOL_LOG_WARN("device %d: swapping memory back in failed (error %d); %zu of %zu allocations are back",
                     physical, static_cast<int>(first_error), back.size(), records.size());
  else
    GPUPOOL_LOG_DEBUG("device %d: %zu allocations swapped back in (%llu bytes)", physical, back.size(),
                      static_cast<unsigned long long>(copied));
  return first_error;
}

}  // namespace

SwapEntry swap_enter(int physical, CUcontext ctx, bool push, bool may_swap_in, CUresult* error) {
  if (physical < 0 || physical >= kMaxDevices) return SwapEntry::kUntracked;
  if (g_swap_state[physical].load(std::memory_order_relaxed) == kNever) return SwapEntry::kUntracked;
  for (;;) {
    g_swap_users[physical].fetch_add(1, std::memory_order_seq_cst);
    const int state = g_swap_state[physical].load(std::memory_order_seq_cst);
    if (state == kResident) return SwapEntry::kEntered;
    g_swap_users[physical].fetch_sub(1, std::memory_order_seq_cst);
    if (state == kEvicting) return SwapEntry::kEvicting;
    if (state == kSwappingIn) {  // another thread brings it back: wait for it
      sleep_ns(kBusyPollNs);
      continue;
    }
    if (!may_swap_in) return SwapEntry::kSwappedOut;
    std::vector<SwapRecord*> records;
    int now = 0;
    if (!registry_claim(physical, kOut, kOut, kSwappingIn, false, &records, &now)) continue;
    const CUresult result = bring_back(physical, records, ctx, push);
    registry_settle(physical);
    if (result != CUDA_SUCCESS) {
      *error = result;
      return SwapEntry::kFailed;
    }
  }
}

void swap_leave(int physical) { g_swap_users[physical].fetch_sub(1, std::memory_order_seq_cst); }

void swap_await_eviction(int physical) {
  while (g_swap_state[physical].load(std::memory_order_seq_cst) == kEvicting) sleep_ns(kBusyPollNs);
}

}  // namespace gpupool::shim
