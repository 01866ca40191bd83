// swap_registry.cc — the records of this process's swappable allocations and
// each device's swap state (swap_internal.h); frees and context teardown.
#include <pthread.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "gate_internal.h"
#include "log.h"
#include "real_driver.h"
#include "swap_host.h"
#include "swap_internal.h"

namespace gpupool::shim {

std::atomic<int> g_swap_state[kMaxDevices];
std::atomic<int> g_swap_users[kMaxDevices];

namespace {

constexpr long kBusyPollNs = 50 * 1000;

// Never destroyed: hooks may run during exit, after static destructors.
struct Registry {
  std::mutex mu;
  std::map<CUdeviceptr, SwapRecord> records;  // by base
  int out[kMaxDevices] = {};                  // records swapped out, by physical
};

Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

bool busy(int state) { return state == kEvicting || state == kSwappingIn; }

// Under the lock: `r` leaves the registry.
void erase_locked(Registry& reg, std::map<CUdeviceptr, SwapRecord>::iterator it) {
  const int p = it->second.physical;
  if (it->second.handle == 0 && --reg.out[p] == 0 && g_swap_state[p].load() == kOut)
    g_swap_state[p].store(kResident, std::memory_order_seq_cst);
  reg.records.erase(it);
}

// Gives back what a record taken out of the registry holds.
CUresult release(SwapRecord& r) {
  CUresult result = CUDA_SUCCESS;
  if (r.handle != 0) {
    result = backing_unmap(&r);
    if (result == CUDA_SUCCESS)
      if (gpupool_region_gate* row = gate_row(r.physical))
        __atomic_sub_fetch(&row->resident_bytes, r.span, __ATOMIC_RELEASE);
  }
  host_buffer_free(r.host, r.bytes);
  host_buffer_free(r.spare, r.bytes);
  r.host = r.spare = nullptr;
  auto address_free = SHIM_REAL(cuMemAddressFree);
  CUresult freed = address_free != nullptr ? address_free(r.base, r.span) : CUDA_ERROR_NOT_SUPPORTED;
  if (result == CUDA_SUCCESS) result = freed;
  if (result != CUDA_SUCCESS)
    GPUPOOL_LOG_WARN("freeing swappable allocation %#llx: error %d; its address range may stay reserved",
                     static_cast<unsigned long long>(r.base), static_cast<int>(result));
  return result;
}

void atfork_prepare() { registry().mu.lock(); }
void atfork_parent() { registry().mu.unlock(); }
void atfork_child() {
  // The child has no CUDA state of its parent's to move: it starts empty.
  Registry& reg = registry();
  new (&reg.mu) std::mutex();
  reg.records.clear();
  for (int d = 0; d < kMaxDevices; ++d) {
    reg.out[d] = 0;
    g_swap_state[d].store(kNever, std::memory_order_relaxed);
    g_swap_users[d].store(0, std::memory_order_relaxed);
  }
}

__attribute__((constructor)) void swap_register_atfork() {
  registry();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

}  // namespace

void registry_track(int physical) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  int never = kNever;
  g_swap_state[physical].compare_exchange_strong(never, kResident, std::memory_order_seq_cst);
}

void registry_add(const SwapRecord& r) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.records[r.base] = r;
}

bool registry_claim(int physical, DeviceState from_a, DeviceState from_b, DeviceState to, bool resident,
                    std::vector<SwapRecord*>* records, int* now) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  const int state = g_swap_state[physical].load(std::memory_order_seq_cst);
  *now = state;
  if (state != from_a && state != from_b) return false;
  g_swap_state[physical].store(to, std::memory_order_seq_cst);
  records->clear();
  for (auto& [base, r] : reg.records)
    if (r.physical == physical && (r.handle != 0) == resident) records->push_back(&r);
  return true;
}

void registry_settle(int physical) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  int out = 0;
  for (const auto& [base, r] : reg.records) out += r.physical == physical && r.handle == 0;
  reg.out[physical] = out;
  g_swap_state[physical].store(out > 0 ? kOut : kResident, std::memory_order_seq_cst);
}

bool swap_free(CUdeviceptr ptr, CUresult* result) {
  Registry& reg = registry();
  SwapRecord taken;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(reg.mu);
      auto it = reg.records.find(ptr);
      if (it == reg.records.end()) return false;
      if (!busy(g_swap_state[it->second.physical].load())) {
        taken = it->second;
        erase_locked(reg, it);
        break;
      }
    }
    sleep_ns(kBusyPollNs);  // its memory is being moved: wait until it settles
  }
  *result = release(taken);
  return true;
}

void swap_context_gone(CUcontext ctx) {
  Registry& reg = registry();
  for (;;) {
    std::vector<SwapRecord> taken;
    bool waiting = false;
    {
      std::lock_guard<std::mutex> lock(reg.mu);
      for (auto it = reg.records.begin(); it != reg.records.end();) {
        auto next = std::next(it);
        if (it->second.ctx == ctx) {
          if (busy(g_swap_state[it->second.physical].load())) {
            waiting = true;
          } else {
            taken.push_back(it->second);
            erase_locked(reg, it);
          }
        }
        it = next;
      }
    }
    if (!taken.empty())
      GPUPOOL_LOG_DEBUG("context %p gone with %zu swappable allocations: freed", static_cast<void*>(ctx),
                        taken.size());
    for (SwapRecord& r : taken) release(r);
    if (!waiting) return;
    sleep_ns(kBusyPollNs);
  }
}

bool swap_find(CUdeviceptr p, SwapRange* out) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto it = reg.records.upper_bound(p);
  if (it == reg.records.begin()) return false;
  --it;
  const SwapRecord& r = it->second;
  if (p - r.base >= (r.bytes == 0 ? 1 : r.bytes)) return false;
  *out = SwapRange{r.base, r.bytes, r.device, r.ctx, r.handle != 0};
  return true;
}

}  // namespace gpupool::shim
