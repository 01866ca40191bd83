// spin_job_device.cc — see spin_job_device.h.
#include "spin_job_device.h"

#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace spin_job {
namespace {

constexpr size_t kChunkBytes = 8u << 20;  // host staging for fill and verify

bool readable(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// The PTX directory: --kernels, $GPUPOOL_KERNELS_DIR, the build tree
// (<exe>/../kernels), the install tree (<dist>/libexec/gpupool/../../lib/kernels),
// the source tree.
std::string kernels_dir(const Options& o) {
  if (!o.kernels_dir.empty()) return o.kernels_dir;
  if (const char* env = std::getenv("GPUPOOL_KERNELS_DIR"); env != nullptr && *env != '\0') return env;
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir = dir.substr(0, dir.find_last_of('/'));
    for (const char* rel : {"/../kernels", "/../../lib/kernels"})
      if (readable(dir + rel + "/spin.ptx")) return dir + rel;
  }
#ifdef GPUPOOL_SOURCE_KERNELS_DIR
  return GPUPOOL_SOURCE_KERNELS_DIR;
#else
  return "kernels";
#endif
}

bool load_ptx(const std::string& path, std::string* text) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  *text = s.str();
  return true;
}

void CUDA_CB hold(void* p) {
  Latch* latch = static_cast<Latch*>(p);
  std::unique_lock<std::mutex> lock(latch->mu);
  latch->cv.wait(lock, [latch] { return latch->open; });
}

void open_latch(Latch* latch) {
  {
    std::lock_guard<std::mutex> lock(latch->mu);
    latch->open = true;
  }
  latch->cv.notify_all();
}

}  // namespace

bool Device::check(CUresult r, const char* call) {
  if (r == CUDA_SUCCESS) return true;
  const char* name = nullptr;
  if (cuGetErrorName(r, &name) != CUDA_SUCCESS || name == nullptr) name = "?";
  std::printf("error call=%s result=%s\n", call, name);
  return false;
}

bool Device::open(const Options& o) {
  o_ = o;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  seed_ = static_cast<uint32_t>(getpid()) * 2654435761u ^ static_cast<uint32_t>(ts.tv_nsec);
  CUdevice dev = 0;
  if (!check(cuInit(0), "cuInit") || !check(cuDeviceGet(&dev, o.device), "cuDeviceGet") ||
      !check(cuDevicePrimaryCtxRetain(&ctx_, dev), "cuDevicePrimaryCtxRetain") ||
      !check(cuCtxSetCurrent(ctx_), "cuCtxSetCurrent") ||
      !check(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return false;
  const std::string dir = kernels_dir(o);
  std::string ptx;
  CUmodule spin_module = nullptr, fill_module = nullptr;
  if (!load_ptx(dir + "/spin.ptx", &ptx)) {
    std::fprintf(stderr, "spin_job: cannot read %s/spin.ptx (set --kernels or GPUPOOL_KERNELS_DIR)\n", dir.c_str());
    return false;
  }
  if (!check(cuModuleLoadData(&spin_module, ptx.c_str()), "cuModuleLoadData(spin)") ||
      !check(cuModuleGetFunction(&spin_, spin_module, "spin"), "cuModuleGetFunction(spin)"))
    return false;
  if (o.bytes > 0) {
    if (!load_ptx(dir + "/fill_u32.ptx", &ptx)) {
      std::fprintf(stderr, "spin_job: cannot read %s/fill_u32.ptx\n", dir.c_str());
      return false;
    }
    if (!check(cuModuleLoadData(&fill_module, ptx.c_str()), "cuModuleLoadData(fill_u32)") ||
        !check(cuModuleGetFunction(&fill_, fill_module, "fill_u32"), "cuModuleGetFunction(fill_u32)") ||
        !check(cuMemAlloc(&data_, o.bytes), "cuMemAlloc"))
      return false;
  }
  if (o.graph_kernels == 0) return true;
  // The graph: graph_kernels spins captured from the job's stream.
  CUgraph graph = nullptr;
  if (!check(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture")) return false;
  unsigned long long ns = o.spin_ns;
  void* args[] = {&ns};
  for (unsigned i = 0; i < o.graph_kernels; ++i)
    if (!check(cuLaunchKernel(spin_, 1, 1, 1, 1, 1, 1, 0, stream_, args, nullptr), "cuLaunchKernel(capture)"))
      return false;
  return check(cuStreamEndCapture(stream_, &graph), "cuStreamEndCapture") &&
         check(cuGraphInstantiateWithFlags(&graph_, graph, 0), "cuGraphInstantiateWithFlags");
}

uint32_t Device::expected(uint64_t word) const {
  return static_cast<uint32_t>((word + 1) * 2654435761u) ^ seed_ ^ static_cast<uint32_t>(word >> 32);
}

bool Device::fill() {
  const uint64_t words = o_.bytes / 4;
  std::vector<uint32_t> host(kChunkBytes / 4);
  for (uint64_t at = 0; at < words; at += host.size()) {
    const uint64_t n = std::min<uint64_t>(host.size(), words - at);
    for (uint64_t i = 0; i < n; ++i) host[i] = expected(at + i);
    if (!check(cuMemcpyHtoD(data_ + at * 4, host.data(), n * 4), "cuMemcpyHtoD")) return false;
  }
  return true;
}

bool Device::verify(uint64_t* mismatches) {
  const uint64_t words = o_.bytes / 4;
  std::vector<uint32_t> host(kChunkBytes / 4);
  *mismatches = 0;
  for (uint64_t at = 0; at < words; at += host.size()) {
    const uint64_t n = std::min<uint64_t>(host.size(), words - at);
    if (!check(cuMemcpyDtoH(host.data(), data_ + at * 4, n * 4), "cuMemcpyDtoH")) return false;
    for (uint64_t i = 0; i < n; ++i)
      if (host[i] != expected(at + i)) ++*mismatches;
  }
  if (words == 0) return true;
  // The pointer still works for a kernel: fill the first words, read both ends back.
  unsigned long long n = std::min<uint64_t>(words, 1u << 20);
  uint32_t value = ~seed_;
  CUdeviceptr p = data_;
  void* args[] = {&p, &value, &n};
  const unsigned grid = static_cast<unsigned>((n + 255) / 256);
  uint32_t first = 0, last = 0;
  if (!check(cuLaunchKernel(fill_, grid, 1, 1, 256, 1, 1, 0, stream_, args, nullptr), "cuLaunchKernel(fill_u32)") ||
      !check(cuStreamSynchronize(stream_), "cuStreamSynchronize") ||
      !check(cuMemcpyDtoH(&first, data_, 4), "cuMemcpyDtoH") ||
      !check(cuMemcpyDtoH(&last, data_ + (n - 1) * 4, 4), "cuMemcpyDtoH"))
    return false;
  if (first != value || last != value) {
    std::printf("verify: a kernel's write through the allocation's pointer did not land\n");
    ++*mismatches;
  }
  return true;
}

bool Device::make_slot(Slot* slot) {
  return check(cuEventCreate(&slot->start, CU_EVENT_DEFAULT), "cuEventCreate") &&
         check(cuEventCreate(&slot->end, CU_EVENT_DEFAULT), "cuEventCreate");
}

bool Device::submit(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(slot->latch.mu);
    slot->latch.open = false;
  }
  if (o_.hold && !check(cuLaunchHostFunc(stream_, hold, &slot->latch), "cuLaunchHostFunc")) {
    open_latch(&slot->latch);
    return false;
  }
  unsigned long long ns = o_.spin_ns;
  void* args[] = {&ns};
  bool ok = check(cuEventRecord(slot->start, stream_), "cuEventRecord");
  if (ok && graph_ != nullptr) ok = check(cuGraphLaunch(graph_, stream_), "cuGraphLaunch");
  else if (ok) ok = check(cuLaunchKernel(spin_, 1, 1, 1, 1, 1, 1, 0, stream_, args, nullptr), "cuLaunchKernel(spin)");
  ok = ok && check(cuEventRecord(slot->end, stream_), "cuEventRecord");
  open_latch(&slot->latch);  // even after an error: the stream must not stay held
  slot->busy = ok;
  return ok;
}

Retired Device::retire(Slot* slot, bool wait, uint64_t* device_ns) {
  if (!slot->busy) return Retired::kIdle;
  const CUresult r = wait ? cuEventSynchronize(slot->end) : cuEventQuery(slot->end);
  if (r == CUDA_ERROR_NOT_READY && !wait) return Retired::kPending;
  if (!check(r, wait ? "cuEventSynchronize" : "cuEventQuery")) return Retired::kError;
  float ms = 0;
  if (!check(cuEventElapsedTime(&ms, slot->start, slot->end), "cuEventElapsedTime")) return Retired::kError;
  slot->busy = false;
  *device_ns = static_cast<uint64_t>(static_cast<double>(ms) * 1e6);
  return Retired::kDone;
}

}  // namespace spin_job
