// allocations.cc — see allocations.h.
#include "allocations.h"

#include <pthread.h>

#include <map>
#include <mutex>
#include <unordered_map>

namespace gpupool::shim {
namespace {

struct Key {
  Resource kind;
  uint64_t value;
  bool operator==(const Key& o) const { return kind == o.kind && value == o.value; }
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = k.value ^ (static_cast<uint64_t>(k.kind) << 61);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }
};

// Never destroyed: hooks may run during exit, after static destructors.
struct State {
  std::mutex mutex;
  std::unordered_map<Key, Allocation, KeyHash> allocations;
  std::unordered_map<CUmemoryPool, int> pools;
  std::map<uint64_t, Mapping> mappings;  // by address
  std::unordered_map<int, uint64_t> primaries;  // device -> primary context
};

State& state() {
  static State* s = new State;
  return *s;
}

void lock_for_fork() { state().mutex.lock(); }
void unlock_after_fork() { state().mutex.unlock(); }

}  // namespace

void allocations_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    state();
    pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
  });
}

bool allocation_add(Resource kind, uint64_t key, int device, uint64_t bytes, uint64_t context,
                    Allocation* stale) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Allocation fresh;
  fresh.device = device;
  fresh.bytes = bytes;
  fresh.context = context;
  auto [it, inserted] = s.allocations.try_emplace(Key{kind, key}, fresh);
  if (inserted) return false;
  *stale = it->second;
  it->second = fresh;
  return true;
}

bool allocation_take(Resource kind, uint64_t key, Allocation* out) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.allocations.find(Key{kind, key});
  if (it == s.allocations.end()) return false;
  *out = it->second;
  s.allocations.erase(it);
  return true;
}

void allocation_restore(Resource kind, uint64_t key, const Allocation& a) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.allocations.try_emplace(Key{kind, key}, a);
}

bool allocation_retain(Resource kind, uint64_t key) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.allocations.find(Key{kind, key});
  if (it == s.allocations.end()) return false;
  ++it->second.refs;
  return true;
}

bool allocation_release(Resource kind, uint64_t key, bool* last, Allocation* out) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.allocations.find(Key{kind, key});
  if (it == s.allocations.end()) return false;
  *out = it->second;
  *last = --it->second.refs <= 0;
  if (*last) s.allocations.erase(it);
  return true;
}

void allocation_unrelease(Resource kind, uint64_t key, bool was_last, const Allocation& a) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (was_last) {
    s.allocations.try_emplace(Key{kind, key}, a);
    return;
  }
  auto it = s.allocations.find(Key{kind, key});
  if (it != s.allocations.end()) ++it->second.refs;
}

std::vector<Recorded> allocations_take_context(uint64_t context) {
  std::vector<Recorded> out;
  if (context == 0) return out;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto it = s.allocations.begin(); it != s.allocations.end();) {
    if (it->second.context == context) {
      out.push_back(Recorded{it->first.kind, it->first.value, it->second});
      it = s.allocations.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void primary_remember(int device, uint64_t context) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.primaries[device] = context;
}

uint64_t primary_context(int device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.primaries.find(device);
  return it == s.primaries.end() ? 0 : it->second;
}

void mapping_add(const Mapping& m) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.mappings[m.address] = m;
}

std::vector<Mapping> mappings_take(uint64_t address, uint64_t size) {
  std::vector<Mapping> out;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  uint64_t end = address + size < address ? UINT64_MAX : address + size;
  for (auto it = s.mappings.lower_bound(address); it != s.mappings.end() && it->first < end;) {
    out.push_back(it->second);
    it = s.mappings.erase(it);
  }
  return out;
}

void mappings_restore(const std::vector<Mapping>& mappings) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const Mapping& m : mappings) s.mappings.emplace(m.address, m);
}

void pool_remember(CUmemoryPool pool, int device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.pools[pool] = device;
}

bool pool_device(CUmemoryPool pool, int* device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.pools.find(pool);
  if (it == s.pools.end()) return false;
  *device = it->second;
  return true;
}

void pool_forget(CUmemoryPool pool) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.pools.erase(pool);
}

}  // namespace gpupool::shim
