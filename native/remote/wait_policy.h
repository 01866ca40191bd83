// wait_policy.h — how a thread waits for its reply from the worker: as the
// driver waits for the GPU under the context's CU_CTX_SCHED_* flag.
//
// Contract
//   The driver documents (cuCtxCreate) that a thread waiting for the GPU
//   spins (CU_CTX_SCHED_SPIN), yields its processor between looks
//   (CU_CTX_SCHED_YIELD) or blocks (CU_CTX_SCHED_BLOCKING_SYNC); the default,
//   CU_CTX_SCHED_AUTO, spins while the process has no more active contexts
//   than logical processors and yields otherwise. A synchronous call of the
//   forwarding driver waits for its reply the same way: spinning or yielding
//   on the socket (poll with no timeout), then blocking in recv.
//
//   One difference, on purpose: the spin or yield lasts at most
//   GPUPOOL_REMOTE_SPIN_US microseconds per wait (default kDefaultSpinMicros;
//   0: always block), after which the thread blocks. The driver spins for as
//   long as the GPU takes; a remote reply can take as long as the network
//   does, and on loopback (tests, a worker on the same host) the spinning
//   thread would take the processor the worker needs. A reply that comes
//   within the limit is seen without a wake-up: on a VM, where waking a
//   blocked thread costs tens of microseconds, that is most of a round trip.
//
// Threading
//   wait_mode() and await_readable() are pure or act only on their arguments.
//   current_wait_mode() (context.cc) reads the calling thread's context.
#pragma once

#include <chrono>

namespace gpupool::remote {

enum class WaitMode { kSpin, kYield, kBlock };

constexpr std::chrono::microseconds kDefaultSpinMicros{200};
constexpr std::chrono::microseconds kMaxSpinMicros{1'000'000};

// The documented choice for a context created with `flags` (only the
// CU_CTX_SCHED_MASK bits count), with `active_contexts` contexts active in
// the process and `processors` logical processors.
WaitMode wait_mode(unsigned flags, int active_contexts, int processors);

// The calling thread's: its current context's flags, the process's active
// contexts, the processors it may run on. No current context: kBlock.
WaitMode current_wait_mode();

// GPUPOOL_REMOTE_SPIN_US's text as a limit: a whole number of microseconds,
// 0 to kMaxSpinMicros; false for anything else.
bool parse_spin_micros(const char* text, std::chrono::microseconds* out);

// Spins (kSpin) or yields (kYield) until `fd` is readable or `limit` has
// passed; kBlock returns at once. True when `fd` was seen readable (or
// closed: a recv will not block).
bool await_readable(int fd, WaitMode mode, std::chrono::microseconds limit);

}  // namespace gpupool::remote
