// spin_job — a device-bound CUDA job for the time-slicing tests and benchmarks
// (java/cli SliceEndToEndTest, bench/timeslice): launches the built-in `spin`
// kernel (native/kernels/spin.cu) in a loop on one stream and says, machine-
// readably, what it got:
//
//   spin_job --spin-ns 2000000 --wall-seconds 10 --progress-ms 100 [--graph 4] [--bytes 1GiB]
//
// Lines on stdout (key=value, one line each):
//   ready device=D spin_ns=N graph=K bytes=B     set up (and, with --wait-stdin, now waits for a line)
//   progress t_ns=T launches=L device_ns=N wall_ns=W
//   summary launches=L kernels=K device_ns=N wall_ns=W spin_ns=S graph=G bytes=B verify=ok|FAILED|skipped mismatches=M
//   error call=NAME result=CUDA_ERROR_...          then exit 1
// t_ns is CLOCK_MONOTONIC (Java's System.nanoTime on Linux); launches and
// device_ns count completed launches only; wall_ns runs from the first launch.
//
// Device time is measured with events, and only device time: each launch is
// queued behind a host function that holds the stream until the launch call
// has returned, then start event, launch, end event. So time the call spent
// blocked in the host (a time-slice gate, a full queue) never falls between the
// two events, as it would if the start event ran on an idle stream before it.
// At most --ring launches are queued ahead of the device.
//
// --bytes allocates that much device memory before the loop, fills it with a
// pattern unique to this process, and at the end checks every byte (copied
// back) and that a kernel can still write through the same pointer: data and
// pointers survive whatever happened in between (swapping).
// Exit: 0 done and verified, 1 a CUDA error or a verification failure, 2 usage.
// The driver comes from the environment (no RPATH): the sim or a real GPU.
#include <cuda.h>
#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

#include "spin_job_device.h"
#include "spin_job_options.h"

using namespace spin_job;

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Tally {
  uint64_t launches = 0;  // completed
  uint64_t device_ns = 0;
};

void print_progress(const Tally& t, uint64_t start_ns) {
  const uint64_t now = now_ns();
  std::printf("progress t_ns=%llu launches=%llu device_ns=%llu wall_ns=%llu\n", static_cast<unsigned long long>(now),
              static_cast<unsigned long long>(t.launches), static_cast<unsigned long long>(t.device_ns),
              static_cast<unsigned long long>(now - start_ns));
}

bool done(const Options& o, const Tally& t, uint64_t submitted, uint64_t start_ns) {
  if (o.launches != 0 && submitted >= o.launches) return true;
  if (o.wall_seconds > 0 && static_cast<double>(now_ns() - start_ns) >= o.wall_seconds * 1e9) return true;
  return o.device_seconds > 0 && static_cast<double>(t.device_ns) >= o.device_seconds * 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  std::string problem;
  if (!parse_options(argc, argv, &o, &problem)) {
    std::fprintf(stderr, "spin_job: %s\n%s", problem.c_str(), kUsage);
    return 2;
  }
  Device dev;
  if (!dev.open(o)) return 1;
  if (o.bytes > 0 && !dev.fill()) return 1;
  std::printf("ready device=%d spin_ns=%llu graph=%u bytes=%llu\n", o.device,
              static_cast<unsigned long long>(o.spin_ns), o.graph_kernels, static_cast<unsigned long long>(o.bytes));
  if (o.wait_stdin) {
    char line[64];
    if (std::fgets(line, sizeof line, stdin) == nullptr) return 0;  // nobody said go
  }

  std::vector<Slot> ring(o.ring);
  for (Slot& s : ring)
    if (!dev.make_slot(&s)) return 1;
  Tally tally;
  uint64_t submitted = 0;
  const uint64_t start_ns = now_ns();
  uint64_t next_progress = start_ns;
  auto retire = [&](Slot& s, bool wait) -> bool {
    uint64_t ns = 0;
    const Retired r = dev.retire(&s, wait, &ns);
    if (r == Retired::kDone) {
      ++tally.launches;
      tally.device_ns += ns;
    }
    return r != Retired::kError;
  };
  bool ok = true;
  while (ok && !done(o, tally, submitted, start_ns)) {
    Slot& slot = ring[submitted % ring.size()];
    ok = retire(slot, true) && dev.submit(&slot);
    ++submitted;
    // Completed launches up to now (in order), so progress lines are current.
    for (uint64_t i = submitted - std::min<uint64_t>(submitted, ring.size()); ok && i < submitted; ++i) {
      Slot& s = ring[i % ring.size()];
      if (!s.busy) continue;
      ok = retire(s, false);
      if (s.busy) break;
    }
    if (o.progress_ms > 0 && now_ns() >= next_progress) {
      print_progress(tally, start_ns);
      next_progress = now_ns() + o.progress_ms * 1000000ull;
    }
  }
  for (uint64_t i = 0; ok && i < ring.size(); ++i) ok = retire(ring[(submitted + i) % ring.size()], true);
  const uint64_t wall_ns = now_ns() - start_ns;
  if (!ok) return 1;
  if (o.progress_ms > 0) print_progress(tally, start_ns);

  uint64_t mismatches = 0;
  const char* verify = "skipped";
  if (o.bytes > 0) {
    if (!dev.verify(&mismatches)) return 1;
    verify = mismatches == 0 ? "ok" : "FAILED";
  }
  std::printf("summary launches=%llu kernels=%llu device_ns=%llu wall_ns=%llu spin_ns=%llu graph=%u bytes=%llu "
              "verify=%s mismatches=%llu\n",
              static_cast<unsigned long long>(tally.launches),
              static_cast<unsigned long long>(tally.launches * (o.graph_kernels > 0 ? o.graph_kernels : 1)),
              static_cast<unsigned long long>(tally.device_ns), static_cast<unsigned long long>(wall_ns),
              static_cast<unsigned long long>(o.spin_ns), o.graph_kernels, static_cast<unsigned long long>(o.bytes),
              verify, static_cast<unsigned long long>(mismatches));
  return mismatches == 0 ? 0 : 1;
}
