// gate.h — the time-slice gate: a job submits device work on a device only
// while it holds that device's slice.
//
// Contract (node_table.h "Time slices", control_region.h "Gates")
//   The gate is active in a process that runs under the agent's node table
//   (GPUPOOL_AGENT_TABLE attached); otherwise every gated hook costs one relaxed
//   load of g_launch_gate_active (hook_table.h) and nothing else.
//   Gated hooks — kernel launches of every kind, graph launches, copies and
//   memsets, sync and async (hooks_launch.cc, hooks_copy.cc, hooks_memset.cc) —
//   hand their real call to gate_run(). For the operation's physical device d
//   (the stream's context's device, mapped as devices.cc maps ordinals):
//     - slices[d] holder OPEN: the call runs as it is, nothing recorded;
//     - otherwise this process increments its gate row's in_flight (seq_cst),
//       then loads the grant (seq_cst): the Dekker pair of the headers. Held
//       by this job (entry + 1, entry still ours): the call runs between two
//       timing events on its stream; else in_flight goes back down and the
//       thread waits (gate row `waiting`, `wait_ns`), polling the grant every
//       50 µs, then tries again;
//     - at most slices[d].depth gated operations of this process are in flight
//       on d, and beyond the first only as many as fit, at the device's recent
//       time per operation, in a tenth of slices[d].quantum_ns of device time;
//       one more first waits for the oldest to complete. (The agent sets depth
//       1 while another job waits for d, more while none does.)
//     - in_flight comes down, and device_ns grows by the events' elapsed time,
//       when the end event is seen complete: by a thread that waits for it, or
//       by the gate thread (gate_thread.cc), which polls outstanding events
//       every 150 µs, so in_flight reaches 0 even when the job stops calling.
//   On a device where this process has swappable memory (swap.h), an
//   operation admitted (or run through an OPEN gate) first brings that memory
//   back if it was swapped out, and is counted by swap_enter/swap_leave while
//   it is submitted, so eviction never overlaps it; an eviction in progress
//   makes it give its admission back, wait, and be admitted again.
//   Not gated (the call runs as it is): work recorded into a graph by stream
//   capture (the graph's launch is gated), a device whose physical ordinal is
//   unknown (named by UUID), and, while the agent process is gone (header
//   agent_pid / agent_start_time), everything: jobs keep running when the
//   agent dies. A job whose table entry was released gets
//   CUDA_ERROR_NOT_PERMITTED for gated work (as its allocations fail).
//
// Threading
//   gate_run() is thread-safe. On the path where the slice is held it makes
//   no system call; its locks (the in-flight list, a context's event pool)
//   are held for a few instructions and never across a driver call.
//   Waiting for a grant or for the oldest operation happens outside every lock.
//
// Limits (documented in README)
//   device_ns sums each operation's event interval, so operations that overlap
//   on several streams count their overlap more than once. A peer copy is gated
//   on the device of its stream's (or the current) context only. An operation
//   that can complete only after the job submits more work (a kernel spinning
//   on a flag set by a later copy) deadlocks once `depth` such operations are
//   in flight: the bound is the price of bounded slice overrun.
#pragma once

#include <cuda.h>

namespace gpupool::shim {

struct GateTarget {
  CUstream stream;   // as the caller passed it; nullptr: the NULL stream
  bool per_thread;   // a _ptsz/_ptds entry point: NULL means the per-thread stream
  bool synchronous;  // a call that usually returns after the work ran
};

using GateOp = CUresult (*)(void*);

// Runs op(arg) through the gate (see Contract). Call only while
// g_launch_gate_active is set; returns op's result, or an error of the gate.
CUresult gate_submit(const GateTarget& target, GateOp op, void* arg);

template <typename F>
inline CUresult gate_run(const GateTarget& target, F& call) {
  return gate_submit(target, [](void* f) { return (*static_cast<F*>(f))(); }, &call);
}

// Library constructor: activates the gate when GPUPOOL_AGENT_TABLE is set.
void gate_init();

// Before a context is destroyed or reset, or a primary context released: waits
// for this process's gated work in it and retires it. With `destroying`, also
// frees the gate's events in it (the context is about to go).
void gate_context_teardown(CUcontext ctx, bool destroying);

// After a context is gone (destroyed, reset, released to inactive): forgets
// the gate's state for it.
void gate_context_gone(CUcontext ctx);

}  // namespace gpupool::shim

// In a hook: `call` (an expression calling the real function) through the gate.
#define GPUPOOL_GATED(target, call)                                                          \
  do {                                                                                       \
    auto gpupool_call = [&]() -> CUresult { return call; };                                  \
    if (__builtin_expect(!::gpupool::shim::g_launch_gate_active.load(std::memory_order_relaxed), 1)) \
      return gpupool_call();                                                                 \
    return ::gpupool::shim::gate_run(target, gpupool_call);                                  \
  } while (0)
