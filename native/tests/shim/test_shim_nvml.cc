// test_shim_nvml.cc — what NVML shows inside a job (nvidia-smi, pynvml): the
// shim's nvmlDeviceGetMemoryInfo / _v2 hooks over the simulated NVML.
// One program, one scenario per argument (each a ctest with its environment):
//   limit      2 devices of 4GiB, GPUPOOL_VISIBLE_DEVICES=1,
//              GPUPOOL_MEMORY_LIMIT=1GiB: the job's device is NVML device 1
//              (found by UUID: NVML ignores CUDA_VISIBLE_DEVICES). Before the
//              program touches CUDA, NVML shows total 1GiB, used 0; after it
//              allocates 256MiB through CUDA, used and free are what
//              cuMemGetInfo shows; v2 too; a wrong struct version still gets
//              the real library's error; dlsym on a dlopened NVML hands out
//              the hooks; NVML device 0 keeps the real numbers; a second
//              process of the job holding 128MiB counts in used.
//   unlimited  2 devices of 4GiB, no limit: the real (sim) numbers throughout.
// The program does not link the driver: until it opens libcuda.so.1 itself
// (nvml_test.h CudaApi) it is an NVML-only program, as nvidia-smi is.
#include <dlfcn.h>

#include "nvml_test.h"
#include "shim_test.h"

namespace {

constexpr unsigned long long kMiB = 1ull << 20;
constexpr unsigned long long kGiB = 1ull << 30;

nvmlMemory_t mem(nvmlDevice_t d) {
  nvmlMemory_t m{};
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(d, &m), NVML_SUCCESS);
  return m;
}

nvmlMemory_v2_t mem_v2(nvmlDevice_t d) {
  nvmlMemory_v2_t m{};
  m.version = nvmlMemory_v2;
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo_v2(d, &m), NVML_SUCCESS);
  return m;
}

void expect(const nvmlMemory_t& m, unsigned long long total, unsigned long long used) {
  NT_CHECK_EQ(m.total, total);
  NT_CHECK_EQ(m.used, used);
  NT_CHECK_EQ(m.free, total - used);
}

void expect_v2(const nvmlMemory_v2_t& m, unsigned long long total, unsigned long long used) {
  NT_CHECK_EQ(m.total, total);
  NT_CHECK_EQ(m.reserved, 0ull);  // the sim reserves nothing
  NT_CHECK_EQ(m.used, used);
  NT_CHECK_EQ(m.free, total - used);
}

// The library a function's code lives in (its file name).
std::string library_of(void* fn) {
  Dl_info info;
  if (fn == nullptr || dladdr(fn, &info) == 0 || info.dli_fname == nullptr) return "(none)";
  std::string path = info.dli_fname;
  return path.substr(path.find_last_of('/') + 1);
}

// NVML as nvidia-smi and pynvml reach it: dlopen and dlsym.
void through_dlsym(nvmlDevice_t job_device, unsigned long long total, unsigned long long used) {
  void* h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!NT_CHECK(h != nullptr)) return;
  auto v1 = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(h, "nvmlDeviceGetMemoryInfo"));
  auto v2 = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo_v2)>(dlsym(h, "nvmlDeviceGetMemoryInfo_v2"));
  NT_CHECK_EQ(library_of(reinterpret_cast<void*>(v1)), std::string("libgpupool-shim.so"));
  NT_CHECK_EQ(library_of(reinterpret_cast<void*>(v2)), std::string("libgpupool-shim.so"));
  // Not hooked: the real library's own entry point.
  NT_CHECK_EQ(library_of(dlsym(h, "nvmlDeviceGetUUID")), std::string("libnvidia-ml.so.1"));
  if (v1 == nullptr || v2 == nullptr) return;
  nvmlMemory_t m{};
  NT_CHECK_NVML(v1(job_device, &m), NVML_SUCCESS);
  expect(m, total, used);
  nvmlMemory_v2_t m2{};
  m2.version = nvmlMemory_v2;
  NT_CHECK_NVML(v2(job_device, &m2), NVML_SUCCESS);
  expect_v2(m2, total, used);
  dlclose(h);
}

// Opens the driver, makes device 0's primary context current and allocates 256 MiB
// through CUDA (checked); false when the test cannot go on.
bool allocate_256_mib(nt::CudaApi& cu, CUdeviceptr* p) {
  if (!cu.open() || !NT_CHECK(cu.init(0) == CUDA_SUCCESS)) return false;
  CUcontext ctx = nullptr;
  NT_CHECK(cu.primary_retain(&ctx, 0) == CUDA_SUCCESS);
  NT_CHECK(cu.set_current(ctx) == CUDA_SUCCESS);
  return NT_CHECK(cu.mem_alloc(p, 256 * kMiB) == CUDA_SUCCESS);
}

int limit() {
  NT_CHECK_NVML(nvmlInit_v2(), NVML_SUCCESS);
  nvmlDevice_t other = nullptr, job_device = nullptr;
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(0, &other), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(1, &job_device), NVML_SUCCESS);

  // No CUDA call yet: the quota already shows.
  expect(mem(job_device), kGiB, 0);
  expect_v2(mem_v2(job_device), kGiB, 0);
  expect(mem(other), 4 * kGiB, 0);
  nvmlMemory_v2_t wrong{};
  wrong.version = static_cast<unsigned>(sizeof(nvmlMemory_v2_t)) | (1u << 24);
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo_v2(job_device, &wrong), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  NT_CHECK_NVML(nvmlDeviceGetMemoryInfo(job_device, nullptr), NVML_ERROR_INVALID_ARGUMENT);
  through_dlsym(job_device, kGiB, 0);

  nt::CudaApi cu;
  CUdeviceptr p = 0;
  if (!allocate_256_mib(cu, &p)) return nt::finish();
  size_t cu_free = 0, cu_total = 0;
  NT_CHECK(cu.mem_get_info(&cu_free, &cu_total) == CUDA_SUCCESS);
  NT_CHECK_EQ(static_cast<unsigned long long>(cu_total), kGiB);
  // The shim charges nothing for the context: used is exactly the allocation.
  NT_CHECK_EQ(static_cast<unsigned long long>(cu_total - cu_free), 256 * kMiB);
  nvmlMemory_t m = mem(job_device);
  expect(m, kGiB, 256 * kMiB);
  NT_CHECK_EQ(m.free, static_cast<unsigned long long>(cu_free));
  NT_CHECK_EQ(m.total, static_cast<unsigned long long>(cu_total));
  expect_v2(mem_v2(job_device), kGiB, 256 * kMiB);
  through_dlsym(job_device, kGiB, 256 * kMiB);
  expect(mem(other), 4 * kGiB, 0);  // another device: the real numbers

  // The job's usage is that of all its processes, as for cuMemGetInfo.
  st::SpawnOptions o;
  o.capture_stdout = true;
  o.pipe_stdin = true;
  st::Child holder = st::spawn_self("hold", {}, o);
  NT_CHECK_EQ(st::read_line(holder.out_fd), std::string("holding"));
  expect(mem(job_device), kGiB, 384 * kMiB);
  NT_CHECK(cu.mem_get_info(&cu_free, &cu_total) == CUDA_SUCCESS);
  NT_CHECK_EQ(mem(job_device).free, static_cast<unsigned long long>(cu_free));
  st::write_line(holder.in_fd, "release");
  close(holder.in_fd);
  NT_CHECK_EQ(st::wait_child(holder.pid), 0);

  NT_CHECK(cu.mem_free(p) == CUDA_SUCCESS);
  expect(mem(job_device), kGiB, 0);
  cu.set_current(nullptr);
  cu.primary_release(0);
  NT_CHECK_NVML(nvmlShutdown(), NVML_SUCCESS);
  return nt::finish();
}

// Role "hold" (same job, under the shim): allocates 128MiB, says "holding",
// frees on "release".
int hold() {
  nt::CudaApi cu;
  CUcontext ctx = nullptr;
  CUdeviceptr p = 0;
  if (!cu.open() || cu.init(0) != CUDA_SUCCESS || cu.primary_retain(&ctx, 0) != CUDA_SUCCESS ||
      cu.set_current(ctx) != CUDA_SUCCESS || cu.mem_alloc(&p, 128 * kMiB) != CUDA_SUCCESS)
    return 2;
  st::write_line(1, "holding");
  if (st::read_line(0) != "release") return 3;
  return cu.mem_free(p) == CUDA_SUCCESS ? 0 : 4;
}

int unlimited() {
  NT_CHECK_NVML(nvmlInit_v2(), NVML_SUCCESS);
  nvmlDevice_t d0 = nullptr, d1 = nullptr;
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(0, &d0), NVML_SUCCESS);
  NT_CHECK_NVML(nvmlDeviceGetHandleByIndex_v2(1, &d1), NVML_SUCCESS);
  expect(mem(d0), 4 * kGiB, 0);
  nt::CudaApi cu;
  CUdeviceptr p = 0;
  if (!allocate_256_mib(cu, &p)) return nt::finish();
  expect(mem(d0), 4 * kGiB, 256 * kMiB);
  expect_v2(mem_v2(d0), 4 * kGiB, 256 * kMiB);
  through_dlsym(d0, 4 * kGiB, 256 * kMiB);
  expect(mem(d1), 4 * kGiB, 0);
  NT_CHECK(cu.mem_free(p) == CUDA_SUCCESS);
  cu.set_current(nullptr);
  cu.primary_release(0);
  NT_CHECK_NVML(nvmlShutdown(), NVML_SUCCESS);
  return nt::finish();
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  std::string role = argc > 1 ? argv[1] : "";
  if (role == "limit") return limit();
  if (role == "unlimited") return unlimited();
  if (role == "hold") return hold();
  std::printf("usage: %s limit|unlimited\n", argv[0]);
  return 2;
}
