// fork() in the host process cannot deadlock the shim: while two threads
// hammer cuMemAlloc/cuMemFree (and cuMemGetInfo, dlsym, cuGetProcAddress), the
// main thread forks 200 times; each child calls shim-hooked functions — which
// fail in a forked child, as the driver does not survive fork, but must return
// — and exits. Every 20th child execs this program instead, which initialises
// the driver and allocates within the job's quota. Afterwards the parent's
// accounting is intact. Bounded: each child has 10 s, the test 50 s.
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include <dlfcn.h>

#include "shim_test.h"

namespace {

constexpr size_t kStep = 2 * st::kMiB;
constexpr int kForks = 200;

// In a forked child: hooked calls must return (any result but success).
[[noreturn]] void forked_child() {
  CUdeviceptr p = 0;
  size_t f = 0, t = 0;
  CUresult r1 = cuMemGetInfo(&f, &t);
  CUresult r2 = cuMemAlloc(&p, kStep);
  void* sym = dlsym(RTLD_DEFAULT, "cuMemAlloc_v2");
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status;
  cuGetProcAddress_v2("cuMemAlloc", &fn, CUDA_VERSION, 0, &status);
  CUresult r3 = cuMemFree(p);
  (void)r3;
  int rc = 0;
  if (r1 == CUDA_SUCCESS || r2 == CUDA_SUCCESS) rc = 5;  // a forked child has no driver
  if (sym == nullptr) rc = 6;
  _exit(rc);
}

// Role "exec-child": a fresh process of the job allocates within the quota.
int exec_child(size_t bytes) {
  CUdevice dev = dt::init_primary();
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, bytes), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  if (argc > 2 && std::string(argv[1]) == "exec-child") return exec_child(std::stoull(argv[2]));

  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 16 * st::kMiB);
  CUcontext ctx = nullptr;
  CUdevice dev = dt::init_primary(&ctx);

  std::atomic<bool> stop{false};
  std::atomic<long> ops{0}, bad{0};
  std::vector<std::thread> hammers;
  for (int t = 0; t < 2; ++t) {
    hammers.emplace_back([&, t] {
      cuCtxSetCurrent(ctx);
      while (!stop.load()) {
        CUdeviceptr p = 0;
        CUresult r = cuMemAlloc(&p, kStep);
        if (r == CUDA_SUCCESS) r = cuMemFree(p);
        if (r != CUDA_SUCCESS) ++bad;
        size_t f = 0, tot = 0;
        if (cuMemGetInfo(&f, &tot) != CUDA_SUCCESS) ++bad;
        if (t == 1) {
          void* fn = nullptr;
          CUdriverProcAddressQueryResult status;
          cuGetProcAddress_v2("cuMemAlloc", &fn, CUDA_VERSION, 0, &status);
          if (dlsym(RTLD_DEFAULT, "cuMemFree_v2") == nullptr) ++bad;
        }
        ++ops;
      }
    });
  }

  dt::section("fork while two threads are inside the shim");
  int hung = 0, failed = 0, exec_failed = 0;
  double t0 = dt::now_ms();
  for (int i = 0; i < kForks; ++i) {
    if (i % 20 == 19) {
      st::SpawnOptions o;
      o.capture_stdout = true;
      st::Child c = st::spawn_self("exec-child", {std::to_string(quota / 2)}, o);
      std::string out = st::read_all(c.out_fd);
      int rc = st::wait_child(c.pid, 10000);
      if (rc == -1) ++hung;
      else if (rc != 0) ++exec_failed, std::printf("%s", out.c_str());
      continue;
    }
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) forked_child();
    int rc = st::wait_child(pid, 10000);
    if (rc == -1) ++hung;
    else if (rc != 0) {
      if (failed++ < 3) std::printf("   forked child %d exited with %d\n", i, rc);
    }
  }
  dt::info("%d forks in %.0f ms; %ld alloc/free rounds meanwhile", kForks, dt::now_ms() - t0, ops.load());
  CHECK_EQ(hung, 0);
  CHECK_EQ(failed, 0);
  CHECK_EQ(exec_failed, 0);
  stop = true;
  for (auto& t : hammers) t.join();
  CHECK_EQ(bad.load(), 0L);

  dt::section("the parent's accounting afterwards");
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.free, quota);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, quota), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
