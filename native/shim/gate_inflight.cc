// gate_inflight.cc — this process's gated operations in flight
// (gate_internal.h): each runs between a start and an end timing event on its
// stream; it is outstanding until its end event is seen complete, by
// whichever thread sees it first (one waiting for a place, the gate thread,
// a context teardown). Retiring it adds its device time to the gate row,
// takes in_flight down and frees its place and events.
//
// A thread that queries or waits on an entry's events outside the lock pins
// the entry first: its events go back to the pool only when it is retired
// and unpinned, so no thread ever waits on an event re-recorded for later work.
#include <pthread.h>

#include <algorithm>

#include "gate_internal.h"
#include "log.h"
#include "quota.h"
#include "real_driver.h"

namespace gpupool::shim {

std::atomic<int> g_outstanding{0};

namespace {

struct Inflight {
  CtxState* ctx;
  CUevent start, end;
  int device;  // physical
  gpupool_region_gate* gate;
  int pins;    // threads using its events outside the lock
  bool done;
};

std::mutex g_mu;                          // the lists, pins and done flags
std::vector<Inflight*> g_list[kMaxDevices];  // outstanding, oldest first
std::vector<Inflight*> g_spare;           // retired entries for reuse
std::vector<Inflight*> g_limbo;           // retired, still pinned: their events are in use
std::atomic<uint32_t> g_reserved[kMaxDevices];
// Recent device time per gated operation (an average weighted 1/8 to the
// newest), per device; 0 until one was measured.
std::atomic<uint64_t> g_op_ns[kMaxDevices];
std::atomic<bool> g_error_logged{false};

// Under g_mu. A retired entry nobody pins any more.
void recycle_locked(Inflight* e) {
  auto at = std::find(g_limbo.begin(), g_limbo.end(), e);
  if (at != g_limbo.end()) g_limbo.erase(at);
  ctx_give_events(e->ctx, e->start, e->end);
  g_spare.push_back(e);
}

// Under g_mu. Retires `e` once: device time (when known) before in_flight
// comes down, so an agent that sees in_flight 0 sees the time too.
void retire_locked(Inflight* e, bool timed, uint64_t ns) {
  if (e->done) return;
  e->done = true;
  auto& list = g_list[e->device];
  list.erase(std::find(list.begin(), list.end(), e));
  g_outstanding.fetch_sub(1, std::memory_order_seq_cst);
  if (timed) {
    __atomic_add_fetch(&e->gate->device_ns, ns, __ATOMIC_RELEASE);
    const uint64_t avg = g_op_ns[e->device].load(std::memory_order_relaxed);  // written under g_mu only
    g_op_ns[e->device].store(avg == 0 ? std::max<uint64_t>(ns, 1) : avg - avg / 8 + ns / 8,
                             std::memory_order_relaxed);
  }
  __atomic_sub_fetch(&e->gate->in_flight, 1u, __ATOMIC_SEQ_CST);
  g_reserved[e->device].fetch_sub(1, std::memory_order_acq_rel);
  if (e->pins == 0) recycle_locked(e);
  else g_limbo.push_back(e);
}

// After a query or wait on e's end event (outside the lock) returned `r`.
void settle(Inflight* e, CUresult r) {
  uint64_t ns = 0;
  const bool timed = r == CUDA_SUCCESS && elapsed_ns(e->start, e->end, &ns);
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY && !g_error_logged.exchange(true))
    GPUPOOL_LOG_WARN("a gated operation's end event reports error %d: counted complete, without device time",
                     static_cast<int>(r));
  std::lock_guard<std::mutex> lock(g_mu);
  --e->pins;
  if (!e->done && r != CUDA_ERROR_NOT_READY) retire_locked(e, timed, ns);
  else if (e->done && e->pins == 0) recycle_locked(e);
}

// Waits for `e` (pinned by the caller) and retires it.
void wait_and_settle(Inflight* e) {
  auto sync = SHIM_REAL(cuEventSynchronize);
  settle(e, sync != nullptr ? sync(e->end) : CUDA_ERROR_NOT_SUPPORTED);
}

void atfork_prepare() { g_mu.lock(); }
void atfork_parent() { g_mu.unlock(); }
void atfork_child() {
  // The parent's work is not this process's: forget it (entries leak).
  new (&g_mu) std::mutex();
  for (auto& list : g_list) list.clear();
  g_spare.clear();
  g_limbo.clear();
  for (auto& r : g_reserved) r.store(0, std::memory_order_relaxed);
  g_outstanding.store(0, std::memory_order_relaxed);
}

__attribute__((constructor)) void inflight_register_atfork() {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

// How many places on `device` the depth and the time budget allow now.
uint32_t places(int device, uint32_t depth, uint64_t budget_ns) {
  if (depth <= 1) return 1;
  const uint64_t op_ns = g_op_ns[device].load(std::memory_order_relaxed);
  if (op_ns == 0) return 1;  // nothing measured yet: no estimate of what a queue costs
  const uint64_t fit = budget_ns / op_ns;
  return static_cast<uint32_t>(std::clamp<uint64_t>(fit, 1, depth));
}

}  // namespace

void inflight_reserve(int device, uint32_t depth, uint64_t budget_ns) {
  for (;;) {
    uint32_t n = g_reserved[device].load(std::memory_order_acquire);
    const uint32_t allowed = places(device, depth, budget_ns);
    while (n < allowed)
      if (g_reserved[device].compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return;
    Inflight* oldest = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      if (!g_list[device].empty()) {
        oldest = g_list[device].front();
        ++oldest->pins;
      }
    }
    if (oldest != nullptr) wait_and_settle(oldest);
    else sleep_ns(20 * 1000);  // the places are held by submissions not yet listed
  }
}

void inflight_unreserve(int device) { g_reserved[device].fetch_sub(1, std::memory_order_acq_rel); }

CUresult inflight_submit(const Where& w, gpupool_region_gate* gate, bool synchronous, GateOp op, void* arg) {
  const int device = w.ctx->physical;
  CUevent start = nullptr, end = nullptr;
  bool timed = ctx_take_events(w, &start, &end);
  auto record = SHIM_REAL(cuEventRecord);
  if (timed) {
    CtxScope scope(w.ctx->ctx, w.push);
    timed = record != nullptr && record(start, w.stream) == CUDA_SUCCESS;
  }
  const CUresult r = op(arg);
  if (timed && r == CUDA_SUCCESS) {
    CtxScope scope(w.ctx->ctx, w.push);
    timed = record(end, w.stream) == CUDA_SUCCESS;
  }
  __atomic_store_n(&gate->last_submit_ns, monotonic_ns(), __ATOMIC_RELEASE);
  if (r != CUDA_SUCCESS || !timed) {
    if (r == CUDA_SUCCESS) {
      // No end event: wait for the stream, so in_flight stays true (rare:
      // event creation or recording failed).
      if (!g_error_logged.exchange(true))
        GPUPOOL_LOG_WARN("cannot record the gate's timing events: gated work waits for its stream");
      CtxScope scope(w.ctx->ctx, w.push);
      if (auto sync = SHIM_REAL(cuStreamSynchronize)) sync(w.stream);
    }
    if (start != nullptr && end != nullptr) ctx_give_events(w.ctx, start, end);
    __atomic_sub_fetch(&gate->in_flight, 1u, __ATOMIC_SEQ_CST);
    inflight_unreserve(device);
    return r;
  }
  Inflight* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_spare.empty()) {
      e = g_spare.back();
      g_spare.pop_back();
    } else {
      e = new Inflight;
    }
    *e = Inflight{w.ctx, start, end, device, gate, synchronous ? 1 : 0, false};
    g_list[device].push_back(e);
    g_outstanding.fetch_add(1, std::memory_order_seq_cst);
  }
  if (synchronous) {
    // Most such calls return after the work ran: retire it now, not later.
    auto query = SHIM_REAL(cuEventQuery);
    settle(e, query != nullptr ? query(end) : CUDA_ERROR_NOT_READY);
  }
  gate_thread_wake();
  return r;
}

int inflight_poll() {
  static std::vector<Inflight*> batch;  // the gate thread's alone: no allocation per poll
  batch.clear();
  {
    std::lock_guard<std::mutex> lock(g_mu);
    for (auto& list : g_list)
      for (Inflight* e : list) {
        ++e->pins;
        batch.push_back(e);
      }
  }
  auto query = SHIM_REAL(cuEventQuery);
  auto set_current = SHIM_REAL(cuCtxSetCurrent);
  CUcontext current = nullptr;
  for (Inflight* e : batch) {
    // The gate thread's own current context: some drivers want one for event
    // calls. The entry pins the context's life (teardown drains it first).
    if (e->ctx->ctx != current && set_current != nullptr && set_current(e->ctx->ctx) == CUDA_SUCCESS)
      current = e->ctx->ctx;
    settle(e, query != nullptr ? query(e->end) : CUDA_ERROR_NOT_SUPPORTED);
  }
  return g_outstanding.load(std::memory_order_seq_cst);
}

void inflight_drain(CUcontext ctx) {
  for (;;) {
    Inflight* e = nullptr;
    bool pinned = false;  // a retired entry of ctx another thread still reads
    {
      std::lock_guard<std::mutex> lock(g_mu);
      for (auto& list : g_list)
        for (Inflight* x : list)
          if (e == nullptr && x->ctx->ctx == ctx) e = x;
      for (Inflight* x : g_limbo) pinned |= x->ctx->ctx == ctx;
      if (e != nullptr) ++e->pins;
    }
    if (e != nullptr) wait_and_settle(e);
    else if (pinned) sleep_ns(20 * 1000);  // it is between a driver call and settle()
    else return;
  }
}

}  // namespace gpupool::shim
