// wait_probe.cc — how a program's thread waited for the forwarding driver's
// replies: the primary context with the scheduling flag argv[1] (auto, spin,
// yield, blocking; cuDevicePrimaryCtxSetFlags), 200 idle cuCtxSynchronize calls, then one line
//   "polls P yields Y"
// P: poll() calls with a zero timeout (a look at the socket while spinning or
// yielding), Y: sched_yield() calls, both counted by this program's own poll
// and sched_yield, which the driver's calls bind to (the executable exports
// them). NativeClientThroughWorkerTest runs it through the forwarding driver
// with GPUPOOL_REMOTE_SPIN_US set or not; it asserts nothing itself.
#include <cuda.h>
#include <dlfcn.h>
#include <poll.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace {
std::atomic<long> g_zero_polls{0}, g_yields{0};

template <typename Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
}  // namespace

extern "C" int poll(struct pollfd* fds, nfds_t n, int timeout) {
  static auto next = real<int (*)(struct pollfd*, nfds_t, int)>("poll");
  if (timeout == 0) ++g_zero_polls;
  return next(fds, n, timeout);
}

extern "C" int sched_yield() {
  static auto next = real<int (*)()>("sched_yield");
  ++g_yields;
  return next();
}

int main(int argc, char** argv) {
  struct {
    const char* name;
    unsigned flag;
  } const flags[] = {{"auto", CU_CTX_SCHED_AUTO}, {"spin", CU_CTX_SCHED_SPIN}, {"yield", CU_CTX_SCHED_YIELD},
                     {"blocking", CU_CTX_SCHED_BLOCKING_SYNC}};
  int chosen = -1;
  for (int i = 0; i < 4; i++)
    if (argc == 2 && std::strcmp(argv[1], flags[i].name) == 0) chosen = i;
  if (chosen < 0) {
    std::fprintf(stderr, "usage: wait_probe auto|spin|yield|blocking\n");
    return 2;
  }
  CUcontext ctx;
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxSetFlags(0, flags[chosen].flag) != CUDA_SUCCESS ||
      cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
    std::fprintf(stderr, "wait_probe: cuInit or the primary context failed\n");
    return 1;
  }
  g_zero_polls = 0;
  g_yields = 0;
  for (int i = 0; i < 200; i++) {
    if (cuCtxSynchronize() != CUDA_SUCCESS) {
      std::fprintf(stderr, "wait_probe: cuCtxSynchronize failed\n");
      return 1;
    }
  }
  long polls = g_zero_polls, yields = g_yields;
  std::printf("polls %ld yields %ld\n", polls, yields);
  return cuDevicePrimaryCtxRelease(0) == CUDA_SUCCESS ? 0 : 1;
}
