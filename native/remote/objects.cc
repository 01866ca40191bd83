// objects.cc — the tables of remote objects (remote.h), handle translation,
// and releasing what a context owns when it is destroyed or reset.
#include <iterator>
#include <vector>

#include "remote.h"

namespace gpupool::remote {

Objects& objects() {
  static Objects* o = new Objects;  // never destroyed: used until exit
  return *o;
}

const Allocation* find_range_locked(CUdeviceptr p, uint64_t bytes, CUdeviceptr* base) {
  auto& allocs = objects().allocations;
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return nullptr;
  --it;
  uint64_t start = it->first, size = it->second.bytes;
  if (p < start || p - start >= size) return nullptr;
  const Allocation* first = &it->second;
  uint64_t covered = size - (p - start);
  for (auto at = it; bytes > covered;) {
    if (!at->second.mapping) return nullptr;
    auto next = std::next(at);
    if (next == allocs.end() || next->first != at->first + at->second.bytes || !next->second.mapping) return nullptr;
    covered += next->second.bytes;
    at = next;
  }
  if (base != nullptr) *base = start;
  return first;
}

CUresult check_range(CUdeviceptr p, uint64_t bytes) {
  if (p == 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(objects().mutex);
  return find_range_locked(p, bytes) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult remote_stream(CUstream s, uint64_t* out) {
  if (s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) {
    *out = 0;
    return CUDA_SUCCESS;
  }
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto* stream = reinterpret_cast<Stream*>(s);
  if (objects().streams.count(stream) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *out = stream->remote;
  return CUDA_SUCCESS;
}

void release_context_objects(Context* ctx) {
  std::vector<std::pair<wire::CallOp, uint64_t>> doomed;
  {
    Objects& o = objects();
    std::lock_guard<std::mutex> lock(o.mutex);
    for (auto it = o.streams.begin(); it != o.streams.end();) {
      if ((*it)->ctx != ctx) { ++it; continue; }
      doomed.emplace_back(wire::kStreamDestroy, (*it)->remote);
      it = o.streams.erase(it);
    }
    for (auto it = o.events.begin(); it != o.events.end();) {
      if ((*it)->ctx != ctx) { ++it; continue; }
      doomed.emplace_back(wire::kEventDestroy, (*it)->remote);
      it = o.events.erase(it);
    }
    for (auto it = o.modules.begin(); it != o.modules.end();) {
      Module* m = *it;
      if (m->ctx != ctx) { ++it; continue; }
      for (auto& f : m->functions) o.functions.erase(f.second);
      for (CUdeviceptr g : m->globals) o.allocations.erase(g);
      doomed.emplace_back(wire::kModuleUnload, m->remote);
      it = o.modules.erase(it);
    }
    for (auto it = o.allocations.begin(); it != o.allocations.end();) {
      if (it->second.ctx != ctx || !it->second.freeable) { ++it; continue; }
      doomed.emplace_back(wire::kMemFree, it->first);
      it = o.allocations.erase(it);
    }
  }
  if (require_init() != CUDA_SUCCESS) return;
  for (auto& d : doomed) {
    wire::Writer w;
    w.u64(1, d.second);  // every one of these messages has its handle as field 1
    conn().post(d.first, w);
  }
}

}  // namespace gpupool::remote
