// test_sim_nvml.cc — the simulated NVML (native/sim/nvml, libnvidia-ml.so.1)
// behaves as NVML documents and describes the same GPUs as the simulated
// driver. Links only the sim's NVML; opens libcuda.so.1 at run time for the
// comparison and the allocations (nvml_test.h).
//
// ctest runs it with GPUPOOL_SIM_DEVICES=3, GPUPOOL_SIM_MEMORY=2GiB,
// GPUPOOL_SIM_NAME="nvml test GPU" and CUDA_VISIBLE_DEVICES=2,0: NVML must
// still show all three physical devices, and CUDA ordinal 0 must be NVML's
// device 2 (by UUID).
#include <unistd.h>

#include <cstdlib>

#include "nvml_test.h"

namespace {

constexpr unsigned long long kMiB = 1ull << 20;

void before_init() {
  unsigned n = 0;
  nvmlDevice_t d = nullptr;
  NT_CHECK_NVML(nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_ERROR_UNINITIALIZED);
  NT_CHECK_NVML(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
  NT_CHECK(std::string(nvmlErrorString(NVML_ERROR_UNINITIALIZED)) == "Uninitialized");
}

// nvmlInit/nvmlShutdown are reference counted.
void init_refcount() {
  unsigned n = 0;
  NT_CHECK_NVML(nvmlInit_v2(), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlInitWithFlags(0), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlShutdown(), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);  // one init still outstanding
  NT_CHECK_NVML(nvmlShutdown(), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
  NT_CHECK_NVML(nvmlInit(), NVML_SUCCESS);  // the legacy name too; stays for the rest
}

void arguments() {
  unsigned n = 0;
  nvmlDevice_t d = nullptr;
  char buf[96];
  NT_CHECK_NVML(nvmlDeviceGetCount_v2(nullptr), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetCount(&n), NVML_SUCCESS);
  NT_CHECK_EQ(n, 3u);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(3, &d), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(0, nullptr), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetHandleByUUID(nullptr, &d), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-4000-8000-000000000000", &d), NVML_ERROR_NOT_FOUND);
  NT_CHECK_NVML(nvmlDeviceGetName(reinterpret_cast<nvmlDevice_t>(buf), buf, sizeof buf),
                NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex(1, &d), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetName(d, nullptr, 96), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetName(d, buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
  NT_CHECK_NVML(nvmlDeviceGetUUID(d, buf, 40), NVML_ERROR_INSUFFICIENT_SIZE);  // 40 characters + NUL
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d, nullptr), NVML_ERROR_INVALID_ARGUMENT);
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses_v3(d, nullptr, nullptr), NVML_ERROR_INVALID_ARGUMENT);
  nvmlMemory_v2_t v2{};
  v2.version = static_cast<unsigned>(sizeof(nvmlMemory_v2_t)) | (1u << 24);  // version 1: wrong
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo_v2(d, &v2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  int cuda_version = 0;
  NT_CHECK_NVML(nvmlSystemGetCudaDriverVersion_v2(&cuda_version), NVML_SUCCESS);
  NT_CHECK_EQ(cuda_version, CUDA_VERSION);
  NT_CHECK_NVML(nvmlSystemGetDriverVersion(buf, sizeof buf), NVML_SUCCESS);
}

// Identity per device; `cuda_ordinal_of[i]` is the CUDA ordinal of NVML device i (-1: not visible).
void identity(nt::CudaApi& cu, const int* cuda_ordinal_of) {
  for (unsigned i = 0; i < 3; ++i) {
    nvmlDevice_t d = nullptr, again = nullptr;
    char name[96] = {0}, uuid[96] = {0};
    unsigned index = 99;
    nvmlPciInfo_t pci{};
    nvmlMemory_t mem{};
    NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(i, &d), NVML_SUCCESS);
    NT_CHECK_NVML(nvmlDeviceGetIndex(d, &index), NVML_SUCCESS);
    NT_CHECK_EQ(index, i);
    NT_CHECK_NVML(nvmlDeviceGetName(d, name, sizeof name), NVML_SUCCESS);
    NT_CHECK_EQ(std::string(name), std::string("nvml test GPU"));
    NT_CHECK_NVML(nvmlDeviceGetUUID(d, uuid, sizeof uuid), NVML_SUCCESS);
    NT_CHECK_EQ(std::strlen(uuid), 40u);
    NT_CHECK_NVML(nvmlDeviceGetHandleByUUID(uuid, &again), NVML_SUCCESS);
    NT_CHECK(again == d);
    NT_CHECK_NVML(nvmlDeviceGetPciInfo_v3(d, &pci), NVML_SUCCESS);
    NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d, &mem), NVML_SUCCESS);
    NT_CHECK_EQ(mem.total, 2048 * kMiB);
    int ord = cuda_ordinal_of[i];
    if (ord < 0) continue;
    CUuuid cu_uuid{};
    char cu_name[256] = {0}, cu_pci[32] = {0};
    size_t cu_total = 0;
    NT_CHECK(cu.device_uuid(&cu_uuid, ord) == CUDA_SUCCESS);
    NT_CHECK(cu.device_name(cu_name, sizeof cu_name, ord) == CUDA_SUCCESS);
    NT_CHECK(cu.pci_bus_id(cu_pci, sizeof cu_pci, ord) == CUDA_SUCCESS);
    NT_CHECK(cu.total_mem(&cu_total, ord) == CUDA_SUCCESS);
    NT_CHECK_EQ(std::string(uuid), nt::uuid_text(cu_uuid));
    NT_CHECK_EQ(std::string(name), std::string(cu_name));
    NT_CHECK_EQ(std::string(pci.busIdLegacy), std::string(cu_pci));
    NT_CHECK_EQ(mem.total, cu_total);
  }
}

// Used memory and the process list follow this process's allocations.
void usage(nt::CudaApi& cu) {
  nvmlDevice_t d2 = nullptr, d1 = nullptr;
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(2, &d2), NVML_SUCCESS);  // CUDA ordinal 0
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(1, &d1), NVML_SUCCESS);  // not visible to CUDA
  unsigned count = 0;
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses_v3(d2, &count, nullptr), NVML_SUCCESS);
  NT_CHECK_EQ(count, 0u);

  CUcontext ctx = nullptr;
  CUdeviceptr p = 0;
  if (!NT_CHECK(cu.primary_retain(&ctx, 0) == CUDA_SUCCESS)) return;
  NT_CHECK(cu.set_current(ctx) == CUDA_SUCCESS);
  if (!NT_CHECK(cu.mem_alloc(&p, 256 * kMiB) == CUDA_SUCCESS)) return;

  nvmlMemory_t m{};
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d2, &m), NVML_SUCCESS);
  NT_CHECK_EQ(m.used, 256 * kMiB);
  NT_CHECK_EQ(m.free, 1792 * kMiB);
  size_t cu_free = 0, cu_total = 0;
  NT_CHECK(cu.mem_get_info(&cu_free, &cu_total) == CUDA_SUCCESS);
  NT_CHECK_EQ(m.free, cu_free);
  nvmlMemory_v2_t v2{};
  v2.version = nvmlMemory_v2;
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo_v2(d2, &v2), NVML_SUCCESS);
  NT_CHECK_EQ(v2.total, 2048 * kMiB);
  NT_CHECK_EQ(v2.reserved, 0ull);
  NT_CHECK_EQ(v2.used, 256 * kMiB);
  NT_CHECK_EQ(v2.free, 1792 * kMiB);
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d1, &m), NVML_SUCCESS);
  NT_CHECK_EQ(m.used, 0ull);

  count = 0;
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses_v3(d2, &count, nullptr), NVML_ERROR_INSUFFICIENT_SIZE);
  NT_CHECK_EQ(count, 1u);
  nvmlProcessInfo_t infos[4] = {};
  count = 4;
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses_v3(d2, &count, infos), NVML_SUCCESS);
  NT_CHECK_EQ(count, 1u);
  NT_CHECK_EQ(infos[0].pid, static_cast<unsigned>(getpid()));
  NT_CHECK_EQ(infos[0].usedGpuMemory, 256 * kMiB);
  NT_CHECK_EQ(infos[0].gpuInstanceId, 0xFFFFFFFFu);
  nvmlProcessInfo_v1_t v1[2] = {};
  count = 2;
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses(d2, &count, v1), NVML_SUCCESS);
  NT_CHECK_EQ(count, 1u);
  NT_CHECK_EQ(v1[0].usedGpuMemory, 256 * kMiB);
  count = 2;
  NT_CHECK_NVML(nvmlDeviceGetComputeRunningProcesses_v3(d1, &count, infos), NVML_SUCCESS);
  NT_CHECK_EQ(count, 0u);

  NT_CHECK(cu.mem_free(p) == CUDA_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d2, &m), NVML_SUCCESS);
  NT_CHECK_EQ(m.used, 0ull);
  cu.set_current(nullptr);
  cu.primary_release(0);
}

}  // namespace

int main() {
  before_init();
  init_refcount();
  arguments();
  nvmlDevice_t d0 = nullptr;
  nvmlMemory_t m{};
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(0, &d0), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d0, &m), NVML_SUCCESS);  // no driver loaded: nothing used
  NT_CHECK_EQ(m.used, 0ull);
  NT_CHECK_EQ(m.free, m.total);
  nt::CudaApi cu;
  if (!cu.open() || cu.init(0) != CUDA_SUCCESS) return 1;
  int cuda_ordinal_of[3] = {1, -1, 0};  // CUDA_VISIBLE_DEVICES=2,0
  identity(cu, cuda_ordinal_of);
  usage(cu);
  NT_CHECK_NVML(nvmlShutdown(), NVML_SUCCESS);
  return nt::finish();
}
