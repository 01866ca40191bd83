// gate.cc — admission through the time-slice gate (gate.h): the grant, the
// Dekker pair with the agent, waiting for a slice, the depth bound.
#include "gate.h"

#include <pthread.h>
#include <unistd.h>

#include "agent_table.h"
#include "gate_internal.h"
#include "hook_table.h"
#include "log.h"
#include "quota.h"
#include "shim_config.h"
#include "swap_internal.h"

namespace gpupool::shim {
namespace {

constexpr long kGrantPollNs = 50 * 1000;
constexpr uint64_t kRecheckNs = 100ull * 1000 * 1000;  // entry and agent, while waiting
constexpr uint64_t kAgentVerdictNs = 1000ull * 1000 * 1000;
constexpr uint32_t kMaxDepth = 1024;
// The device time a process may queue ahead while the agent allows depth > 1
// (gate_internal.h, inflight_reserve): a tenth of the slice's quantum, so the
// overrun at a hand-over stays small beside the slice itself.
constexpr uint64_t kBudgetPerQuantum = 10;
constexpr uint64_t kDefaultBudgetNs = 5ull * 1000 * 1000;   // quantum unknown or absurd
constexpr uint64_t kMaxQuantumNs = 3600ull * 1000 * 1000 * 1000;

enum Mode : int { kUndecided, kOn, kOff };
std::atomic<int> g_mode{kUndecided};
std::atomic<int> g_pid{0};  // getpid() is a system call; refreshed after fork
std::atomic<gpupool_region_gate*> g_rows[kMaxDevices];
std::atomic<uint64_t> g_agent_dead_until{0};  // CLOCK_MONOTONIC; 0: alive as far as known
std::atomic<bool> g_agent_dead_warned{false};
std::atomic<bool> g_refused_warned{false};
std::atomic<uint32_t> g_depth_warned{0};  // bit d: slices[d].depth reported

bool decide() {
  int mode = g_mode.load(std::memory_order_acquire);
  if (mode != kUndecided) return mode == kOn;
  const bool on = quota_ready() && agent_table_attached();
  if (on) GPUPOOL_LOG_INFO("time-slice gate on: device work waits for this job's slice (jobs[%d])",
                           agent_table_entry());
  g_mode.store(on ? kOn : kOff, std::memory_order_release);
  if (!on) g_launch_gate_active.store(false, std::memory_order_relaxed);  // refused: the quota said why
  return on;
}

gpupool_region_gate* row(int physical) {
  gpupool_region_gate* r = g_rows[physical].load(std::memory_order_acquire);
  if (r != nullptr) return r;
  r = quota_gate(physical, g_pid.load(std::memory_order_relaxed));
  if (r != nullptr) g_rows[physical].store(r, std::memory_order_release);
  return r;
}

// slices[d].depth, validated: it comes from another process.
uint32_t depth_of(int d, const gpupool_node_slice* slice) {
  const uint32_t depth = __atomic_load_n(&slice->depth, __ATOMIC_ACQUIRE);
  if (depth >= 1 && depth <= kMaxDepth) return depth;
  if ((g_depth_warned.fetch_or(1u << d) & (1u << d)) == 0)
    GPUPOOL_LOG_WARN("node table slices[%d].depth is %u, outside 1..%u: using %u", d, depth, kMaxDepth,
                     depth == 0 ? 1 : kMaxDepth);
  return depth == 0 ? 1 : kMaxDepth;
}

// The queue budget from slices[d].quantum_ns, validated: it comes from another process.
uint64_t budget_of(const gpupool_node_slice* slice) {
  const uint64_t quantum = __atomic_load_n(&slice->quantum_ns, __ATOMIC_RELAXED);
  if (quantum == 0 || quantum > kMaxQuantumNs) return kDefaultBudgetNs;
  return quantum / kBudgetPerQuantum;
}

// Whether the agent is gone; /proc is read at most once a second.
bool agent_gone() {
  const uint64_t now = monotonic_ns();
  const uint64_t until = g_agent_dead_until.load(std::memory_order_acquire);
  if (until != 0 && now < until) return true;
  if (agent_table_agent_alive()) {
    g_agent_dead_until.store(0, std::memory_order_release);
    return false;
  }
  g_agent_dead_until.store(now + kAgentVerdictNs, std::memory_order_release);
  if (!g_agent_dead_warned.exchange(true))
    log_write(LogLevel::kWarn, "the agent (node table header agent_pid) is gone: device work runs without time slices");
  return true;
}

enum class Admission { kGated, kOpen, kRefused };

uint32_t holder_of(const gpupool_node_slice* slice) {
  return GPUPOOL_SLICE_HOLDER(gpupool_node_load_grant(&slice->grant));
}

// Sleeps until slices[d] names `mine` or OPEN, or kRecheckNs passed.
void wait_for_grant(const gpupool_node_slice* slice, uint32_t mine) {
  const uint64_t until = monotonic_ns() + kRecheckNs;
  for (;;) {
    sleep_ns(kGrantPollNs);
    const uint32_t holder = holder_of(slice);
    if (holder == mine || holder == GPUPOOL_SLICE_OPEN || monotonic_ns() >= until) return;
  }
}

// On return kGated, the caller holds a place on d and one in_flight count.
Admission admit(int d, const gpupool_node_slice* slice, gpupool_region_gate* gate) {
  const uint32_t mine = static_cast<uint32_t>(agent_table_entry()) + 1;
  bool waiting = false;
  uint64_t since = 0;
  Admission verdict;
  // The thread counts as waiting from here until it is admitted, also while it
  // waits for a place: its previous operation completes (in_flight 0) before
  // this one is admitted (in_flight 1), and the agent must not take that gap
  // for a job with nothing pending (it would end the job's slice and cost it
  // its place in the fair share).
  __atomic_add_fetch(&gate->waiting, 1u, __ATOMIC_SEQ_CST);
  for (;;) {
    inflight_reserve(d, depth_of(d, slice), budget_of(slice));
    __atomic_add_fetch(&gate->in_flight, 1u, __ATOMIC_SEQ_CST);  // then the grant: the Dekker pair
    const uint32_t holder = holder_of(slice);
    if (holder == mine && agent_table_entry_ours()) {
      verdict = Admission::kGated;
      break;
    }
    if (!waiting) {  // from now on it waits for a slice: wait_ns
      since = monotonic_ns();
      waiting = true;
    }
    __atomic_sub_fetch(&gate->in_flight, 1u, __ATOMIC_SEQ_CST);
    inflight_unreserve(d);
    if (holder == GPUPOOL_SLICE_OPEN) {
      verdict = Admission::kOpen;
      break;
    }
    if (!agent_table_entry_ours()) {
      verdict = Admission::kRefused;
      break;
    }
    if (agent_gone()) {
      verdict = Admission::kOpen;
      break;
    }
    wait_for_grant(slice, mine);
  }
  if (waiting) __atomic_add_fetch(&gate->wait_ns, monotonic_ns() - since, __ATOMIC_RELEASE);
  __atomic_sub_fetch(&gate->waiting, 1u, __ATOMIC_SEQ_CST);  // after in_flight went up (kGated)
  return verdict;
}

void atfork_child() {
  g_pid.store(static_cast<int>(::getpid()), std::memory_order_relaxed);
  for (auto& r : g_rows) r.store(nullptr, std::memory_order_relaxed);  // the child gets its own slot
}

// Gives up an admission (kGated) without submitting.
void unadmit(int d, gpupool_region_gate* gate) {
  __atomic_sub_fetch(&gate->in_flight, 1u, __ATOMIC_SEQ_CST);
  inflight_unreserve(d);
}

// Admitted (`gated`) or through an open gate: runs the operation once d's
// swappable memory is resident (swap.h), counted as its user meanwhile.
// *retry: it was being evicted; the admission was given up, admit again.
CUresult run_resident(const Where& where, gpupool_region_gate* gate, bool gated, const GateTarget& target,
                      GateOp op, void* arg, bool* retry) {
  const int d = where.ctx->physical;
  CUresult error = CUDA_SUCCESS;
  *retry = false;
  switch (swap_enter(d, where.ctx->ctx, where.push, true, &error)) {
    case SwapEntry::kUntracked:
      return gated ? inflight_submit(where, gate, target.synchronous, op, arg) : op(arg);
    case SwapEntry::kEntered: {
      const CUresult r = gated ? inflight_submit(where, gate, target.synchronous, op, arg) : op(arg);
      swap_leave(d);
      return r;
    }
    case SwapEntry::kSwappedOut:  // not with may_swap_in
    case SwapEntry::kEvicting:
      if (gated) unadmit(d, gate);
      swap_await_eviction(d);
      *retry = true;
      return CUDA_SUCCESS;
    case SwapEntry::kFailed:
      break;
  }
  if (gated) unadmit(d, gate);
  return error;
}

}  // namespace

void gate_init() {
  if (shim_config().agent_table.empty()) return;
  g_pid.store(static_cast<int>(::getpid()), std::memory_order_relaxed);
  pthread_atfork(nullptr, nullptr, atfork_child);
  g_launch_gate_active.store(true, std::memory_order_relaxed);
}

gpupool_region_gate* gate_row(int physical) {
  if (physical < 0 || physical >= kMaxDevices || !decide()) return nullptr;
  return row(physical);
}

bool gate_hold(int physical, bool* refused) {
  *refused = false;
  if (physical < 0 || physical >= kMaxDevices || !decide()) return false;
  const gpupool_node_slice* slice = agent_table_slice(physical);
  gpupool_region_gate* gate = row(physical);
  if (slice == nullptr || gate == nullptr || holder_of(slice) == GPUPOOL_SLICE_OPEN) return false;
  gate_thread_ensure();
  switch (admit(physical, slice, gate)) {
    case Admission::kGated:
      return true;
    case Admission::kRefused:
      *refused = true;
      return false;
    case Admission::kOpen:
      return false;
  }
  return false;
}

void gate_unhold(int physical) {
  if (gpupool_region_gate* gate = row(physical)) unadmit(physical, gate);
}

CUresult gate_submit(const GateTarget& target, GateOp op, void* arg) {
  if (!decide()) return op(arg);
  Where where;
  if (!gate_locate(target, &where)) return op(arg);
  const int d = where.ctx->physical;
  const gpupool_node_slice* slice = agent_table_slice(d);
  if (slice == nullptr) return op(arg);
  const bool swappable = g_swap_state[d].load(std::memory_order_relaxed) != kNever;
  if (holder_of(slice) == GPUPOOL_SLICE_OPEN && !swappable) return op(arg);
  if (gate_capturing(where)) return op(arg);  // recorded into a graph: its launch is gated
  gpupool_region_gate* gate = row(d);
  if (gate == nullptr) return op(arg);  // no region: the quota refused and said why
  gate_thread_ensure();
  for (;;) {
    const Admission admission =
        holder_of(slice) == GPUPOOL_SLICE_OPEN ? Admission::kOpen : admit(d, slice, gate);
    if (admission == Admission::kRefused) {
      if (!g_refused_warned.exchange(true))
        log_write(LogLevel::kWarn, "the agent released this job's node table entry: device work fails with "
                                   "CUDA_ERROR_NOT_PERMITTED");
      return CUDA_ERROR_NOT_PERMITTED;
    }
    bool retry = false;
    const CUresult r = run_resident(where, gate, admission == Admission::kGated, target, op, arg, &retry);
    if (!retry) return r;
  }
}

}  // namespace gpupool::shim
