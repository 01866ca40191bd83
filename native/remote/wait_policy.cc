// wait_policy.cc — see wait_policy.h.
#include "wait_policy.h"

#include <cuda.h>
#include <poll.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>

namespace gpupool::remote {

WaitMode wait_mode(unsigned flags, int active_contexts, int processors) {
  switch (flags & CU_CTX_SCHED_MASK) {
    case CU_CTX_SCHED_SPIN:
      return WaitMode::kSpin;
    case CU_CTX_SCHED_YIELD:
      return WaitMode::kYield;
    case CU_CTX_SCHED_BLOCKING_SYNC:
      return WaitMode::kBlock;
    default:  // CU_CTX_SCHED_AUTO
      return active_contexts > processors ? WaitMode::kYield : WaitMode::kSpin;
  }
}

bool parse_spin_micros(const char* text, std::chrono::microseconds* out) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != 0 || v > static_cast<unsigned long long>(kMaxSpinMicros.count())) return false;
  *out = std::chrono::microseconds(v);
  return true;
}

bool await_readable(int fd, WaitMode mode, std::chrono::microseconds limit) {
  if (mode == WaitMode::kBlock || limit.count() <= 0) return false;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + limit;
  for (unsigned i = 1;; ++i) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 0);
    if (rc > 0) return true;  // readable, closed or in error: recv will not block
    if (rc < 0 && errno != EINTR) return false;
    if (mode == WaitMode::kYield) sched_yield();
    // A look at the clock costs about what a poll does; every fourth is enough.
    if (i % 4 == 0 && Clock::now() >= deadline) return false;
  }
}

}  // namespace gpupool::remote
