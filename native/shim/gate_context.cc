// gate_context.cc — which context and physical device a gated operation runs
// on, and each context's pool of timing events (gate_internal.h).
//
// A registry maps live context handles to their CtxState; each thread caches
// its last lookup, checked against a global epoch that every context's end
// bumps, so the common case is one cuCtxGetCurrent (or cuStreamGetCtx), a
// compare and no lock. Events are created in batches of two when a pool is
// empty and reused for the life of the context: never one per launch.
#include <atomic>

#include "agent_table.h"
#include "gate_internal.h"
#include "log.h"
#include "real_driver.h"

namespace gpupool::shim {
namespace {

constexpr int kMaxContexts = 256;

std::mutex g_registry_mu;  // g_live; held for a scan, never across a driver call
CtxState* g_live[kMaxContexts];
std::atomic<uint64_t> g_epoch{1};
std::atomic<bool> g_full_warned{false};
std::atomic<bool> g_unknown_warned{false};

struct ThreadCache {
  CUcontext ctx;
  CtxState* state;
  uint64_t epoch;
};
__attribute__((tls_model("initial-exec"))) thread_local ThreadCache t_cache{nullptr, nullptr, 0};

bool special(CUstream s) { return s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD; }

// The job ordinal of ctx's device, asked with ctx current.
int job_device_of(CUcontext ctx, bool push) {
  auto get = SHIM_REAL(cuCtxGetDevice);
  if (get == nullptr) return -1;
  CtxScope scope(ctx, push);
  CUdevice dev = -1;
  return get(&dev) == CUDA_SUCCESS ? static_cast<int>(dev) : -1;
}

CtxState* lookup(CUcontext ctx, bool push) {
  const uint64_t epoch = g_epoch.load(std::memory_order_acquire);
  if (t_cache.ctx == ctx && t_cache.epoch == epoch) return t_cache.state;
  CtxState* found = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    for (CtxState* s : g_live)
      if (s != nullptr && s->ctx == ctx) found = s;
  }
  if (found == nullptr) {
    const int device = job_device_of(ctx, push);  // a driver call: outside the lock
    auto* fresh = new CtxState;
    fresh->ctx = ctx;
    fresh->physical = device < 0 ? -1 : agent_table_physical(device);
    if (fresh->physical < 0 && !g_unknown_warned.exchange(true))
      GPUPOOL_LOG_WARN("device %d has no known physical ordinal (named by UUID?): its work is not time-sliced",
                       device);
    std::lock_guard<std::mutex> lock(g_registry_mu);
    for (CtxState* s : g_live)
      if (s != nullptr && s->ctx == ctx) found = s;  // another thread was first
    for (int i = 0; found == nullptr && i < kMaxContexts; ++i)
      if (g_live[i] == nullptr) found = g_live[i] = fresh;
    if (found != fresh) delete fresh;  // never published
  }
  if (found == nullptr) {
    if (!g_full_warned.exchange(true))
      GPUPOOL_LOG_WARN("more than %d live contexts: work in the others is not time-sliced", kMaxContexts);
    return nullptr;
  }
  t_cache = ThreadCache{ctx, found, epoch};
  return found;
}

}  // namespace

CtxScope::CtxScope(CUcontext ctx, bool push) {
  if (!push) return;
  auto push_fn = SHIM_REAL(cuCtxPushCurrent_v2);
  pushed_ = push_fn != nullptr && push_fn(ctx) == CUDA_SUCCESS;
}

CtxScope::~CtxScope() {
  if (!pushed_) return;
  CUcontext popped = nullptr;
  if (auto pop = SHIM_REAL(cuCtxPopCurrent_v2)) pop(&popped);
}

bool gate_locate(const GateTarget& target, Where* where) {
  auto current = SHIM_REAL(cuCtxGetCurrent);
  CUcontext cur = nullptr;
  if (current == nullptr || current(&cur) != CUDA_SUCCESS) return false;
  CUstream stream = target.stream;
  if (stream == nullptr && target.per_thread) stream = CU_STREAM_PER_THREAD;
  CUcontext ctx = cur;
  if (!special(stream)) {
    auto stream_ctx = SHIM_REAL(cuStreamGetCtx);
    if (stream_ctx == nullptr || stream_ctx(stream, &ctx) != CUDA_SUCCESS) return false;
  }
  if (ctx == nullptr) return false;
  CtxState* state = lookup(ctx, ctx != cur);
  if (state == nullptr || state->physical < 0) return false;
  where->ctx = state;
  where->stream = stream;
  where->push = ctx != cur;
  return true;
}

bool gate_capturing(const Where& where) {
  auto is_capturing = SHIM_REAL(cuStreamIsCapturing);
  if (is_capturing == nullptr) return false;
  CtxScope scope(where.ctx->ctx, where.push);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  // A driver without capture (NOT_SUPPORTED) captures nothing; any other error
  // is the operation's own to report.
  return is_capturing(where.stream, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

bool ctx_take_events(const Where& where, CUevent* start, CUevent* end) {
  CtxState* c = where.ctx;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->free_events.size() >= 2) {
      *end = c->free_events.back();
      c->free_events.pop_back();
      *start = c->free_events.back();
      c->free_events.pop_back();
      return true;
    }
  }
  *start = *end = nullptr;
  auto create = SHIM_REAL(cuEventCreate);
  if (create == nullptr) return false;
  CtxScope scope(c->ctx, where.push);
  CUevent s = nullptr, e = nullptr;
  if (create(&s, CU_EVENT_DEFAULT) != CUDA_SUCCESS) return false;
  if (create(&e, CU_EVENT_DEFAULT) != CUDA_SUCCESS) {
    if (auto destroy = SHIM_REAL(cuEventDestroy_v2)) destroy(s);
    return false;
  }
  *start = s;
  *end = e;
  return true;
}

void ctx_give_events(CtxState* c, CUevent start, CUevent end) {
  std::lock_guard<std::mutex> lock(c->mu);
  c->free_events.push_back(start);
  c->free_events.push_back(end);
}

void gate_context_teardown(CUcontext ctx, bool destroying) {
  if (!g_launch_gate_active.load(std::memory_order_relaxed) || ctx == nullptr) return;
  inflight_drain(ctx);
  if (!destroying) return;
  CtxState* state = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    for (CtxState* s : g_live)
      if (s != nullptr && s->ctx == ctx) state = s;
  }
  if (state == nullptr) return;
  std::vector<CUevent> events;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    events.swap(state->free_events);
  }
  auto destroy = SHIM_REAL(cuEventDestroy_v2);
  for (CUevent e : events)
    if (destroy != nullptr) destroy(e);
}

void gate_context_gone(CUcontext ctx) {
  if (!g_launch_gate_active.load(std::memory_order_relaxed) || ctx == nullptr) return;
  std::lock_guard<std::mutex> lock(g_registry_mu);
  for (CtxState*& s : g_live) {
    if (s == nullptr || s->ctx != ctx) continue;
    s->dead.store(true, std::memory_order_release);
    s = nullptr;  // kept allocated: in-flight entries and thread caches may point to it
  }
  g_epoch.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace gpupool::shim
