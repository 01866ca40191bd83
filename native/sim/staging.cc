// staging.cc — the buffers that asynchronous copies from pageable memory
// snapshot their source into (copy.cc).
//
// The driver stages pageable memory through a pool of pinned buffers it keeps,
// so a large asynchronous copy costs it a memcpy, not new memory. A fresh
// buffer here costs a page fault and a zeroed page per 4 KiB when first
// written, several times the memcpy itself (a 256 MiB copy: about 170 ms of
// faults on a small VM against 25 ms of copying), and the shim's swap-in, one
// such copy per slice, was mostly that. So buffers of 1 MiB and more are
// given back to a small cache when their copy is done, and the next staging
// of at most that size takes the smallest that fits. The cache holds at most
// kMaxCached bytes; smaller buffers come and go through new and delete.
//
// Threading: any thread may take a buffer; it goes back from whichever thread
// drops the last reference (the device's executor, after the copy).
#include <map>
#include <memory>
#include <mutex>
#include <new>

#include "memory_internal.h"

namespace gpupool::sim {
namespace {

constexpr size_t kMinCached = size_t{1} << 20;
constexpr size_t kMaxCached = size_t{512} << 20;

std::mutex g_mutex;
std::multimap<size_t, char*> g_cache;  // by size; guarded by g_mutex
size_t g_cached_bytes = 0;             // guarded by g_mutex

struct GiveBack {
  size_t size;
  void operator()(char* p) const {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      if (g_cached_bytes + size <= kMaxCached) {
        g_cache.emplace(size, p);
        g_cached_bytes += size;
        return;
      }
    }
    delete[] p;
  }
};

}  // namespace

std::shared_ptr<char[]> staging_buffer(size_t bytes) {
  if (bytes < kMinCached) {
    char* p = new (std::nothrow) char[bytes];
    return p != nullptr ? std::shared_ptr<char[]>(p) : nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_cache.lower_bound(bytes);
    if (it != g_cache.end()) {
      std::shared_ptr<char[]> buffer(it->second, GiveBack{it->first});
      g_cached_bytes -= it->first;
      g_cache.erase(it);
      return buffer;
    }
  }
  char* p = new (std::nothrow) char[bytes];
  if (p == nullptr) return nullptr;
  return std::shared_ptr<char[]>(p, GiveBack{bytes});
}

}  // namespace gpupool::sim
