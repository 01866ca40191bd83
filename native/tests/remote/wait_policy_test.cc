// wait_policy_test.cc — ctest remote_wait_policy: which way a synchronous call
// of the forwarding driver waits for its reply (native/remote/wait_policy.h):
// the CU_CTX_SCHED_* choice as cuCtxCreate documents it, GPUPOOL_REMOTE_SPIN_US,
// and the spin itself on a socket pair.
#include <cuda.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>

#include "expect.h"
#include "wait_policy.h"

using gpupool::remote::await_readable;
using gpupool::remote::parse_spin_micros;
using gpupool::remote::wait_mode;
using gpupool::remote::WaitMode;
using std::chrono::microseconds;

namespace {

void scheduling_flags() {
  EXPECT(wait_mode(CU_CTX_SCHED_SPIN, 1, 2) == WaitMode::kSpin);
  EXPECT(wait_mode(CU_CTX_SCHED_YIELD, 1, 2) == WaitMode::kYield);
  EXPECT(wait_mode(CU_CTX_SCHED_BLOCKING_SYNC, 1, 2) == WaitMode::kBlock);
  // An explicit choice holds however many contexts there are.
  EXPECT(wait_mode(CU_CTX_SCHED_SPIN, 8, 2) == WaitMode::kSpin);
  EXPECT(wait_mode(CU_CTX_SCHED_BLOCKING_SYNC, 8, 2) == WaitMode::kBlock);
  // AUTO: spin while contexts <= processors, yield beyond.
  EXPECT(wait_mode(CU_CTX_SCHED_AUTO, 1, 2) == WaitMode::kSpin);
  EXPECT(wait_mode(CU_CTX_SCHED_AUTO, 2, 2) == WaitMode::kSpin);
  EXPECT(wait_mode(CU_CTX_SCHED_AUTO, 3, 2) == WaitMode::kYield);
  // Only the scheduling bits count.
  EXPECT(wait_mode(CU_CTX_SCHED_BLOCKING_SYNC | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX, 1, 2) ==
         WaitMode::kBlock);
  EXPECT(wait_mode(CU_CTX_MAP_HOST, 1, 2) == WaitMode::kSpin);
}

void spin_limit_text() {
  microseconds v{-1};
  EXPECT(parse_spin_micros("0", &v) && v == microseconds(0));
  EXPECT(parse_spin_micros("250", &v) && v == microseconds(250));
  EXPECT(parse_spin_micros("1000000", &v) && v == microseconds(1000000));
  v = microseconds(7);
  for (const char* bad : {"", "1000001", "-1", "+5", " 5", "5 ", "12us", "1e3", "abc", "0x10",
                          "99999999999999999999999"}) {
    if (parse_spin_micros(bad, &v)) {
      ++gpupool::remote::test::g_failed;
      std::fprintf(stderr, "FAILED: GPUPOOL_REMOTE_SPIN_US='%s' accepted\n", bad);
    }
  }
  EXPECT(v == microseconds(7));  // untouched by what was refused
  EXPECT(!parse_spin_micros(nullptr, &v));
}

void spin_on_a_socket() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    EXPECT(!"socketpair");
    return;
  }
  // Nothing there: each mode gives up after its limit (and reports it), blocking at once.
  EXPECT(!await_readable(fds[0], WaitMode::kSpin, microseconds(2000)));
  EXPECT(!await_readable(fds[0], WaitMode::kYield, microseconds(2000)));
  EXPECT(!await_readable(fds[0], WaitMode::kBlock, microseconds(1000000)));
  EXPECT(!await_readable(fds[0], WaitMode::kSpin, microseconds(0)));

  // Bytes there: seen by spinning and by yielding, not looked for when blocking.
  EXPECT(write(fds[1], "r", 1) == 1);
  EXPECT(await_readable(fds[0], WaitMode::kSpin, microseconds(1000000)));
  EXPECT(await_readable(fds[0], WaitMode::kYield, microseconds(1000000)));
  EXPECT(!await_readable(fds[0], WaitMode::kBlock, microseconds(1000000)));
  char c;
  EXPECT(read(fds[0], &c, 1) == 1 && c == 'r');

  // The peer gone: readable too (the recv that follows returns 0 and does not block).
  close(fds[1]);
  EXPECT(await_readable(fds[0], WaitMode::kSpin, microseconds(1000000)));
  close(fds[0]);
}

}  // namespace

int main() {
  scheduling_flags();
  spin_limit_text();
  spin_on_a_socket();
  return gpupool::remote::test::finish("remote_wait_policy");
}
