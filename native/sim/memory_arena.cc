// memory_arena.cc — where simulated device memory comes from, and the registry
// of every linear allocation.
//
// Each device gets one large arena of host address space (twice its capacity,
// at least 1 GiB), mapped read-write but MAP_NORESERVE, so the OS commits RAM
// only for pages a test actually touches: a 16 GiB simulated GPU costs nothing
// until used. Allocations are carved best-fit from the arena in 512-byte units
// (256-byte alignment is what the driver promises); capacity is charged
// separately through Device::reserve, so the arena's slack only absorbs
// fragmentation and never lets a device hold more than its capacity.
//
// Freed memory is handed back to the OS (madvise MADV_DONTNEED) and the few
// bytes sharing a page with a neighbour are zeroed, so every free byte of an
// arena reads as zero and a new allocation starts zero-filled, as fresh device
// memory in practice does.
//
// The registry maps base address -> RangeInfo for device, managed and host
// (pinned, registered) allocations; a reader-writer lock keeps the frequent
// lookups of copies and launches from serialising.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <shared_mutex>

#include "memory_internal.h"

namespace gpupool::sim {

size_t host_page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

namespace {

constexpr int kMaxArenas = 64;  // the configuration allows at most 64 devices
constexpr size_t kMinArenaBytes = 1ull << 30;
constexpr size_t kArenaAlign = 2ull << 20;

struct Arena {
  std::mutex mutex;
  bool tried = false;
  uintptr_t base = 0;
  size_t size = 0;
  std::map<uintptr_t, size_t> by_addr;               // free blocks
  std::set<std::pair<size_t, uintptr_t>> by_size;    // the same, by size
};

Arena g_arenas[kMaxArenas];
// Published bounds, for lock-free "is this address ours" checks.
std::atomic<uintptr_t> g_arena_base[kMaxArenas];
std::atomic<uintptr_t> g_arena_end[kMaxArenas];

std::shared_mutex g_registry_mutex;
std::map<uintptr_t, RangeInfo> g_registry;  // base -> range; ranges never overlap
std::atomic<uint64_t> g_next_buffer_id{1};

// Maps the arena on first use; false when the address space is not available.
bool ensure_arena(Arena& a, int ordinal, uint64_t capacity) {
  if (a.tried) return a.base != 0;
  a.tried = true;
  size_t want = capacity > SIZE_MAX / 4 ? SIZE_MAX / 4 : static_cast<size_t>(capacity) * 2;
  want = round_up(want < kMinArenaBytes ? kMinArenaBytes : want, kArenaAlign);
  // Fall back to the bare capacity where the address space is tight.
  for (size_t size : {want, round_up(static_cast<size_t>(capacity) + kArenaAlign, kArenaAlign)}) {
    void* p = mmap(nullptr, size + kArenaAlign, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    // Align the start to 2 MiB, as device allocations are; drop the slack.
    uintptr_t raw = reinterpret_cast<uintptr_t>(p);
    uintptr_t base = round_up(raw, kArenaAlign);
    if (base > raw) munmap(p, base - raw);
    uintptr_t tail = base + size;
    if (raw + size + kArenaAlign > tail) munmap(reinterpret_cast<void*>(tail), raw + size + kArenaAlign - tail);
    a.base = base;
    a.size = size;
    a.by_addr.emplace(base, size);
    a.by_size.emplace(size, base);
    g_arena_base[ordinal].store(base);
    g_arena_end[ordinal].store(base + size);
    return true;
  }
  return false;
}

uintptr_t arena_take(Arena& a, size_t size) {
  auto it = a.by_size.lower_bound({size, 0});
  if (it == a.by_size.end()) return 0;
  auto [block_size, addr] = *it;
  a.by_size.erase(it);
  a.by_addr.erase(addr);
  if (block_size > size) {
    a.by_addr.emplace(addr + size, block_size - size);
    a.by_size.emplace(block_size - size, addr + size);
  }
  return addr;
}

void arena_give(Arena& a, uintptr_t addr, size_t size) {
  uintptr_t start = addr, end = addr + size;
  // Coalesce with the free neighbours on both sides.
  auto next = a.by_addr.lower_bound(addr);
  if (next != a.by_addr.end() && next->first == end) {
    end += next->second;
    a.by_size.erase({next->second, next->first});
    next = a.by_addr.erase(next);
  }
  if (next != a.by_addr.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      a.by_size.erase({prev->second, prev->first});
      a.by_addr.erase(prev);
    }
  }
  a.by_addr.emplace(start, end - start);
  a.by_size.emplace(end - start, start);

  // Return whole pages to the OS; zero the bytes on pages still shared with a
  // live neighbour. Pages wholly inside the merged free block go back whole.
  const uintptr_t page = host_page_size();
  uintptr_t lo = addr / page * page;
  if (lo < start) lo = round_up(addr, page);
  uintptr_t hi = round_up(addr + size, page);
  if (hi > end) hi = (addr + size) / page * page;
  if (lo < hi) {
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    if (addr < lo) memset(reinterpret_cast<void*>(addr), 0, lo - addr);
    if (hi < addr + size) memset(reinterpret_cast<void*>(hi), 0, addr + size - hi);
  } else {
    memset(reinterpret_cast<void*>(addr), 0, size);
  }
}

}  // namespace

uint64_t next_buffer_id() { return g_next_buffer_id.fetch_add(1); }

CUresult linear_alloc(Context* ctx, Device* dev, size_t bytes, RangeType type, unsigned flags,
                      CUmemoryPool pool, CUdeviceptr* out) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  size_t size = rounded_size(bytes);
  if (size == 0 || dev->ordinal >= kMaxArenas) return CUDA_ERROR_OUT_OF_MEMORY;
  if (!dev->reserve(size)) return CUDA_ERROR_OUT_OF_MEMORY;
  Arena& a = g_arenas[dev->ordinal];
  uintptr_t addr = 0;
  {
    std::lock_guard<std::mutex> lock(a.mutex);
    if (ensure_arena(a, dev->ordinal, dev->total_bytes)) addr = arena_take(a, size);
  }
  if (addr == 0) {  // address space exhausted by fragmentation
    dev->release(size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  RangeInfo info;
  info.type = type;
  info.base = addr;
  info.size = bytes;
  info.ctx = ctx;
  info.device = dev->ordinal;
  info.flags = flags;
  info.buffer_id = next_buffer_id();
  info.pool = pool;
  info.sync_memops = type == RangeType::kManaged;  // as the driver reports managed memory
  {
    std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
    g_registry.emplace(addr, info);
  }
  if (pool != nullptr) pool_account(pool, static_cast<long long>(size));
  *out = static_cast<CUdeviceptr>(addr);
  return CUDA_SUCCESS;
}

bool linear_insert(const RangeInfo& info, RangeInfo* hit) {
  std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
  auto next = g_registry.lower_bound(info.base);
  if (next != g_registry.end() && next->first < info.base + info.size) {
    if (hit) *hit = next->second;
    return false;
  }
  if (next != g_registry.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > info.base) {
      if (hit) *hit = prev->second;
      return false;
    }
  }
  g_registry.emplace(info.base, info);
  return true;
}

bool linear_detach(uintptr_t base, unsigned types, RangeInfo* out) {
  std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
  auto it = g_registry.find(base);
  if (it == g_registry.end() || (type_bit(it->second.type) & types) == 0) return false;
  *out = it->second;
  g_registry.erase(it);
  return true;
}

void linear_release(const RangeInfo& info) {
  switch (info.type) {
    case RangeType::kDevice:
    case RangeType::kManaged: {
      size_t size = rounded_size(info.size);
      Arena& a = g_arenas[info.device];
      {
        std::lock_guard<std::mutex> lock(a.mutex);
        arena_give(a, info.base, size);
      }
      if (Device* d = device(info.device)) d->release(size);
      if (info.pool != nullptr) pool_account(info.pool, -static_cast<long long>(size));
      break;
    }
    case RangeType::kHostAlloc:
      munmap(reinterpret_cast<void*>(info.base), round_up(info.size, host_page_size()));
      break;
    case RangeType::kHostRegistered:
    case RangeType::kVmm:
      break;  // the memory is not ours
  }
}

bool linear_find(uintptr_t p, RangeInfo* out) {
  std::shared_lock<std::shared_mutex> lock(g_registry_mutex);
  auto it = g_registry.upper_bound(p);
  if (it == g_registry.begin()) return false;
  --it;
  if (p - it->first >= it->second.size) return false;
  *out = it->second;
  return true;
}

bool linear_set_sync_memops(uintptr_t p, bool value) {
  std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
  auto it = g_registry.upper_bound(p);
  if (it == g_registry.begin()) return false;
  --it;
  if (p - it->first >= it->second.size) return false;
  it->second.sync_memops = value;
  return true;
}

std::vector<RangeInfo> linear_owned_by(Context* ctx) {
  std::vector<RangeInfo> owned;
  std::shared_lock<std::shared_mutex> lock(g_registry_mutex);
  for (const auto& [base, info] : g_registry)
    if (info.ctx == ctx) owned.push_back(info);
  return owned;
}

bool in_sim_address_space(uintptr_t p) {
  for (int i = 0; i < kMaxArenas; ++i) {
    uintptr_t base = g_arena_base[i].load(std::memory_order_relaxed);
    if (base != 0 && p >= base && p < g_arena_end[i].load(std::memory_order_relaxed)) return true;
  }
  return vmm_region_contains(p);
}

}  // namespace gpupool::sim
