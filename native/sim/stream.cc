// stream.cc — streams: creation, ordering, synchronisation, host callbacks.
//
// All device work of a device runs on its executor in submission order (see
// sim.h), so a stream only needs to remember the sequence number of its last
// work item: synchronising waits for that number, querying compares with it.
// Each context has one legacy default stream; each (thread, context) pair has a
// per-thread default stream, created on first use.
#include <algorithm>
#include <unordered_map>

#include "graph.h"

namespace gpupool::sim {

HandleRegistry<Stream> g_streams;

namespace {

std::atomic<uint64_t> g_next_stream_id{1};
std::mutex g_legacy_mutex;
std::unordered_map<Context*, Stream*> g_legacy;  // guarded by g_legacy_mutex
thread_local std::unordered_map<Context*, Stream*> t_per_thread;

constexpr int kLeastPriority = 0;
constexpr int kGreatestPriority = -5;

Stream* make_stream(Context* ctx, unsigned flags, int priority, bool builtin) {
  auto* s = new Stream;
  s->ctx = ctx;
  s->flags = flags;
  s->priority = priority;
  s->builtin = builtin;
  s->id = g_next_stream_id.fetch_add(1);
  return s;
}

Stream* legacy_stream(Context* ctx) {
  std::lock_guard<std::mutex> lock(g_legacy_mutex);
  Stream*& s = g_legacy[ctx];
  if (s == nullptr) {
    s = make_stream(ctx, CU_STREAM_DEFAULT, 0, true);
    s->legacy = true;
  }
  return s;
}

Stream* per_thread_stream(Context* ctx) {
  Stream*& s = t_per_thread[ctx];
  // A stale entry belongs to an earlier life of this context (destroyed, or a
  // primary context that was reset and retained again).
  if (s == nullptr || s->destroyed.load()) s = make_stream(ctx, CU_STREAM_DEFAULT, 0, true);
  return s;
}

// The current context, and the caller's stream resolved in it.
CUresult current_stream(CUstream handle, bool per_thread_api, Stream** out) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  return resolve_stream(ctx, handle, per_thread_api, out);
}

}  // namespace

CUresult resolve_stream(Context* ctx, CUstream handle, bool per_thread_api, Stream** out) {
  if (handle == CU_STREAM_LEGACY || (handle == nullptr && !per_thread_api)) {
    *out = legacy_stream(ctx);
  } else if (handle == CU_STREAM_PER_THREAD || handle == nullptr) {
    *out = per_thread_stream(ctx);
  } else {
    if (!g_streams.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
    auto* s = reinterpret_cast<Stream*>(handle);
    if (s->destroyed.load() || !s->ctx->active.load()) return CUDA_ERROR_INVALID_HANDLE;
    *out = s;
  }
  return CUDA_SUCCESS;
}

uint64_t submit(Stream* stream, std::function<CUresult()> work) {
  uint64_t seq = stream->ctx->device->executor->submit(stream->ctx, std::move(work));
  uint64_t prev = stream->last_seq.load();
  while (prev < seq && !stream->last_seq.compare_exchange_weak(prev, seq)) {
  }
  return seq;
}

CUresult synchronize(Stream* stream) {
  stream->ctx->device->executor->wait(stream->last_seq.load());
  return static_cast<CUresult>(stream->ctx->sticky_error.load());
}

CUresult synchronize_context(Context* ctx) {
  DeviceExecutor* ex = ctx->device->executor;
  ex->wait(ex->last_submitted());
  return static_cast<CUresult>(ctx->sticky_error.load());
}

void streams_release_context(Context* ctx) {
  captures_release_context(ctx);
  for (Stream* s : g_streams.all()) {
    if (s->ctx == ctx) {
      s->destroyed.store(true);
      g_streams.remove(s);
    }
  }
  std::lock_guard<std::mutex> lock(g_legacy_mutex);
  if (auto it = g_legacy.find(ctx); it != g_legacy.end()) {
    it->second->destroyed.store(true);
    g_legacy.erase(it);
  }
  // Per-thread streams of other threads are found stale by per_thread_stream().
  if (auto it = t_per_thread.find(ctx); it != t_per_thread.end()) it->second->destroyed.store(true);
}

// ---- entry points --------------------------------------------------------------

SIM_API CUresult cuStreamCreateWithPriority(CUstream* phStream, unsigned int flags, int priority) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (phStream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_STREAM_DEFAULT && flags != CU_STREAM_NON_BLOCKING) return CUDA_ERROR_INVALID_VALUE;
  // Out-of-range priorities are clamped, as documented.
  priority = std::clamp(priority, kGreatestPriority, kLeastPriority);
  Stream* s = make_stream(ctx, flags, priority, false);
  g_streams.add(s);
  *phStream = reinterpret_cast<CUstream>(s);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamCreate(CUstream* phStream, unsigned int flags) {
  return cuStreamCreateWithPriority(phStream, flags, 0);
}

SIM_API CUresult cuStreamDestroy_v2(CUstream handle) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (!g_streams.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  auto* s = reinterpret_cast<Stream*>(handle);
  // Work already queued still completes; the handle dies now.
  s->destroyed.store(true);
  g_streams.remove(s);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuStreamDestroy(CUstream handle) { return cuStreamDestroy_v2(handle); }

static CUresult stream_synchronize(CUstream handle, bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_stream_sync(s); r != CUDA_SUCCESS) return r;
  return synchronize(s);
}
SIM_API CUresult cuStreamSynchronize(CUstream h) { return stream_synchronize(h, false); }
SIM_API CUresult cuStreamSynchronize_ptsz(CUstream h) { return stream_synchronize(h, true); }

static CUresult stream_query(CUstream handle, bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_stream_sync(s); r != CUDA_SUCCESS) return r;
  if (int sticky = s->ctx->sticky_error.load(); sticky != CUDA_SUCCESS) return static_cast<CUresult>(sticky);
  return s->ctx->device->executor->done(s->last_seq.load()) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
SIM_API CUresult cuStreamQuery(CUstream h) { return stream_query(h, false); }
SIM_API CUresult cuStreamQuery_ptsz(CUstream h) { return stream_query(h, true); }

// Defined in event.cc: the sequence number of an event's last record and the
// device it was recorded on; INVALID_HANDLE for an unknown event.
CUresult event_last_record(CUevent event, Device** device, uint64_t* seq);

static CUresult stream_wait_event(CUstream handle, CUevent event, unsigned int flags, bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (flags != CU_EVENT_WAIT_DEFAULT && flags != CU_EVENT_WAIT_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
  Device* event_device = nullptr;
  uint64_t seq = 0;
  if (CUresult r = event_last_record(event, &event_device, &seq); r != CUDA_SUCCESS) return r;
  // Within a capture a wait is a fork or a join of the captured work, not a wait.
  bool captured = false;
  if (CUresult r = capture_stream_wait_event(s, event, flags, &captured); captured || r != CUDA_SUCCESS) return r;
  // Never recorded: nothing to wait for. Same device: submission order already
  // puts the record before anything queued now.
  if (seq == 0 || event_device == s->ctx->device) return CUDA_SUCCESS;
  DeviceExecutor* other = event_device->executor;
  return enqueue_work(s, CU_GRAPH_NODE_TYPE_WAIT_EVENT, [other, seq] {
    other->wait(seq);
    return CUDA_SUCCESS;
  }, false);
}
SIM_API CUresult cuStreamWaitEvent(CUstream h, CUevent e, unsigned int f) { return stream_wait_event(h, e, f, false); }
SIM_API CUresult cuStreamWaitEvent_ptsz(CUstream h, CUevent e, unsigned int f) { return stream_wait_event(h, e, f, true); }

#define STREAM_GETTER(NAME, TYPE, EXPR)                                          \
  static CUresult NAME##_impl(CUstream handle, TYPE* out, bool per_thread_api) { \
    Stream* s = nullptr;                                                          \
    if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r; \
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;                          \
    *out = (EXPR);                                                                \
    return CUDA_SUCCESS;                                                          \
  }                                                                               \
  SIM_API CUresult NAME(CUstream h, TYPE* out) { return NAME##_impl(h, out, false); } \
  SIM_API CUresult NAME##_ptsz(CUstream h, TYPE* out) { return NAME##_impl(h, out, true); }

STREAM_GETTER(cuStreamGetFlags, unsigned int, s->flags)
STREAM_GETTER(cuStreamGetPriority, int, s->priority)
STREAM_GETTER(cuStreamGetId, unsigned long long, s->id)
STREAM_GETTER(cuStreamGetCtx, CUcontext, reinterpret_cast<CUcontext>(s->ctx))
STREAM_GETTER(cuStreamGetDevice, CUdevice, s->ctx->device->ordinal)
#undef STREAM_GETTER

static CUresult stream_get_ctx_v2(CUstream handle, CUcontext* pctx, CUgreenCtx* pGreenCtx, bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr || pGreenCtx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = reinterpret_cast<CUcontext>(s->ctx);
  *pGreenCtx = nullptr;
  return CUDA_SUCCESS;
}
SIM_API CUresult cuStreamGetCtx_v2(CUstream h, CUcontext* c, CUgreenCtx* g) { return stream_get_ctx_v2(h, c, g, false); }
SIM_API CUresult cuStreamGetCtx_v2_ptsz(CUstream h, CUcontext* c, CUgreenCtx* g) { return stream_get_ctx_v2(h, c, g, true); }

// Host functions run on the executor thread, in stream order, like the driver's
// callback thread; they must not call CUDA. Captured, they become host nodes.
static CUresult launch_host_func(CUstream handle, CUhostFn fn, void* userData, bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return enqueue_work(s, CU_GRAPH_NODE_TYPE_HOST, [fn, userData] {
    fn(userData);
    return CUDA_SUCCESS;
  }, false);
}
SIM_API CUresult cuLaunchHostFunc(CUstream h, CUhostFn fn, void* d) { return launch_host_func(h, fn, d, false); }
SIM_API CUresult cuLaunchHostFunc_ptsz(CUstream h, CUhostFn fn, void* d) { return launch_host_func(h, fn, d, true); }

static CUresult stream_add_callback(CUstream handle, CUstreamCallback cb, void* userData, unsigned int flags,
                                    bool per_thread_api) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (cb == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  // "this function is not supported with cuStreamBeginCapture and
  // cuStreamEndCapture, unlike cuLaunchHostFunc."
  if (stream_capturing(s)) {
    capture_invalidate(s);
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (CUresult r = capture_check_legacy(s); r != CUDA_SUCCESS) return r;
  Context* ctx = s->ctx;
  CUstream reported = handle;
  submit(s, [cb, userData, ctx, reported] {
    cb(reported, static_cast<CUresult>(ctx->sticky_error.load()), userData);
    return CUDA_SUCCESS;
  });
  return CUDA_SUCCESS;
}
SIM_API CUresult cuStreamAddCallback(CUstream h, CUstreamCallback cb, void* d, unsigned int f) {
  return stream_add_callback(h, cb, d, f, false);
}
SIM_API CUresult cuStreamAddCallback_ptsz(CUstream h, CUstreamCallback cb, void* d, unsigned int f) {
  return stream_add_callback(h, cb, d, f, true);
}

}  // namespace gpupool::sim
