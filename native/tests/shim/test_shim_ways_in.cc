// The quota holds however the job reaches the driver: a direct call,
// dlsym on a handle of libcuda.so.1, dlsym(RTLD_DEFAULT), dlsym(RTLD_NEXT),
// cuGetProcAddress_v2 (looked up before cuInit, as cudart does), the CUDA 11.3
// cuGetProcAddress, and cuGetProcAddress looked up through itself. Each path's
// cuMemGetInfo and cuDeviceTotalMem show the quota. The ABI variants that
// cuGetProcAddress hands out under the shim are as distinct as the driver's own
// (a hook chosen by base name would merge them).
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include <dlfcn.h>

#include "shim_test.h"

namespace {

using AllocFn = CUresult (*)(CUdeviceptr*, size_t);
using FreeFn = CUresult (*)(CUdeviceptr);
using InfoFn = CUresult (*)(size_t*, size_t*);
using TotalFn = CUresult (*)(size_t*, CUdevice);
using AllocAsyncFn = CUresult (*)(CUdeviceptr*, size_t, CUstream);
using FreeAsyncFn = CUresult (*)(CUdeviceptr, CUstream);
using ProcV2Fn = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
using ProcV1Fn = CUresult (*)(const char*, void**, int, cuuint64_t);

struct Path {
  std::string name;
  AllocFn alloc = nullptr;
  FreeFn free = nullptr;
  InfoFn info = nullptr;
  TotalFn total = nullptr;
};

template <typename F>
F sym(void* handle, const char* name) {
  return reinterpret_cast<F>(dlsym(handle, name));
}

Path by_dlsym(const std::string& name, void* handle) {
  Path p{name};
  p.alloc = sym<AllocFn>(handle, "cuMemAlloc_v2");
  p.free = sym<FreeFn>(handle, "cuMemFree_v2");
  p.info = sym<InfoFn>(handle, "cuMemGetInfo_v2");
  p.total = sym<TotalFn>(handle, "cuDeviceTotalMem_v2");
  return p;
}

template <typename F>
F proc_v2(ProcV2Fn lookup, const char* base, int version = CUDA_VERSION, cuuint64_t flags = 0) {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CUresult r = lookup(base, &fn, version, flags, &status);
  if (r != CUDA_SUCCESS || status != CU_GET_PROC_ADDRESS_SUCCESS)
    dt::info("cuGetProcAddress_v2(%s, %d, %llu) -> %d, status %d", base, version,
             static_cast<unsigned long long>(flags), r, status);
  return reinterpret_cast<F>(fn);
}

Path by_proc_v2(const std::string& name, ProcV2Fn lookup) {
  Path p{name};
  p.alloc = proc_v2<AllocFn>(lookup, "cuMemAlloc");
  p.free = proc_v2<FreeFn>(lookup, "cuMemFree");
  p.info = proc_v2<InfoFn>(lookup, "cuMemGetInfo");
  p.total = proc_v2<TotalFn>(lookup, "cuDeviceTotalMem");
  return p;
}

Path by_proc_v1(const std::string& name, ProcV1Fn lookup) {
  Path p{name};
  auto get = [&](const char* base) {
    void* fn = nullptr;
    CUresult r = lookup(base, &fn, CUDA_VERSION, 0);
    if (r != CUDA_SUCCESS) dt::info("cuGetProcAddress(%s) -> %d", base, r);
    return fn;
  };
  p.alloc = reinterpret_cast<AllocFn>(get("cuMemAlloc"));
  p.free = reinterpret_cast<FreeFn>(get("cuMemFree"));
  p.info = reinterpret_cast<InfoFn>(get("cuMemGetInfo"));
  p.total = reinterpret_cast<TotalFn>(get("cuDeviceTotalMem"));
  return p;
}

// The quota as seen and enforced through one path.
void check_path(const Path& p, CUdevice dev, size_t quota) {
  std::string title = "path: " + p.name;
  dt::section(title.c_str());
  bool complete = p.alloc && p.free && p.info && p.total;
  CHECK_MSG(complete, p.name + ": an entry point was not found");
  if (!complete) return;

  size_t free = 0, total = 0;
  CHECK_CU(p.info(&free, &total), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  CHECK_EQ(free, quota);
  size_t dev_total = 0;
  CHECK_CU(p.total(&dev_total, dev), CUDA_SUCCESS);
  CHECK_EQ(dev_total, quota);

  CUdeviceptr a = 0, b = 0;
  CHECK_CU(p.alloc(&a, quota + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(p.alloc(&a, quota), CUDA_SUCCESS);
  CHECK_CU(p.info(&free, &total), CUDA_SUCCESS);
  CHECK_EQ(free, size_t{0});
  CHECK_CU(p.alloc(&b, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&b, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);  // the direct path agrees
  CHECK_CU(p.free(a), CUDA_SUCCESS);
  CHECK_CU(p.info(&free, &total), CUDA_SUCCESS);
  CHECK_EQ(free, quota);

  // Half through this path, half directly; freed across paths.
  CHECK_CU(p.alloc(&a, quota / 2), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&b, quota / 2 + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&b, quota / 2), CUDA_SUCCESS);
  CHECK_CU(p.alloc(&b, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(p.free(b), CUDA_SUCCESS);
  CHECK_CU(cuMemGetInfo(&free, &total), CUDA_SUCCESS);
  CHECK_EQ(free, quota);
}

// The stream-ordered allocator reached per thread (cuMemAllocAsync_ptsz), by
// cuGetProcAddress with the per-thread flag and by dlsym.
void check_per_thread_async(ProcV2Fn lookup, size_t quota) {
  dt::section("per-thread default stream variants of cuMemAllocAsync");
  struct Variant {
    const char* name;
    AllocAsyncFn alloc;
    FreeAsyncFn free;
  } variants[] = {
      {"cuGetProcAddress_v2(PER_THREAD)",
       proc_v2<AllocAsyncFn>(lookup, "cuMemAllocAsync", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM),
       proc_v2<FreeAsyncFn>(lookup, "cuMemFreeAsync", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)},
      {"dlsym(RTLD_DEFAULT, cuMemAllocAsync_ptsz)", sym<AllocAsyncFn>(RTLD_DEFAULT, "cuMemAllocAsync_ptsz"),
       sym<FreeAsyncFn>(RTLD_DEFAULT, "cuMemFreeAsync_ptsz")},
  };
  for (const auto& v : variants) {
    dt::info("%s", v.name);
    CHECK(v.alloc != nullptr && v.free != nullptr);
    if (!v.alloc || !v.free) continue;
    CUdeviceptr a = 0, b = 0;
    CHECK_CU(v.alloc(&a, quota + 2 * st::kMiB, CU_STREAM_PER_THREAD), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(v.alloc(&a, quota, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    CHECK_CU(cuMemAlloc(&b, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(v.free(a, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    CHECK_CU(cuMemAlloc(&b, quota), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  }
}

// Lookups whose answers differ between ABI variants (versions, per-thread).
struct Query {
  const char* base;
  int version;
  cuuint64_t flags;
};
const Query kQueries[] = {
    {"cuMemAlloc", 3000, 0},         {"cuMemAlloc", 3020, 0},
    {"cuMemAlloc", CUDA_VERSION, 0}, {"cuMemGetInfo", 3000, 0},
    {"cuMemGetInfo", CUDA_VERSION, 0}, {"cuMemFree", 3000, 0},
    {"cuMemFree", CUDA_VERSION, 0},  {"cuCtxCreate", 3000, 0},
    {"cuCtxCreate", 11040, 0},       {"cuCtxCreate", 12050, 0},
    {"cuCtxCreate", CUDA_VERSION, 0}, {"cuMemAllocAsync", CUDA_VERSION, 0},
    {"cuMemAllocAsync", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM},
    {"cuMemcpyHtoDAsync", CUDA_VERSION, 0},
    {"cuMemcpyHtoDAsync", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM},
    {"cuLaunchKernel", CUDA_VERSION, 0},
    {"cuLaunchKernel", CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM},
    {"cuDeviceTotalMem", 3000, 0},   {"cuDeviceTotalMem", CUDA_VERSION, 0},
    {"cuMemAllocPitch", 3000, 0},    {"cuMemAllocPitch", CUDA_VERSION, 0},
    {"cuArrayCreate", 3000, 0},      {"cuArrayCreate", CUDA_VERSION, 0},
    {"cuNoSuchEntryPoint", CUDA_VERSION, 0},
};

// One line per query: "<result> <status> <index of the first query that
// returned the same pointer, or -1 for NULL>". Same lines with and without the
// shim = the shim hands out one function per driver variant.
std::string variant_shape() {
  std::vector<void*> fns;
  std::string out;
  for (const Query& q : kQueries) {
    void* fn = nullptr;
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    CUresult r = cuGetProcAddress_v2(q.base, &fn, q.version, q.flags, &status);
    int same = -1;
    if (fn) {
      for (size_t i = 0; i < fns.size(); ++i)
        if (fns[i] == fn) {
          same = static_cast<int>(i);
          break;
        }
      if (same < 0) same = static_cast<int>(fns.size());
    }
    fns.push_back(fn);
    char line[160];
    std::snprintf(line, sizeof line, "%s/%d/%llu: %d %d %d\n", q.base, q.version,
                  static_cast<unsigned long long>(q.flags), r, status, same);
    out += line;
  }
  return out;
}

int probe_variants() {
  std::fputs(variant_shape().c_str(), stdout);
  return 0;
}

void check_variants() {
  dt::section("cuGetProcAddress keeps ABI variants apart (compared with the driver alone)");
  st::SpawnOptions o;
  o.env.no_shim();
  o.capture_stdout = true;
  st::Child c = st::spawn_self("probe-variants", {}, o);
  std::string driver = st::read_all(c.out_fd);
  CHECK_EQ(st::wait_child(c.pid), 0);
  std::string shim = variant_shape();
  CHECK_EQ(shim, driver);
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "probe-variants") return probe_variants();

  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 16 * st::kMiB);

  // cudart looks entry points up before cuInit: so does this path.
  dt::section("cuGetProcAddress_v2 before cuInit");
  Path proc = by_proc_v2("cuGetProcAddress_v2 (looked up before cuInit)", &cuGetProcAddress_v2);
  CHECK(proc.alloc != nullptr);

  CUdevice dev = dt::init_primary();

  void* libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!libcuda) CHECK_MSG(false, std::string("dlopen(libcuda.so.1): ") + dlerror());

  // The same driver opened by its full path (as some loaders do).
  std::string full_path;
  {
    std::string maps;
    dt::read_file("/proc/self/maps", &maps);
    // The mapped file: libcuda.so.1 in the sim's build, libcuda.so.<version> on a GPU host.
    size_t at = maps.find("/libcuda.so");
    if (at != std::string::npos) {
      size_t begin = maps.rfind(' ', at) + 1;
      size_t end = maps.find('\n', at);
      full_path = maps.substr(begin, end - begin);
    }
  }
  void* by_path = full_path.empty() ? nullptr : dlopen(full_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  CHECK_MSG(by_path != nullptr, "dlopen of the driver by its path (" + full_path + ")");

  std::vector<Path> paths;
  paths.push_back(Path{"direct call", &cuMemAlloc, &cuMemFree, &cuMemGetInfo, &cuDeviceTotalMem});
  if (libcuda) paths.push_back(by_dlsym("dlsym(dlopen(\"libcuda.so.1\"))", libcuda));
  if (by_path) paths.push_back(by_dlsym("dlsym(dlopen(\"" + full_path + "\"))", by_path));
  paths.push_back(by_dlsym("dlsym(RTLD_DEFAULT)", RTLD_DEFAULT));
  paths.push_back(by_dlsym("dlsym(RTLD_NEXT)", RTLD_NEXT));
  paths.push_back(proc);
  if (libcuda) {
    auto v2 = sym<ProcV2Fn>(libcuda, "cuGetProcAddress_v2");
    CHECK(v2 != nullptr);
    if (v2) paths.push_back(by_proc_v2("dlsym(libcuda, cuGetProcAddress_v2) -> cuGetProcAddress_v2", v2));
    auto v1 = sym<ProcV1Fn>(libcuda, "cuGetProcAddress");
    CHECK(v1 != nullptr);
    if (v1) paths.push_back(by_proc_v1("cuGetProcAddress (CUDA 11.3 form)", v1));
  }
  // cuGetProcAddress looked up through itself, then used.
  if (auto self = proc_v2<ProcV2Fn>(&cuGetProcAddress_v2, "cuGetProcAddress", CUDA_VERSION)) {
    paths.push_back(by_proc_v2("cuGetProcAddress_v2 -> \"cuGetProcAddress\" -> lookups", self));
  } else {
    CHECK_MSG(false, "cuGetProcAddress_v2(\"cuGetProcAddress\") found nothing");
  }

  for (const Path& p : paths) check_path(p, dev, quota);
  check_per_thread_async(&cuGetProcAddress_v2, quota);
  check_variants();

  if (libcuda) dlclose(libcuda);
  if (by_path) dlclose(by_path);
  dt::release_primary(dev);
  return dt::finish();
}
