// All processes of a job (same GPUPOOL_JOB) share one quota. The parent holds
// 60%; a child started with fork+exec, and one made with a plain fork before
// the parent touched the driver, each get exactly the remaining 40%, see it in
// cuMemGetInfo, and while a child holds it the parent gets nothing more. A
// child forked from the parent while it holds memory cannot take the parent's
// usage with it when it exits. When the parent frees, a child gets it all.
//
// ctest: GPUPOOL_MEMORY_LIMIT=100MiB.
#include "shim_test.h"

namespace {

constexpr size_t kStep = 2 * st::kMiB;

// Role "take": allocates `remaining` (and no more), says "holding", waits for
// a line, frees, exits. in/out: the protocol's pipes.
int take(int in_fd, int out_fd, size_t remaining, size_t quota, bool init) {
  CUdevice dev = 0;
  if (init) dev = dt::init_primary();
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, quota);
  CHECK_EQ(m.free, remaining);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, remaining + kStep), CUDA_ERROR_OUT_OF_MEMORY);
  bool got = CHECK_CU(cuMemAlloc(&p, remaining), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  m = st::mem_info();
  CHECK_EQ(m.free, size_t{0});
  st::write_line(out_fd, "holding");
  std::string cmd = st::read_line(in_fd);
  CHECK_EQ(cmd, std::string("release"));
  if (got) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.free, remaining);
  if (init) dt::release_primary(dev);
  return dt::finish();
}

// Waits for "holding" from a child (echoing anything else it prints).
bool wait_holding(int fd) {
  for (;;) {
    std::string line = st::read_line(fd);
    if (line == "holding") return true;
    if (line.empty()) return false;
    std::printf("   child: %s\n", line.c_str());
  }
}

// While a child holds the remainder, the parent is at the quota.
void parent_sees_full(const char* who) {
  std::string title = std::string("while ") + who + " holds the remaining quota";
  dt::section(title.c_str());
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.free, size_t{0});
  CUdeviceptr q = 0;
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
}

// fork+exec of this program in role "take".
void exec_child_takes(size_t remaining, size_t quota, const char* title) {
  dt::section(title);
  st::SpawnOptions o;
  o.capture_stdout = true;
  o.pipe_stdin = true;
  st::Child c = st::spawn_self("take", {std::to_string(remaining), std::to_string(quota)}, o);
  bool holding = wait_holding(c.out_fd);
  CHECK_MSG(holding, "the child never said it holds its allocation");
  if (holding) parent_sees_full("an exec'd child");
  st::write_line(c.in_fd, "release");
  close(c.in_fd);
  std::string rest = st::read_all(c.out_fd);
  if (!rest.empty()) std::printf("%s", rest.c_str());
  CHECK_EQ(st::wait_child(c.pid), 0);
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  if (argc > 3 && std::string(argv[1]) == "take")
    return take(0, 1, std::stoull(argv[2]), std::stoull(argv[3]), true);

  const size_t quota = st::configured_quota();
  REQUIRE(quota >= 20 * st::kMiB);
  const size_t parent_part = (quota * 6 / 10) / kStep * kStep;
  const size_t remaining = quota - parent_part;

  // A plain fork before the parent initialises the driver: it may use CUDA.
  int to_f[2], from_f[2];
  REQUIRE(pipe(to_f) == 0 && pipe(from_f) == 0);
  std::fflush(stdout);
  pid_t f = fork();
  if (f == 0) {
    close(to_f[1]);
    close(from_f[0]);
    if (st::read_line(to_f[0], 45000) != "go") _exit(3);
    _exit(take(to_f[0], from_f[1], remaining, quota, true));
  }
  close(to_f[0]);
  close(from_f[1]);

  CUdevice dev = dt::init_primary();
  dt::section("the parent holds 60%");
  CUdeviceptr held = 0;
  REQUIRE_CU(cuMemAlloc(&held, parent_part), CUDA_SUCCESS);
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.total, quota);
  CHECK_EQ(m.free, remaining);

  exec_child_takes(remaining, quota, "a fork+exec child gets only the remaining 40%");

  dt::section("a child forked (no exec) before the parent's cuInit gets only the remaining 40%");
  st::write_line(to_f[1], "go");
  bool holding = wait_holding(from_f[0]);
  CHECK_MSG(holding, "the forked child never said it holds its allocation");
  if (holding) parent_sees_full("a forked child");
  st::write_line(to_f[1], "release");
  CHECK_EQ(st::wait_child(f), 0);
  close(to_f[1]);
  close(from_f[0]);

  dt::section("a child forked while the parent holds memory, exiting, leaves the parent's usage");
  std::fflush(stdout);
  pid_t g = fork();
  if (g == 0) {
    CUdeviceptr p = 0;
    size_t fr = 0, tot = 0;
    CUresult r1 = cuMemAlloc(&p, kStep);  // the driver does not survive fork
    CUresult r2 = cuMemGetInfo(&fr, &tot);
    _exit(r1 == CUDA_SUCCESS || r2 == CUDA_SUCCESS ? 4 : 0);
  }
  CHECK_EQ(st::wait_child(g), 0);
  m = st::mem_info();
  CHECK_EQ(m.free, remaining);
  exec_child_takes(remaining, quota, "after the forked child exited: still only 40% for a new process");

  dt::section("the parent frees: a child gets the whole quota");
  CHECK_CU(cuMemFree(held), CUDA_SUCCESS);
  exec_child_takes(quota, quota, "a fork+exec child gets 100%");

  dt::release_primary(dev);
  return dt::finish();
}
