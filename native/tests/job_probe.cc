// job_probe — a CUDA job that does what its standard input says, for the agent's
// end-to-end tests (java/cli: AgentEndToEndTest) and by hand:
//
//   echo -e 'info\nalloc 1GiB\nexit 3' | gpupool run --memory 2GiB -- job_probe
//
// Commands, one per line; each answers one line on standard output:
//   info              "info devices=<n> total=<bytes> free=<bytes>" (device 0, cuMemGetInfo)
//   alloc <bytes>     "alloc <bytes> -> <CUDA error name>"; a successful block is held
//   vmm <bytes>       "vmm <bytes> -> <CUDA error name>": cuMemCreate of pinned memory on
//                     device 0 (a multiple of its granularity); a successful one is held
//   freeall           "freeall <n>": frees every held block
//   sleep <ms>        "slept <ms>" after that long (a job that holds its grant a while)
//   exit <code>       exits with that code (end of input: exit 0)
// The driver comes from the environment (no RPATH), as for every test program.
#include <cuda.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* name_of(CUresult r) {
  const char* name = nullptr;
  return cuGetErrorName(r, &name) == CUDA_SUCCESS && name != nullptr ? name : "?";
}

unsigned long long parse_bytes(const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  std::string unit = end != nullptr ? end : "";
  while (!unit.empty() && (unit.back() == '\n' || unit.back() == ' ')) unit.pop_back();
  double factor = unit == "KiB" ? 1024.0 : unit == "MiB" ? 1048576.0 : unit == "GiB" ? 1073741824.0 : 1.0;
  return static_cast<unsigned long long>(v * factor);
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CUresult r = cuInit(0);
  CUcontext ctx = nullptr;
  if (r == CUDA_SUCCESS) r = cuDevicePrimaryCtxRetain(&ctx, 0);
  if (r == CUDA_SUCCESS) r = cuCtxSetCurrent(ctx);
  if (r != CUDA_SUCCESS) {
    std::printf("init -> %s\n", name_of(r));
    return 2;
  }
  std::vector<CUdeviceptr> held;
  char line[256];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    if (std::strncmp(line, "info", 4) == 0) {
      int n = 0;
      size_t free_b = 0, total = 0;
      cuDeviceGetCount(&n);
      CUresult q = cuMemGetInfo(&free_b, &total);
      std::printf("info devices=%d total=%zu free=%zu rc=%s\n", n, total, free_b, name_of(q));
    } else if (std::strncmp(line, "alloc ", 6) == 0) {
      unsigned long long bytes = parse_bytes(line + 6);
      CUdeviceptr p = 0;
      CUresult a = cuMemAlloc(&p, bytes);
      if (a == CUDA_SUCCESS) held.push_back(p);
      std::printf("alloc %llu -> %s\n", bytes, name_of(a));
    } else if (std::strncmp(line, "vmm ", 4) == 0) {
      unsigned long long bytes = parse_bytes(line + 4);
      CUmemAllocationProp prop;
      std::memset(&prop, 0, sizeof prop);
      prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
      prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
      prop.location.id = 0;
      CUmemGenericAllocationHandle h = 0;
      CUresult a = cuMemCreate(&h, bytes, &prop, 0);
      std::printf("vmm %llu -> %s\n", bytes, name_of(a));
    } else if (std::strncmp(line, "freeall", 7) == 0) {
      for (CUdeviceptr p : held) cuMemFree(p);
      std::printf("freeall %zu\n", held.size());
      held.clear();
    } else if (std::strncmp(line, "sleep ", 6) == 0) {
      long ms = std::atol(line + 6);
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&ts, nullptr);
      std::printf("slept %ld\n", ms);
    } else if (std::strncmp(line, "exit", 4) == 0) {
      return std::atoi(line + 4);
    } else {
      std::printf("unknown command: %s", line);
    }
  }
  return 0;
}
