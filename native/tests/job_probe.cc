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
//   nvml              "nvml total=<bytes> used=<bytes> rc=<nvmlReturn_t>" for device 0 as
//                     NVML (libnvidia-ml.so.1, opened and looked up with dlsym as
//                     nvidia-smi and pynvml do) reports it, found by its CUDA UUID; or
//                     "nvml unavailable: <why>"
//   sleep <ms>        "slept <ms>" after that long (a job that holds its grant a while)
//   exit <code>       exits with that code (end of input: exit 0)
// The driver comes from the environment (no RPATH), as for every test program.
#include <cuda.h>
#include <dlfcn.h>
#include <gpupool/nvml_abi.h>
#include <gpupool/nvml_uuid.h>
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

// The `nvml` command: device 0's memory as NVML reports it.
void print_nvml() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::printf("nvml unavailable: %s\n", dlerror());
    return;
  }
  auto init = reinterpret_cast<nvmlReturn_t (*)()>(dlsym(lib, "nvmlInit_v2"));
  auto by_uuid = reinterpret_cast<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>(dlsym(lib, "nvmlDeviceGetHandleByUUID"));
  auto info = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(dlsym(lib, "nvmlDeviceGetMemoryInfo"));
  CUdevice dev = 0;
  CUuuid u{};
  if (init == nullptr || by_uuid == nullptr || info == nullptr || cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
      cuDeviceGetUuid(&u, dev) != CUDA_SUCCESS) {
    std::printf("nvml unavailable: an entry point or device 0's UUID is missing\n");
    return;
  }
  char uuid[GPUPOOL_NVML_UUID_TEXT_SIZE];
  gpupool_nvml_uuid_text(reinterpret_cast<const unsigned char*>(u.bytes), uuid);
  nvmlDevice_t device = nullptr;
  nvmlMemory_t memory{};
  nvmlReturn_t r = init();
  if (r == NVML_SUCCESS) r = by_uuid(uuid, &device);
  if (r == NVML_SUCCESS) r = info(device, &memory);
  std::printf("nvml total=%llu used=%llu rc=%d\n", memory.total, memory.used, static_cast<int>(r));
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
    } else if (std::strncmp(line, "nvml", 4) == 0) {
      print_nvml();
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
