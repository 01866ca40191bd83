// gate_internal.h — how the parts of the gate (gate.h) fit together.
//
//   gate.cc           admission: the grant, the Dekker pair, waiting, depth
//   gate_context.cc   which context and physical device an operation runs on;
//                     each context's pool of timing events
//   gate_inflight.cc  this process's gated operations in flight: submission
//                     between two events, completion, device time
//   gate_thread.cc    the background thread that sees completions when the
//                     job makes no calls, and serves eviction requests
//                     (swap_out.cc)
//
// Lock order: the in-flight list's mutex, then a context's pool mutex; no lock
// is held across a driver call. Objects here are never freed while the
// process runs (a dead context's state stays, marked dead), so a pointer
// taken under a lock stays valid after it.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gate.h"
#include "gpupool/control_region.h"

namespace gpupool::shim {

// The gate's view of one context (one life of it: a context destroyed and a
// new one at the same handle get separate states).
struct CtxState {
  CUcontext ctx = nullptr;
  int physical = -1;             // its device's physical ordinal; -1: unknown
  std::mutex mu;                 // guards free_events: a push or a pop, no more
  std::vector<CUevent> free_events;  // timing events of this context, unrecorded or complete
  std::atomic<bool> dead{false};
};

// Where one operation runs.
struct Where {
  CtxState* ctx = nullptr;
  CUstream stream = nullptr;  // to record on: the caller's, CU_STREAM_PER_THREAD for a _pt NULL stream
  bool push = false;          // ctx is not current: push it around the gate's own calls
};

// ---- gate_context.cc ---------------------------------------------------------------
// Resolves the target's context, physical device and recording stream. False
// when the operation cannot be gated (no context, unknown device): it then
// runs as it is.
bool gate_locate(const GateTarget& target, Where* where);
// Whether the target stream is capturing into a graph (nothing runs now).
bool gate_capturing(const Where& where);
// Two timing events of where.ctx (from its pool, created when it has none).
bool ctx_take_events(const Where& where, CUevent* start, CUevent* end);
void ctx_give_events(CtxState* ctx, CUevent start, CUevent end);

// Makes `ctx` current for its lifetime when `push`; restores the caller's.
class CtxScope {
 public:
  CtxScope(CUcontext ctx, bool push);
  ~CtxScope();
  CtxScope(const CtxScope&) = delete;
  CtxScope& operator=(const CtxScope&) = delete;

 private:
  bool pushed_ = false;
};

// ---- gate_inflight.cc --------------------------------------------------------------
// Takes a place for one more operation of this process on `device`, first
// waiting for the oldest operation there while none is free. Places: at most
// `depth`, and beyond the first only while the work already in flight plus
// this operation, at the device's recent time per operation, fits in
// `budget_ns` of device time. So a deep queue (the agent allows one when
// nobody else waits for the device) hides the host's reaction time from
// short kernels, and the work queued when someone starts waiting — the
// slice's overrun — stays within about budget_ns plus one operation.
void inflight_reserve(int device, uint32_t depth, uint64_t budget_ns);
void inflight_unreserve(int device);
// Runs op(arg) between two timing events on where.stream and tracks it; the
// caller holds a place (inflight_reserve) and one in_flight count on `gate`,
// both handed over here.
CUresult inflight_submit(const Where& where, gpupool_region_gate* gate, bool synchronous, GateOp op, void* arg);
// The gate thread: queries each outstanding end event once and retires the
// complete ones. Returns how many remain outstanding.
int inflight_poll();
// Waits for and retires every operation of `ctx`; none is outstanding after.
void inflight_drain(CUcontext ctx);
// Outstanding operations, for the gate thread's idle decision (seq_cst).
extern std::atomic<int> g_outstanding;

// ---- gate_thread.cc ----------------------------------------------------------------
void gate_thread_ensure();  // starts it on first use (after cuInit, from a gated call)
void gate_thread_wake();    // after adding an outstanding operation
bool gate_thread_stopping();  // the process is exiting: long work stops early

// ---- shared helpers ----------------------------------------------------------------
uint64_t monotonic_ns();  // CLOCK_MONOTONIC (vDSO: no system call)
void sleep_ns(long ns);
// Device time between two complete events, in nanoseconds; false if unknown.
bool elapsed_ns(CUevent start, CUevent end, uint64_t* ns);

}  // namespace gpupool::shim
