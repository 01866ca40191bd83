// stream_event.cc — streams and events: created and queried synchronously,
// recorded, waited on and destroyed pipelined. The NULL stream,
// CU_STREAM_LEGACY and CU_STREAM_PER_THREAD all map to the worker's NULL
// stream (the session has one thread of work on the worker; per-thread default
// streams are not distinguished).
#include <cstring>

#include "host_func.h"
#include "remote.h"

using namespace gpupool::remote;

namespace {

std::atomic<uint64_t> g_next_stream_id{100};

Event* find_event(CUevent e) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto* ev = reinterpret_cast<Event*>(e);
  return objects().events.count(ev) ? ev : nullptr;
}

Stream* find_stream(CUstream s) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto* st = reinterpret_cast<Stream*>(s);
  return objects().streams.count(st) ? st : nullptr;
}

bool is_default(CUstream s) { return s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD; }

CUresult create_stream(CUstream* out, unsigned flags, int priority) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (out == nullptr || (flags & ~CU_STREAM_NON_BLOCKING) != 0) return CUDA_ERROR_INVALID_VALUE;
  priority = std::max(-5, std::min(0, priority));
  wire::Writer w;
  w.u64(1, flags);
  w.i32(2, priority);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kStreamCreate, w, &reply); r != CUDA_SUCCESS) return r;
  auto* s = new Stream;
  s->remote = reply.handle;
  s->ctx = ctx;
  s->flags = flags;
  s->priority = priority;
  s->id = g_next_stream_id.fetch_add(1);
  std::lock_guard<std::mutex> lock(objects().mutex);
  objects().streams.insert(s);
  *out = reinterpret_cast<CUstream>(s);
  return CUDA_SUCCESS;
}

// A synchronous call naming one stream (StreamSynchronize / StreamQuery).
CUresult stream_call(wire::CallOp op, CUstream s) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  uint64_t remote = 0;
  if (CUresult r = remote_stream(s, &remote); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, remote);
  wire::Reply reply;
  return conn().call(op, w, &reply);
}

CUresult event_call(wire::CallOp op, CUevent e) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Event* ev = find_event(e);
  if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  wire::Writer w;
  w.u64(1, ev->remote);
  wire::Reply reply;
  return conn().call(op, w, &reply);
}

CUresult record(CUevent e, CUstream s) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Event* ev = find_event(e);
  if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, ev->remote);
  w.u64(2, stream);
  return conn().post(wire::kEventRecord, w);
}

CUresult wait_event(CUstream s, CUevent e, unsigned flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Event* ev = find_event(e);
  if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (flags & ~CU_EVENT_WAIT_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
  uint64_t stream = 0;
  if (CUresult r = remote_stream(s, &stream); r != CUDA_SUCCESS) return r;
  wire::Writer w;
  w.u64(1, stream);
  w.u64(2, ev->remote);
  w.u64(3, flags);
  return conn().post(wire::kStreamWaitEvent, w);
}

}  // namespace

REMOTE_API CUresult cuStreamCreate(CUstream* s, unsigned int flags) { return create_stream(s, flags, 0); }

REMOTE_API CUresult cuStreamCreateWithPriority(CUstream* s, unsigned int flags, int priority) {
  return create_stream(s, flags, priority);
}

REMOTE_API CUresult cuStreamDestroy_v2(CUstream s) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  uint64_t remote = 0;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto* st = reinterpret_cast<Stream*>(s);
    if (objects().streams.erase(st) == 0) return CUDA_ERROR_INVALID_HANDLE;
    remote = st->remote;
  }
  wire::Writer w;
  w.u64(1, remote);
  return conn().post(wire::kStreamDestroy, w);
}

REMOTE_API CUresult cuStreamSynchronize(CUstream s) { return stream_call(wire::kStreamSynchronize, s); }
REMOTE_API CUresult cuStreamSynchronize_ptsz(CUstream s) { return stream_call(wire::kStreamSynchronize, s); }
REMOTE_API CUresult cuStreamQuery(CUstream s) { return stream_call(wire::kStreamQuery, s); }
REMOTE_API CUresult cuStreamQuery_ptsz(CUstream s) { return stream_call(wire::kStreamQuery, s); }

REMOTE_API CUresult cuStreamGetFlags(CUstream s, unsigned int* flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (is_default(s)) {
    *flags = 0;
    return CUDA_SUCCESS;
  }
  Stream* st = find_stream(s);
  if (st == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *flags = st->flags;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuStreamGetPriority(CUstream s, int* priority) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (is_default(s)) {
    *priority = 0;
    return CUDA_SUCCESS;
  }
  Stream* st = find_stream(s);
  if (st == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *priority = st->priority;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuStreamGetId(CUstream s, unsigned long long* id) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (is_default(s)) {
    *id = s == CU_STREAM_PER_THREAD ? 2 : 1;
    return CUDA_SUCCESS;
  }
  Stream* st = find_stream(s);
  if (st == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *id = st->id;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuStreamGetCtx(CUstream s, CUcontext* pctx) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (is_default(s)) {
    *pctx = reinterpret_cast<CUcontext>(ctx);
    return CUDA_SUCCESS;
  }
  Stream* st = find_stream(s);
  if (st == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *pctx = reinterpret_cast<CUcontext>(st->ctx);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) { return wait_event(s, e, flags); }
REMOTE_API CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned int flags) {
  return wait_event(s, e, flags);
}

// Host functions run on the library's host-function thread, in stream order
// (host_func.h); the call itself returns at once.
REMOTE_API CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void* userData) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t remote = 0;
  if (CUresult r = remote_stream(s, &remote); r != CUDA_SUCCESS) return r;
  return launch_host_func(remote, fn, userData);
}
REMOTE_API CUresult cuLaunchHostFunc_ptsz(CUstream s, CUhostFn fn, void* userData) {
  return cuLaunchHostFunc(s, fn, userData);
}

// ---- events ------------------------------------------------------------------------------

REMOTE_API CUresult cuEventCreate(CUevent* e, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if (e == nullptr || (flags & ~known) != 0) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  wire::Writer w;
  w.u64(1, flags);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kEventCreate, w, &reply); r != CUDA_SUCCESS) return r;
  auto* ev = new Event;
  ev->remote = reply.handle;
  ev->ctx = ctx;
  ev->flags = flags;
  std::lock_guard<std::mutex> lock(objects().mutex);
  objects().events.insert(ev);
  *e = reinterpret_cast<CUevent>(ev);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuEventDestroy_v2(CUevent e) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  uint64_t remote = 0;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto* ev = reinterpret_cast<Event*>(e);
    if (objects().events.erase(ev) == 0) return CUDA_ERROR_INVALID_HANDLE;
    remote = ev->remote;
  }
  wire::Writer w;
  w.u64(1, remote);
  return conn().post(wire::kEventDestroy, w);
}

REMOTE_API CUresult cuEventRecord(CUevent e, CUstream s) { return record(e, s); }
REMOTE_API CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return record(e, s); }
REMOTE_API CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) {
  if (flags & ~CU_EVENT_RECORD_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
  return record(e, s);
}
REMOTE_API CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s, unsigned int flags) {
  return cuEventRecordWithFlags(e, s, flags);
}
REMOTE_API CUresult cuEventSynchronize(CUevent e) { return event_call(wire::kEventSynchronize, e); }
REMOTE_API CUresult cuEventQuery(CUevent e) { return event_call(wire::kEventQuery, e); }

REMOTE_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Event* a = find_event(start);
  Event* b = find_event(end);
  if (a == nullptr || b == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  wire::Writer w;
  w.u64(1, a->remote);
  w.u64(2, b->remote);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kEventElapsedTime, w, &reply); r != CUDA_SUCCESS) return r;
  *ms = reply.milliseconds;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}
