// hook_table.cc — see hook_table.h.
#include "hook_table.h"

#include <algorithm>
#include <cstring>

#include "log.h"

namespace gpupool::shim {

const char* const kRealNames[kRealCount] = {
#define GPUPOOL_SHIM_NAME(name) #name,
    GPUPOOL_SHIM_HOOKS(GPUPOOL_SHIM_NAME) GPUPOOL_SHIM_HELPERS(GPUPOOL_SHIM_NAME)
#undef GPUPOOL_SHIM_NAME
};

// Constant-initialised (relocations, no constructor): usable from the first
// dlsym call, before any initialiser of the shim has run. The library is
// linked with -Bsymbolic, so these are the shim's own definitions.
void* const kHooks[kHookCount] = {
#define GPUPOOL_SHIM_ADDRESS(name) reinterpret_cast<void*>(&::name),
    GPUPOOL_SHIM_HOOKS(GPUPOOL_SHIM_ADDRESS)
#undef GPUPOOL_SHIM_ADDRESS
};

std::atomic<void*> g_real[kRealCount];

namespace {

struct RealToHook {
  const void* real;
  void* hook;
};

struct ReverseMap {
  int size = 0;
  RealToHook entries[kHookCount];
};

std::atomic<const ReverseMap*> g_reverse{nullptr};

// Length of `name` without its ABI suffixes (_v2, _v3, _ptsz, _ptds, in any
// combination): the base name cuGetProcAddress is asked for.
size_t base_length(const char* name) {
  size_t n = std::strlen(name);
  static const char* const kSuffixes[] = {"_ptsz", "_ptds", "_v2", "_v3", "_v4"};
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (const char* s : kSuffixes) {
      size_t k = std::strlen(s);
      if (n > k && std::strncmp(name + n - k, s, k) == 0) {
        n -= k;
        stripped = true;
      }
    }
  }
  return n;
}

}  // namespace

int hook_id_by_name(const char* name) {
  if (name == nullptr || name[0] != 'c' || name[1] != 'u') return -1;
  for (int i = 0; i < kHookCount; ++i)
    if (std::strcmp(kRealNames[i], name) == 0) return i;
  return -1;
}

void hook_table_publish() {
  if (g_reverse.load(std::memory_order_acquire) != nullptr) return;
  auto* map = new ReverseMap;
  for (int i = 0; i < kHookCount; ++i) {
    void* real = g_real[i].load(std::memory_order_acquire);
    if (real == nullptr) continue;
    bool duplicate = false;
    for (int j = 0; j < map->size; ++j) duplicate |= map->entries[j].real == real;
    if (duplicate) {
      // Two names, one implementation: the driver gives them one ABI, so the
      // first hook serves both.
      GPUPOOL_LOG_DEBUG("%s shares its address with another hooked entry point", kRealNames[i]);
      continue;
    }
    map->entries[map->size++] = RealToHook{real, kHooks[i]};
  }
  std::sort(map->entries, map->entries + map->size,
            [](const RealToHook& a, const RealToHook& b) { return a.real < b.real; });
  const ReverseMap* expected = nullptr;
  if (!g_reverse.compare_exchange_strong(expected, map, std::memory_order_acq_rel)) delete map;
}

void* hook_for_real(const void* real) {
  const ReverseMap* map = g_reverse.load(std::memory_order_acquire);
  if (map == nullptr || real == nullptr) return nullptr;
  const RealToHook* end = map->entries + map->size;
  const RealToHook* it = std::lower_bound(map->entries, end, real,
                                          [](const RealToHook& e, const void* p) { return e.real < p; });
  return it != end && it->real == real ? it->hook : nullptr;
}

bool hooked_base_name(const char* symbol) {
  if (symbol == nullptr) return false;
  size_t n = std::strlen(symbol);
  for (int i = 0; i < kHookCount; ++i) {
    size_t base = base_length(kRealNames[i]);
    if (base == n && std::strncmp(kRealNames[i], symbol, n) == 0) return true;
  }
  return false;
}

}  // namespace gpupool::shim
