// A storm: 6 processes x 6 threads of one job allocate 4 MiB pieces (by
// cuMemAlloc, cuMemAllocManaged and cuMemCreate, two threads each per process)
// against one quota until each thread gets OUT_OF_MEMORY, all at once. What
// they got together never exceeds the quota (no check-then-act race) and is
// within one piece per thread of it (the quota is usable); the parent's
// cuMemGetInfo shows exactly what they hold. Repeated for several rounds.
//
// ctest: GPUPOOL_MEMORY_LIMIT=256MiB.
#include "shim_test.h"

namespace {

constexpr int kProcesses = 6;
constexpr int kThreads = 6;
constexpr int kRounds = 5;
constexpr size_t kPiece = 4 * st::kMiB;

// Role "worker": "ready", waits for "go", storms, reports "<pieces> <errors>",
// waits for "release", frees everything.
int worker() {
  CUcontext ctx = nullptr;
  CUdevice dev = dt::init_primary(&ctx);
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;

  struct Held {
    std::vector<CUdeviceptr> ptrs;
    std::vector<CUmemGenericAllocationHandle> handles;
    int errors = 0;
    CUresult last_error = CUDA_SUCCESS;
  };
  std::vector<Held> held(kThreads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      cuCtxSetCurrent(ctx);
      Held& h = held[t];
      ++ready;
      while (!go.load(std::memory_order_acquire)) {
      }
      // Bounded: a thread that got more than the whole quota has shown the overshoot.
      const size_t cap = st::configured_quota() / kPiece + 1;
      while (h.ptrs.size() + h.handles.size() < cap) {
        CUresult r;
        if (t % 3 == 2) {
          CUmemGenericAllocationHandle handle = 0;
          r = cuMemCreate(&handle, kPiece, &prop, 0);
          if (r == CUDA_SUCCESS) h.handles.push_back(handle);
        } else {
          CUdeviceptr p = 0;
          r = t % 3 == 0 ? cuMemAlloc(&p, kPiece) : cuMemAllocManaged(&p, kPiece, CU_MEM_ATTACH_GLOBAL);
          if (r == CUDA_SUCCESS) h.ptrs.push_back(p);
        }
        if (r == CUDA_ERROR_OUT_OF_MEMORY) break;
        if (r != CUDA_SUCCESS) {
          ++h.errors;
          h.last_error = r;
          break;
        }
      }
    });
  }
  while (ready.load() < kThreads) usleep(100);
  st::write_line(1, "ready");
  if (st::read_line(0) != "go") return 3;
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  size_t pieces = 0;
  int errors = 0;
  for (auto& h : held) {
    pieces += h.ptrs.size() + h.handles.size();
    errors += h.errors;
    if (h.errors) std::fprintf(stderr, "worker %d: %s\n", getpid(), dt::result_name(h.last_error).c_str());
  }
  st::write_line(1, std::to_string(pieces) + " " + std::to_string(errors));
  if (st::read_line(0, 45000) != "release") return 4;
  for (auto& h : held) {
    for (CUdeviceptr p : h.ptrs) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
    for (auto handle : h.handles) CHECK_CU(cuMemRelease(handle), CUDA_SUCCESS);
  }
  dt::release_primary(dev);
  return dt::finish();
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "worker") return worker();

  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 64 * st::kMiB);
  CUdevice dev = dt::init_primary();

  for (int round = 0; round < kRounds; ++round) {
    std::string title = "round " + std::to_string(round) + ": " + std::to_string(kProcesses) + " processes x " +
                        std::to_string(kThreads) + " threads";
    dt::section(title.c_str());
    std::vector<st::Child> workers;
    for (int i = 0; i < kProcesses; ++i) {
      st::SpawnOptions o;
      o.capture_stdout = true;
      o.pipe_stdin = true;
      workers.push_back(st::spawn_self("worker", {}, o));
    }
    bool all_ready = true;
    for (auto& w : workers) {
      std::string line = st::read_line(w.out_fd);
      if (line != "ready") {
        all_ready = false;
        std::printf("   worker %d said: %s\n", w.pid, line.c_str());
      }
    }
    CHECK(all_ready);
    for (auto& w : workers) st::write_line(w.in_fd, "go");
    size_t pieces = 0;
    int errors = 0;
    for (auto& w : workers) {
      std::string line = st::read_line(w.out_fd);
      unsigned long n = 0;
      int e = 0;
      if (std::sscanf(line.c_str(), "%lu %d", &n, &e) != 2) {
        CHECK_MSG(false, "worker " + std::to_string(w.pid) + " reported \"" + line + "\"");
        continue;
      }
      pieces += n;
      errors += e;
    }
    const size_t total = pieces * kPiece;
    dt::info("%zu pieces = %s of %s", pieces, st::mib(total).c_str(), st::mib(quota).c_str());
    CHECK_EQ(errors, 0);
    CHECK_MSG(total <= quota, "overshoot: " + st::mib(total) + " > quota " + st::mib(quota));
    CHECK_MSG(total + kProcesses * kThreads * kPiece >= quota,
              "quota not usable: only " + st::mib(total) + " of " + st::mib(quota));
    st::MemInfo m = st::mem_info();
    CHECK_CU(m.r, CUDA_SUCCESS);
    CHECK_EQ(m.free, total <= quota ? quota - total : 0);
    for (auto& w : workers) {
      st::write_line(w.in_fd, "release");
      close(w.in_fd);
    }
    for (auto& w : workers) {
      std::string rest = st::read_all(w.out_fd);
      int rc = st::wait_child(w.pid);
      if (rc != 0) std::printf("%s", rest.c_str());
      CHECK_EQ(rc, 0);
    }
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, quota), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  dt::release_primary(dev);
  return dt::finish();
}
