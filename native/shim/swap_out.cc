// swap_out.cc — eviction requests (node_table.h slices[p].evict), served by
// the gate thread alone (swap.h, Contract): never an application thread, so a
// job is swapped out even while all its threads wait or compute on the host.
//
// The request comes from another process: its holder is compared with this
// job's own entry + 1 (and the entry checked still ours), its sequence only
// with this process's evicted_seq; flags bits other than OVERSUBSCRIBED are
// ignored. Nothing else of it is used.
#include "agent_table.h"
#include "gate_internal.h"
#include "hook_table.h"
#include "log.h"
#include "swap_host.h"
#include "swap_internal.h"
#include "swap_stream.h"

namespace gpupool::shim {
namespace {

constexpr long kDrainPollNs = 50 * 1000;

bool oversubscribed(const gpupool_node_slice* slice) {
  return (__atomic_load_n(&slice->flags, __ATOMIC_ACQUIRE) & GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED) != 0;
}

// Copies each record (claimed as kEvicting) to host memory and releases its
// physical memory; one that fails stays resident.
void copy_out(int physical, const std::vector<SwapRecord*>& records, gpupool_region_gate* row) {
  RelaxedCapture relaxed;
  auto set_current = SHIM_REAL(cuCtxSetCurrent);
  SwapStream stream;
  CUcontext stream_ctx = nullptr;
  uint64_t unmapped = 0, copied = 0;
  size_t failed = 0;
  CUresult first_error = CUDA_SUCCESS;
  for (SwapRecord* r : records) {
    // At exit the driver goes away soon after the gate thread is told to
    // stop (gate_thread.cc): what is not out yet stays resident.
    if (gate_thread_stopping()) {
      ++failed;
      continue;
    }
    void* host = host_buffer_take(&r->spare, r->bytes);
    CUresult result = host == nullptr ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
    // The gate thread's own current context: the allocation's, which lives
    // as long as the record (swap_context_gone waits for this device).
    if (result == CUDA_SUCCESS && r->ctx != stream_ctx) {
      stream.close();
      result = set_current != nullptr ? set_current(r->ctx) : CUDA_ERROR_NOT_SUPPORTED;
      stream_ctx = result == CUDA_SUCCESS ? r->ctx : nullptr;
    }
    // On a private stream (swap_stream.h), complete when it returns.
    if (result == CUDA_SUCCESS) result = stream.to_host(host, r->base, r->bytes);
    if (result == CUDA_SUCCESS) result = backing_unmap(r);
    if (result != CUDA_SUCCESS) {
      host_buffer_keep(host, &r->spare, r->bytes);
      if (first_error == CUDA_SUCCESS) first_error = result;
      ++failed;
      continue;
    }
    r->host = host;
    unmapped += r->span;
    copied += r->bytes;
  }
  __atomic_sub_fetch(&row->resident_bytes, unmapped, __ATOMIC_RELEASE);
  __atomic_add_fetch(&row->swapped_out_bytes, copied, __ATOMIC_RELEASE);
  if (failed > 0)
    GPUPOOL_LOG_WARN("device %d: %zu of %zu allocations could not be swapped out (error %d); they stay resident",
                     physical, failed, records.size(), static_cast<int>(first_error));
  else
    GPUPOOL_LOG_DEBUG("device %d: %zu allocations swapped out (%llu bytes)", physical, records.size(),
                      static_cast<unsigned long long>(copied));
}

// Serves one request for `physical`; false when it must be tried again later
// (an application thread is swapping the device back in).
bool evict(int physical, gpupool_region_gate* row) {
  std::vector<SwapRecord*> records;
  int now = kNever;
  if (!registry_claim(physical, kResident, kOut, kEvicting, true, &records, &now)) return now == kNever;
  if (!records.empty()) {
    // No submission or allocation of this process runs on the device from
    // here on; wait for those inside and for the gated work in flight.
    while (g_swap_users[physical].load(std::memory_order_seq_cst) != 0 ||
           gpupool_gate_load_u32(&row->in_flight) != 0) {
      inflight_poll();
      sleep_ns(kDrainPollNs);
    }
    copy_out(physical, records, row);
  }
  registry_settle(physical);
  return true;
}

}  // namespace

void swap_poll_evictions() {
  const int entry = agent_table_entry();
  if (entry < 0) return;
  const uint32_t mine = static_cast<uint32_t>(entry) + 1;
  for (int p = 0; p < kMaxDevices; ++p) {
    const gpupool_node_slice* slice = agent_table_slice(p);
    if (slice == nullptr || !oversubscribed(slice)) continue;
    const uint64_t request = gpupool_node_load_u64(&slice->evict);
    if (request == 0 || GPUPOOL_SLICE_HOLDER(request) != mine) continue;
    const uint64_t seq = GPUPOOL_SLICE_SEQ(request);
    gpupool_region_gate* row = gate_row(p);
    if (row == nullptr || seq <= gpupool_gate_load_u64(&row->evicted_seq)) continue;
    if (!agent_table_entry_ours()) continue;  // its number may name another job by now
    if (evict(p, row)) __atomic_store_n(&row->evicted_seq, seq, __ATOMIC_RELEASE);
  }
}

void swap_answer_requests() {
  if (g_launch_gate_active.load(std::memory_order_relaxed)) gate_thread_ensure();
}

bool swap_watching() {
  if (agent_table_entry() < 0) return false;
  for (int p = 0; p < kMaxDevices; ++p) {
    const gpupool_node_slice* slice = agent_table_slice(p);
    if (slice != nullptr && oversubscribed(slice)) return true;
  }
  return false;
}

}  // namespace gpupool::shim
