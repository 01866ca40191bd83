// native_remote_bench — what a driver-API program pays for a remote GPU, measured by the
// program itself. The same binary runs twice from bench/remote/run.sh: on the simulated
// driver in-process (LD_LIBRARY_PATH=<build>/lib/sim) and through the forwarding driver to a
// worker (LD_LIBRARY_PATH=<build>/lib/remote, GPUPOOL_REMOTE_WORKER, GPUPOOL_REMOTE_SECRET).
// Each run also measures its own baselines on loopback TCP: a 16-byte ping-pong and a 64 MiB
// stream in 1 MiB writes. Output: one "name value unit" per line.
//
// Needs GPUPOOL_KERNELS_DIR (spin.ptx) for the launch measurement.
#include <arpa/inet.h>
#include <cuda.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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

double micros_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// A loopback peer: echoes (ping-pong) or reads everything and answers one byte at the end.
struct Loopback {
  int client = -1;
  std::thread peer;

  explicit Loopback(bool sink) {
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
    peer = std::thread([listener, sink] {
      int s = accept(listener, nullptr, nullptr);
      int one = 1;
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::vector<char> buf(kChunk);
      size_t seen = 0;
      for (ssize_t n; (n = read(s, buf.data(), buf.size())) > 0;) {
        if (!sink) {
          if (write(s, buf.data(), n) != n) break;
        } else if ((seen += n) >= kCopyBytes) {
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
};

}  // namespace

int main() {
  const int kRoundTrips = 2000;
  const int kLaunches = 256, kLaunchBatches = 40, kCopies = 5;

  {  // baselines
    Loopback echo(false);
    char msg[16] = {};
    auto t0 = Clock::now();
    for (int i = 0; i < kRoundTrips; i++) {
      if (write(echo.client, msg, sizeof msg) != sizeof msg) return 1;
      echo.read_exactly(msg, sizeof msg);
    }
    std::printf("raw_round_trip %.2f us\n", micros_since(t0) / kRoundTrips);
    Loopback sink(true);
    std::vector<char> chunk(kChunk, 1);
    t0 = Clock::now();
    for (int c = 0; c < kCopies; c++) {
      for (size_t sent = 0; sent < kCopyBytes; sent += kChunk) {
        if (write(sink.client, chunk.data(), kChunk) != static_cast<ssize_t>(kChunk)) return 1;
      }
      char ack;
      sink.read_exactly(&ack, 1);
    }
    std::printf("raw_stream %.3f GiB/s\n", kCopies * kCopyBytes / (micros_since(t0) / 1e6) / (1u << 30));
  }

  check(cuInit(0), "cuInit");
  CUcontext ctx;
  check(cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");

  // Each measurement runs once untimed first: the worker is a JVM that warms up (JIT) too.
  for (int i = 0; i < kRoundTrips; i++) check(cuCtxSynchronize(), "cuCtxSynchronize");
  auto t0 = Clock::now();
  for (int i = 0; i < kRoundTrips; i++) check(cuCtxSynchronize(), "cuCtxSynchronize");
  std::printf("ctx_synchronize %.2f us\n", micros_since(t0) / kRoundTrips);

  const char* dir = std::getenv("GPUPOOL_KERNELS_DIR");
  if (dir != nullptr) {
    CUmodule module;
    CUfunction spin;
    check(cuModuleLoad(&module, (std::string(dir) + "/spin.ptx").c_str()), "cuModuleLoad");
    check(cuModuleGetFunction(&spin, module, "spin"), "cuModuleGetFunction");
    unsigned long long ns = 0;
    void* params[] = {&ns};
    for (int warm = 0; warm < 2; warm++) {
      t0 = Clock::now();
      for (int b = 0; b < kLaunchBatches; b++) {
        for (int i = 0; i < kLaunches; i++) {
          check(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), "cuLaunchKernel");
        }
        check(cuCtxSynchronize(), "cuCtxSynchronize");
      }
    }
    std::printf("launch %.3f us\n", micros_since(t0) / (kLaunchBatches * kLaunches));
    check(cuModuleUnload(module), "cuModuleUnload");
  }

  CUdeviceptr d;
  check(cuMemAlloc(&d, kCopyBytes), "cuMemAlloc");
  std::vector<char> host(kCopyBytes, 2);
  check(cuMemcpyHtoD(d, host.data(), kCopyBytes), "cuMemcpyHtoD");
  check(cuMemcpyDtoH(host.data(), d, kCopyBytes), "cuMemcpyDtoH");
  t0 = Clock::now();
  for (int c = 0; c < kCopies; c++) check(cuMemcpyHtoD(d, host.data(), kCopyBytes), "cuMemcpyHtoD");
  std::printf("htod %.3f GiB/s\n", kCopies * kCopyBytes / (micros_since(t0) / 1e6) / (1u << 30));
  t0 = Clock::now();
  for (int c = 0; c < kCopies; c++) check(cuMemcpyDtoH(host.data(), d, kCopyBytes), "cuMemcpyDtoH");
  std::printf("dtoh %.3f GiB/s\n", kCopies * kCopyBytes / (micros_since(t0) / 1e6) / (1u << 30));
  check(cuMemFree(d), "cuMemFree");
  check(cuDevicePrimaryCtxRelease(0), "cuDevicePrimaryCtxRelease");
  return 0;
}
