// event.cc — events: record, query, synchronise, elapsed time.
//
// Recording queues an item that stamps the steady clock when the device
// executor reaches it, so cuEventElapsedTime measures simulated device time
// (a spin kernel of 2 ms between two records reads about 2 ms), not the time
// the host spent issuing calls. Recording on a capturing stream queues nothing:
// the event then stands for the captured work (capture.cc).
#include <chrono>

#include "graph.h"

namespace gpupool::sim {
namespace {

struct Event {
  Context* ctx = nullptr;
  unsigned flags = 0;
  std::atomic<uint64_t> seq{0};      // sequence of the last record; 0 = never recorded
  std::atomic<Device*> device{nullptr};
  std::atomic<int64_t> stamp_ns{0};  // steady clock when the last record ran
};

HandleRegistry<Event> g_events;

constexpr unsigned kValidFlags = CU_EVENT_DEFAULT | CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
                                 CU_EVENT_INTERPROCESS;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

CUresult lookup(CUevent handle, Event** out) {
  if (!g_events.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<Event*>(handle);
  return CUDA_SUCCESS;
}

bool complete(const Event* e) {
  uint64_t seq = e->seq.load();
  Device* d = e->device.load();
  return seq == 0 || d->executor->done(seq);
}

CUresult record(CUevent handle, CUstream stream, bool per_thread_api) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Event* e = nullptr;
  if (CUresult r = lookup(handle, &e); r != CUDA_SUCCESS) return r;
  Stream* s = nullptr;
  if (CUresult r = resolve_stream(ctx, stream, per_thread_api, &s); r != CUDA_SUCCESS) return r;
  if (s->ctx->device != e->ctx->device) return CUDA_ERROR_INVALID_HANDLE;
  bool captured = false;
  if (CUresult r = capture_event_record(s, handle, &captured); captured || r != CUDA_SUCCESS) return r;
  // The legacy stream beside a blocking capture is refused before the record
  // is queued; stamping a sequence number needs a direct submit.
  if (CUresult r = capture_check_legacy(s); r != CUDA_SUCCESS) return r;
  e->device.store(s->ctx->device);
  e->seq.store(submit(s, [e] {
    e->stamp_ns.store(now_ns());
    return CUDA_SUCCESS;
  }));
  return CUDA_SUCCESS;
}

}  // namespace

CUresult event_last_record(CUevent handle, Device** device, uint64_t* seq) {
  Event* e = nullptr;
  if (CUresult r = lookup(handle, &e); r != CUDA_SUCCESS) return r;
  *seq = e->seq.load();
  *device = e->device.load();
  return CUDA_SUCCESS;
}

void events_release_context(Context* ctx) {
  for (Event* e : g_events.all()) {
    if (e->ctx == ctx) g_events.remove(e);
  }
}

SIM_API CUresult cuEventCreate(CUevent* phEvent, unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (phEvent == nullptr || (flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  // Interprocess events must not time (documented).
  if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  auto* e = new Event;
  e->ctx = ctx;
  e->flags = flags;
  e->device.store(ctx->device);
  g_events.add(e);
  *phEvent = reinterpret_cast<CUevent>(e);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuEventDestroy_v2(CUevent handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Event* e = nullptr;
  if (CUresult r = lookup(handle, &e); r != CUDA_SUCCESS) return r;
  // A pending record still runs and writes into the (kept) object.
  g_events.remove(e);
  return CUDA_SUCCESS;
}
SIM_API CUresult cuEventDestroy(CUevent handle) { return cuEventDestroy_v2(handle); }

SIM_API CUresult cuEventRecord(CUevent e, CUstream s) { return record(e, s, false); }
SIM_API CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return record(e, s, true); }

static CUresult record_with_flags(CUevent e, CUstream s, unsigned int flags, bool per_thread_api) {
  if (flags != CU_EVENT_RECORD_DEFAULT && flags != CU_EVENT_RECORD_EXTERNAL) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  return record(e, s, per_thread_api);
}
SIM_API CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int f) { return record_with_flags(e, s, f, false); }
SIM_API CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s, unsigned int f) {
  return record_with_flags(e, s, f, true);
}

SIM_API CUresult cuEventQuery(CUevent handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Event* e = nullptr;
  if (CUresult r = lookup(handle, &e); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_event(handle); r != CUDA_SUCCESS) return r;
  if (int sticky = e->ctx->sticky_error.load(); sticky != CUDA_SUCCESS) return static_cast<CUresult>(sticky);
  return complete(e) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

SIM_API CUresult cuEventSynchronize(CUevent handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Event* e = nullptr;
  if (CUresult r = lookup(handle, &e); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_event(handle); r != CUDA_SUCCESS) return r;
  if (uint64_t seq = e->seq.load(); seq != 0) e->device.load()->executor->wait(seq);
  return static_cast<CUresult>(e->ctx->sticky_error.load());
}

SIM_API CUresult cuEventElapsedTime_v2(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Event* start = nullptr;
  Event* end = nullptr;
  if (CUresult r = lookup(hStart, &start); r != CUDA_SUCCESS) return r;
  if (CUresult r = lookup(hEnd, &end); r != CUDA_SUCCESS) return r;
  if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (start->seq.load() == 0 || end->seq.load() == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (!complete(start) || !complete(end)) return CUDA_ERROR_NOT_READY;
  // The driver's timer resolution is about half a microsecond.
  int64_t delta = end->stamp_ns.load() - start->stamp_ns.load();
  *pMilliseconds = static_cast<float>(static_cast<double>(delta / 500 * 500) / 1e6);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}

}  // namespace gpupool::sim
