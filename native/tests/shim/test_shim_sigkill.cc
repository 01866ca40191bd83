// The usage of a job's process killed with SIGKILL is reclaimed:
//   - a child holds 80% of the quota (through several allocation paths), is
//     killed; the parent then gets 80%, and cuMemGetInfo agrees;
//   - a process started after a kill sees the dead one's usage gone;
//   - children killed at random moments while hammering alloc/free from four
//     threads (so possibly inside the shim) leave neither usage nor a lock
//     behind: the parent gets the whole quota each time.
//
// ctest: GPUPOOL_MEMORY_LIMIT=100MiB.
#include <random>

#include "shim_test.h"

namespace {

constexpr size_t kStep = 2 * st::kMiB;

// Role "hog <bytes>": takes <bytes> in four ways, says "holding", sleeps.
int hog(size_t bytes) {
  CUdevice dev = dt::init_primary();
  size_t quarter = bytes / 4 / kStep * kStep;
  size_t rest = bytes - 3 * quarter;
  CUdeviceptr a = 0, b = 0, c = 0;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  CUmemGenericAllocationHandle h = 0;
  bool ok = CHECK_CU(cuMemAlloc(&a, rest), CUDA_SUCCESS) &&
            CHECK_CU(cuMemAllocManaged(&b, quarter, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS) &&
            CHECK_CU(cuMemCreate(&h, quarter, &prop, 0), CUDA_SUCCESS) &&
            CHECK_CU(cuMemAllocAsync(&c, quarter, nullptr), CUDA_SUCCESS) &&
            CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  st::write_line(1, ok ? "holding" : "failed");
  for (;;) pause();
}

// Role "hammer": four threads allocate and free 2 MiB pieces until killed.
int hammer() {
  CUcontext ctx = nullptr;
  dt::init_primary(&ctx);
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      cuCtxSetCurrent(ctx);
      ++started;
      std::vector<CUdeviceptr> held;
      for (unsigned i = 0;; ++i) {
        CUdeviceptr p = 0;
        if (cuMemAlloc(&p, kStep) == CUDA_SUCCESS) held.push_back(p);
        if (held.size() > static_cast<size_t>(2 + t) || (i % 3 == 0 && !held.empty())) {
          cuMemFree(held.back());
          held.pop_back();
        }
      }
    });
  }
  while (started.load() < 4) usleep(100);
  st::write_line(1, "holding");
  for (auto& t : threads) t.join();
  return 0;
}

st::Child start(const std::string& role, const std::vector<std::string>& args) {
  st::SpawnOptions o;
  o.capture_stdout = true;
  return st::spawn_self(role, args, o);
}

bool wait_holding(const st::Child& c) {
  std::string line = st::read_line(c.out_fd);
  if (line != "holding") std::printf("   child said: %s\n", line.c_str());
  return line == "holding";
}

void kill_child(st::Child& c) {
  kill(c.pid, SIGKILL);
  CHECK_EQ(st::wait_child(c.pid), 128 + SIGKILL);
  close(c.out_fd);
}

// Role "free-is <bytes>": a new process of the job sees <bytes> free.
int free_is(size_t expected) {
  CUdevice dev = dt::init_primary();
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.free, expected);
  dt::release_primary(dev);
  return dt::finish();
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  std::string role = argc > 1 ? argv[1] : "";
  if (role == "hog" && argc > 2) return hog(std::stoull(argv[2]));
  if (role == "hammer") return hammer();
  if (role == "exit-holding" && argc > 2) {  // allocates and exits without freeing
    dt::init_primary();
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, std::stoull(argv[2])), CUDA_SUCCESS);
    return dt::finish();
  }
  if (role == "free-is" && argc > 2) return free_is(std::stoull(argv[2]));

  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 32 * st::kMiB);
  const size_t part = (quota * 8 / 10) / kStep * kStep;
  CUdevice dev = dt::init_primary();

  dt::section("a child holding 80% is SIGKILLed; the parent then gets 80%");
  {
    st::Child c = start("hog", {std::to_string(part)});
    REQUIRE(wait_holding(c));
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, quota - part + kStep), CUDA_ERROR_OUT_OF_MEMORY);  // the child's usage counts
    kill_child(c);
    st::MemInfo m = st::mem_info();
    dt::info("cuMemGetInfo right after the kill: free %s", st::mib(m.free).c_str());
    CHECK_CU(cuMemAlloc(&p, part), CUDA_SUCCESS);
    m = st::mem_info();
    CHECK_EQ(m.free, quota - part);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }

  dt::section("a process started after a kill sees the dead one's usage gone");
  {
    CUdeviceptr mine = 0;
    CHECK_CU(cuMemAlloc(&mine, kStep), CUDA_SUCCESS);
    st::Child c = start("hog", {std::to_string(part)});
    REQUIRE(wait_holding(c));
    kill_child(c);
    st::Child probe = start("free-is", {std::to_string(quota - kStep)});
    std::string out = st::read_all(probe.out_fd);
    int rc = st::wait_child(probe.pid);
    if (rc != 0) std::printf("%s", out.c_str());
    CHECK_EQ(rc, 0);
    CHECK_CU(cuMemFree(mine), CUDA_SUCCESS);
  }

  dt::section("a child that exits without freeing leaves nothing charged");
  {
    st::Child c = start("exit-holding", {std::to_string(part)});
    std::string out = st::read_all(c.out_fd);
    int rc = st::wait_child(c.pid);
    if (rc != 0) std::printf("%s", out.c_str());
    CHECK_EQ(rc, 0);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, quota), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }

  dt::section("two children killed together");
  {
    st::Child c1 = start("hog", {std::to_string(quota / 2)});
    REQUIRE(wait_holding(c1));
    st::Child c2 = start("hog", {std::to_string(quota / 2 / kStep * kStep)});
    REQUIRE(wait_holding(c2));
    kill_child(c1);
    kill_child(c2);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, quota), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }

  dt::section("children killed at random moments inside alloc/free loops");
  std::mt19937 rng(12345);
  for (int round = 0; round < 10; ++round) {
    st::Child c = start("hammer", {});
    if (!wait_holding(c)) {
      CHECK_MSG(false, "hammer child did not start");
      kill_child(c);
      break;
    }
    usleep(1000 + rng() % 20000);
    kill_child(c);
    CUdeviceptr p = 0;
    double t0 = dt::now_ms();
    CUresult r = cuMemAlloc(&p, quota);
    CHECK_MSG(r == CUDA_SUCCESS, "round " + std::to_string(round) + ": cuMemAlloc(quota) -> " + dt::result_name(r));
    double ms = dt::now_ms() - t0;
    CHECK_MSG(ms < 2000, "round " + std::to_string(round) + ": reclaiming took " + std::to_string(ms) + " ms");
    if (r == CUDA_SUCCESS) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.free, quota);

  dt::release_primary(dev);
  return dt::finish();
}
