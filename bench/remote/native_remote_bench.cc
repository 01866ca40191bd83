// native_remote_bench — what a driver-API program pays for a remote GPU, measured by the
// program itself. The same binary runs from bench/remote/run.sh on the simulated driver
// in-process (LD_LIBRARY_PATH=<build>/lib/sim) and through the forwarding driver to a worker
// (LD_LIBRARY_PATH=<build>/lib/remote, GPUPOOL_REMOTE_WORKER, GPUPOOL_REMOTE_SECRET), a few
// times in turn. Each run also measures its own baselines on loopback TCP: a 16-byte ping-pong,
// and two 64 MiB streams in 1 MiB writes: "raw_copy" moves the bytes a 64 MiB copy moves, from a
// 64 MiB source array to a 64 MiB destination array (the copies' baseline), "raw_stream" writes
// one 1 MiB array 64 times into a 1 MiB reader (cache-resident at both ends: an upper bound on
// loopback bandwidth, reported beside it).
//
// The forwarding driver waits for a reply by polling its socket for up to GPUPOOL_REMOTE_SPIN_US
// (default 200 µs) before it blocks, as the driver spins while it waits for the GPU
// (native/remote/wait_policy.h). The round trip's baseline therefore waits the same way:
// "raw_round_trip_polled" is the ping-pong with each echo awaited by the same code
// (await_readable), "raw_round_trip" the ping-pong with a blocking read, reported beside it.
//
// Each remote figure's baseline is measured in turn with it, one timed iteration each (ping-pong,
// cuCtxSynchronize; raw_copy, cuMemcpyHtoD, cuMemcpyDtoH), so a change in the machine's load
// during the run falls on both.
//
// Like the JMH half (RemoteBenchmarks: 3 x 2 s warm-up, 5 x 2 s measured), every measurement
// first runs untimed for a warm-up time, then for a number of timed iterations of at least a
// second each: the worker is a JVM whose JIT needs seconds, not one pass of a loop, to compile
// the call path (on a busy 2-core machine, ten or more), and a single timed pass on a shared
// machine is mostly noise. Output: one "name value unit" line per timed iteration.
//
//   GPUPOOL_BENCH_WARMUP_SECONDS  warm-up per measurement (default 3; the raw socket baselines,
//                                 which have nothing to warm up, take a tenth of it)
//   GPUPOOL_BENCH_ITERATIONS      timed iterations per measurement (default 5)
//   GPUPOOL_KERNELS_DIR           where spin.ptx is, for the launch measurement
//   GPUPOOL_REMOTE_SPIN_US        as for the forwarding driver: how long the polled ping-pong polls
#include <arpa/inet.h>
#include <cuda.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "wait_policy.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kCopyBytes = size_t{64} << 20;
constexpr size_t kChunk = size_t{1} << 20;

void check(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    const char* name = nullptr;
    cuGetErrorName(r, &name);
    std::fprintf(stderr, "%s failed: %s\n", what, name != nullptr ? name : "?");
    std::exit(1);
  }
}

// A positive number from the environment, or `fallback`; anything else ends the program.
double env_number(const char* name, double fallback, double max) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == 0) return fallback;
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != 0 || !std::isfinite(v) || v <= 0 || v > max) {
    std::fprintf(stderr, "%s=%s: expected a number above 0 and at most %g\n", name, text, max);
    std::exit(2);
  }
  return v;
}

// Runs `op` (one call: `per_call` operations) untimed for `warmup` seconds, then `iterations`
// timed iterations of whole calls lasting at least one second each; prints one line per
// iteration: microseconds per operation, or with `gib_per_op` GiB/s.
void measure(const char* name, double warmup, int iterations, double per_call, double gib_per_op,
             const std::function<void()>& op) {
  auto w0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - w0).count() < warmup) op();
  for (int i = 0; i < iterations; i++) {
    auto t0 = Clock::now();
    double ops = 0, seconds = 0;
    do {
      op();
      ops += per_call;
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (seconds < 1.0);
    if (gib_per_op > 0) std::printf("%s %.3f GiB/s\n", name, ops * gib_per_op / seconds);
    else std::printf("%s %.3f us\n", name, seconds * 1e6 / ops);
    std::fflush(stdout);
  }
}

// A loopback peer: echoes (ping-pong), or reads everything into a `sink_bytes` array (from its
// start again when full) and answers one byte after each kCopyBytes.
struct Loopback {
  int client = -1;
  std::thread peer;

  explicit Loopback(size_t sink_bytes) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("loopback");
      std::exit(1);
    }
    peer = std::thread([listener, sink_bytes] {
      int s = accept(listener, nullptr, nullptr);
      int one = 1;
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::vector<char> buf(sink_bytes > 0 ? sink_bytes : kChunk);
      size_t at = 0, seen = 0;
      for (ssize_t n; (n = read(s, buf.data() + at, std::min(kChunk, buf.size() - at))) > 0;) {
        if (sink_bytes == 0) {
          if (write(s, buf.data(), n) != n) break;
          continue;
        }
        at = (at + n) % buf.size();
        if ((seen += n) >= kCopyBytes) {
          seen -= kCopyBytes;
          if (write(s, "k", 1) != 1) break;
        }
      }
      close(s);
      close(listener);
    });
    client = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("connect");
      std::exit(1);
    }
  }
  ~Loopback() {
    shutdown(client, SHUT_RDWR);
    close(client);
    peer.join();
  }
  void read_exactly(char* p, size_t n) {
    while (n > 0) {
      ssize_t r = read(client, p, n);
      if (r <= 0) std::exit(1);
      p += r;
      n -= r;
    }
  }
  // Writes kCopyBytes from `src` (`src_bytes` long, from its start again) in kChunk writes and
  // waits for the peer's acknowledgement.
  void stream(const char* src, size_t src_bytes) {
    for (size_t sent = 0; sent < kCopyBytes; sent += kChunk) {
      if (write(client, src + sent % src_bytes, kChunk) != static_cast<ssize_t>(kChunk)) std::exit(1);
    }
    char ack;
    read_exactly(&ack, 1);
  }
};

}  // namespace

int main() {
  const double warmup = env_number("GPUPOOL_BENCH_WARMUP_SECONDS", 3, 600);
  const int iterations = static_cast<int>(env_number("GPUPOOL_BENCH_ITERATIONS", 5, 1000));
  const int kRoundTrips = 200;
  const int kLaunches = 256;
  const double kGiBPerCopy = double(kCopyBytes) / (1u << 30);
  std::vector<char> host(kCopyBytes, 2);

  Loopback echo(0);
  char msg[16] = {};
  auto ping_pong = [&] {
    for (int i = 0; i < kRoundTrips; i++) {
      if (write(echo.client, msg, sizeof msg) != sizeof msg) std::exit(1);
      echo.read_exactly(msg, sizeof msg);
    }
  };
  std::chrono::microseconds spin_limit = gpupool::remote::kDefaultSpinMicros;
  if (const char* text = std::getenv("GPUPOOL_REMOTE_SPIN_US");
      text != nullptr && *text != 0 && !gpupool::remote::parse_spin_micros(text, &spin_limit)) {
    std::fprintf(stderr, "GPUPOOL_REMOTE_SPIN_US=%s: expected whole microseconds from 0 to 1000000\n", text);
    return 2;
  }
  auto ping_pong_polled = [&] {
    for (int i = 0; i < kRoundTrips; i++) {
      if (write(echo.client, msg, sizeof msg) != sizeof msg) std::exit(1);
      gpupool::remote::await_readable(echo.client, gpupool::remote::WaitMode::kSpin, spin_limit);
      echo.read_exactly(msg, sizeof msg);
    }
  };
  Loopback copy_sink(kCopyBytes);
  auto raw_copy = [&] { copy_sink.stream(host.data(), host.size()); };
  {  // the cache-resident stream, for reference
    Loopback hot_sink(kChunk);
    std::vector<char> chunk(kChunk, 1);
    measure("raw_stream", warmup / 10, iterations, 1, kGiBPerCopy, [&] { hot_sink.stream(chunk.data(), kChunk); });
  }

  check(cuInit(0), "cuInit");
  CUcontext ctx;
  check(cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");

  auto synchronize = [&] {
    for (int i = 0; i < kRoundTrips; i++) check(cuCtxSynchronize(), "cuCtxSynchronize");
  };
  measure("warm-up", warmup, 0, 1, 0, synchronize);
  for (int i = 0; i < iterations; i++) {
    measure("raw_round_trip", i == 0 ? warmup / 10 : 0, 1, kRoundTrips, 0, ping_pong);
    measure("raw_round_trip_polled", i == 0 ? warmup / 10 : 0, 1, kRoundTrips, 0, ping_pong_polled);
    measure("ctx_synchronize", 0, 1, kRoundTrips, 0, synchronize);
  }

  const char* dir = std::getenv("GPUPOOL_KERNELS_DIR");
  if (dir != nullptr) {
    CUmodule module;
    CUfunction spin;
    check(cuModuleLoad(&module, (std::string(dir) + "/spin.ptx").c_str()), "cuModuleLoad");
    check(cuModuleGetFunction(&spin, module, "spin"), "cuModuleGetFunction");
    unsigned long long ns = 0;
    void* params[] = {&ns};
    measure("launch", warmup, iterations, kLaunches, 0, [&] {
      for (int i = 0; i < kLaunches; i++) {
        check(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), "cuLaunchKernel");
      }
      check(cuCtxSynchronize(), "cuCtxSynchronize");
    });
    check(cuModuleUnload(module), "cuModuleUnload");
  }

  CUdeviceptr d;
  check(cuMemAlloc(&d, kCopyBytes), "cuMemAlloc");
  auto htod = [&] { check(cuMemcpyHtoD(d, host.data(), kCopyBytes), "cuMemcpyHtoD"); };
  auto dtoh = [&] { check(cuMemcpyDtoH(host.data(), d, kCopyBytes), "cuMemcpyDtoH"); };
  measure("warm-up", warmup, 0, 1, 0, htod);
  measure("warm-up", warmup, 0, 1, 0, dtoh);
  for (int i = 0; i < iterations; i++) {
    measure("raw_copy", i == 0 ? warmup / 10 : 0, 1, 1, kGiBPerCopy, raw_copy);
    measure("htod", 0, 1, 1, kGiBPerCopy, htod);
    measure("dtoh", 0, 1, 1, kGiBPerCopy, dtoh);
  }
  check(cuMemFree(d), "cuMemFree");
  check(cuDevicePrimaryCtxRelease(0), "cuDevicePrimaryCtxRelease");
  return 0;
}
