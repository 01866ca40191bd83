// vmm_region.cc — the address space cuMemAddressReserve hands out.
//
// One process-wide region is reserved on first use: PROT_NONE and
// MAP_NORESERVE, so it costs neither RAM nor commit charge, 1 TiB where the
// system allows (smaller otherwise). It is separate from the device arenas, so
// a VMM address can never be mistaken for a cuMemAlloc one. Reservations are
// carved from it first-fit at the requested alignment, or at the caller's hint
// when that range is free; freed reservations are coalesced back. vmm.cc owns
// what happens inside a reservation (mappings); this file only the addresses.
#include <sys/mman.h>

#include <map>

#include "memory_internal.h"

namespace gpupool::sim {
namespace {

std::mutex g_mutex;  // guards the free list and the one-time setup
bool g_tried = false;
std::map<uintptr_t, size_t> g_free;  // start -> length
std::atomic<uintptr_t> g_base{0};
std::atomic<uintptr_t> g_end{0};

bool ensure_region() {
  if (g_tried) return g_base.load() != 0;
  g_tried = true;
  for (size_t size : {1ull << 40, 1ull << 38, 1ull << 36, 1ull << 34}) {
    void* p = mmap(nullptr, size + kVmmGranularity, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    uintptr_t base = round_up(reinterpret_cast<uintptr_t>(p), kVmmGranularity);
    g_free.emplace(base, size);
    g_end.store(base + size);
    g_base.store(base, std::memory_order_release);
    return true;
  }
  return false;
}

// Takes [start, start+span) out of the free block `block`.
void carve(std::map<uintptr_t, size_t>::iterator block, uintptr_t start, size_t span) {
  uintptr_t b = block->first, e = block->first + block->second;
  g_free.erase(block);
  if (start > b) g_free.emplace(b, start - b);
  if (start + span < e) g_free.emplace(start + span, e - start - span);
}

bool fits(uintptr_t start, size_t span, uintptr_t block, size_t length) {
  return start >= block && start + span > start && start + span <= block + length;
}

}  // namespace

uintptr_t vmm_region_take(size_t span, size_t align, uintptr_t hint) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!ensure_region()) return 0;
  if (hint != 0 && hint % align == 0) {
    auto it = g_free.upper_bound(hint);
    if (it != g_free.begin() && fits(hint, span, std::prev(it)->first, std::prev(it)->second)) {
      carve(std::prev(it), hint, span);
      return hint;
    }
  }
  for (auto it = g_free.begin(); it != g_free.end(); ++it) {
    uintptr_t start = round_up(it->first, align);
    if (fits(start, span, it->first, it->second)) {
      carve(it, start, span);
      return start;
    }
  }
  return 0;
}

void vmm_region_give(uintptr_t start, size_t span) {
  std::lock_guard<std::mutex> lock(g_mutex);
  uintptr_t end = start + span;
  auto next = g_free.lower_bound(start);
  if (next != g_free.end() && next->first == end) {
    end += next->second;
    next = g_free.erase(next);
  }
  if (next != g_free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      g_free.erase(prev);
    }
  }
  g_free.emplace(start, end - start);
}

bool vmm_region_contains(uintptr_t p) {
  uintptr_t base = g_base.load(std::memory_order_acquire);
  return base != 0 && p >= base && p < g_end.load(std::memory_order_relaxed);
}

}  // namespace gpupool::sim
