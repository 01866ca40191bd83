// The job's shared region, /dev/shm/gpupool-<uid>-<job>:
//   - created by the shim for this user only (owner = us, not world-writable);
//   - a corrupt one (garbage, wrong magic; or too short) is refused: the job's
//     allocations fail, stderr names the file, and the file is left untouched;
//     once removed, the job works again;
//   - one owned by another user (as root: chown to nobody) is refused the same way;
//   - an unusable GPUPOOL_MEMORY_LIMIT or GPUPOOL_JOB fails closed, with a message.
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include "shim_test.h"

namespace {

constexpr size_t kStep = 2 * st::kMiB;

// Role "try": reports what two allocations returned ("alloc <r1> <r2>").
int try_alloc() {
  CUresult init = cuInit(0);
  CUcontext ctx = nullptr;
  CUresult retain = init == CUDA_SUCCESS ? cuDevicePrimaryCtxRetain(&ctx, 0) : init;
  if (retain == CUDA_SUCCESS) cuCtxSetCurrent(ctx);
  CUdeviceptr p = 0, q = 0;
  CUresult r1 = cuMemAlloc(&p, kStep);
  CUresult r2 = cuMemAlloc(&q, kStep);
  std::printf("init %d retain %d alloc %d %d\n", init, retain, r1, r2);
  if (r1 == CUDA_SUCCESS) cuMemFree(p);
  if (r2 == CUDA_SUCCESS) cuMemFree(q);
  return 0;
}

// Role "hold": allocates, says "holding", waits for a line.
int hold() {
  CUdevice dev = dt::init_primary();
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, kStep), CUDA_SUCCESS);
  st::write_line(1, "holding");
  st::read_line(0, 45000);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}

struct Outcome {
  int rc = -1;
  std::string out, err;
  int alloc1 = -1, alloc2 = -1;
};

Outcome run_try(const std::string& job, const st::Env& extra = st::Env()) {
  st::SpawnOptions o;
  o.env = extra;
  o.env.put("GPUPOOL_JOB", job);
  o.capture_stdout = true;
  o.capture_stderr = true;
  st::Child c = st::spawn_self("try", {}, o);
  Outcome r;
  // stderr first would block if stdout filled up; both are short.
  r.out = st::read_all(c.out_fd);
  r.err = st::read_all(c.err_fd);
  r.rc = st::wait_child(c.pid);
  int init = 0, retain = 0;
  std::sscanf(r.out.c_str(), "init %d retain %d alloc %d %d", &init, &retain, &r.alloc1, &r.alloc2);
  return r;
}

std::string file_text(const std::string& path) {
  std::string s;
  dt::read_file(path, &s);
  return s;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// A child of job `job`, whose region file is `path`, is refused.
void check_refused(const std::string& job, const std::string& path, const char* what) {
  std::string before = file_text(path);
  Outcome o = run_try(job);
  dt::info("%s: child stdout: %s", what, o.out.c_str());
  dt::info("%s: child stderr: %s", what, o.err.c_str());
  CHECK_EQ(o.rc, 0);
  CHECK_MSG(o.alloc1 != CUDA_SUCCESS && o.alloc1 != -1,
            std::string(what) + ": allocation under a refused region returned " + std::to_string(o.alloc1));
  CHECK_MSG(o.alloc2 != CUDA_SUCCESS && o.alloc2 != -1,
            std::string(what) + ": second allocation returned " + std::to_string(o.alloc2));
  std::string name = path.substr(path.find_last_of('/') + 1);
  CHECK_MSG(o.err.find(name) != std::string::npos, std::string(what) + ": stderr does not name " + name);
  CHECK_MSG(count(o.err, name) <= 1, std::string(what) + ": reported more than once");
  CHECK_MSG(file_text(path) == before, std::string(what) + ": the region file was modified");
}

void write_file(const std::string& path, const std::string& bytes) {
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  std::string role = argc > 1 ? argv[1] : "";
  if (role == "try") return try_alloc();
  if (role == "hold") return hold();

  const std::string job = st::job();
  REQUIRE(!job.empty());

  dt::section("the shim's own region: this user's, not world-writable");
  size_t region_size = 1 << 20;  // a real region's size, once seen
  {
    CUdevice dev = dt::init_primary();
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, kStep), CUDA_SUCCESS);
    std::string path = st::region_path(job);
    struct stat sb{};
    bool exists = stat(path.c_str(), &sb) == 0;
    CHECK_MSG(exists, path + " does not exist while the job holds memory");
    if (exists) {
      dt::info("%s: mode %o, %lld bytes", path.c_str(), sb.st_mode & 07777, static_cast<long long>(sb.st_size));
      CHECK_EQ(sb.st_uid, geteuid());
      CHECK_MSG((sb.st_mode & 0002) == 0, "the region is world-writable");
      if (sb.st_size > 0) region_size = static_cast<size_t>(sb.st_size);
    }
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
    dt::release_primary(dev);
  }

  // As large as a real region, so that only its content can give it away.
  dt::section("a region of the right size full of garbage (wrong magic) is refused");
  const std::string corrupt_job = job + "-corrupt";
  const std::string corrupt = st::region_path(corrupt_job);
  {
    std::string garbage(region_size, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>("not a gpupool region "[i % 21] ^ 0x5a);
    write_file(corrupt, garbage);
    check_refused(corrupt_job, corrupt, "garbage");
    dt::section("once the corrupt file is removed, the job works again");
    REQUIRE(unlink(corrupt.c_str()) == 0);
    Outcome o = run_try(corrupt_job);
    CHECK_EQ(o.alloc1, CUDA_SUCCESS);
    st::unlink_regions(corrupt_job);
  }

  dt::section("a region too short to hold a header is refused");
  const std::string short_job = job + "-short";
  const std::string short_path = st::region_path(short_job);
  write_file(short_path, "GPUPOOL?");
  check_refused(short_job, short_path, "short");
  st::unlink_regions(short_job);

  dt::section("a region owned by another user is refused");
  if (geteuid() != 0) {
    dt::info("not root: cannot make a file owned by another user; skipped");
  } else {
    const std::string foreign_job = job + "-foreign";
    const std::string foreign = st::region_path(foreign_job);
    // A valid region made by the shim (kept alive by a holder), then given away.
    st::SpawnOptions o;
    o.env.put("GPUPOOL_JOB", foreign_job);
    o.capture_stdout = true;
    o.pipe_stdin = true;
    st::Child holder = st::spawn_self("hold", {}, o);
    bool holding = st::read_line(holder.out_fd) == "holding";
    CHECK(holding);
    bool exists = dt::file_exists(foreign);
    CHECK_MSG(exists, foreign + " was not created");
    if (holding && exists) {
      CHECK_EQ(chown(foreign.c_str(), 65534, 65534), 0);
      check_refused(foreign_job, foreign, "foreign owner");
    }
    st::write_line(holder.in_fd, "done");
    close(holder.in_fd);
    st::read_all(holder.out_fd);
    st::wait_child(holder.pid);
    st::unlink_regions(foreign_job);
  }
  // A configuration the shim cannot apply fails closed, saying why, even
  // without GPUPOOL_LOG: running without the limit the job was given is worse.
  dt::section("an unusable GPUPOOL_MEMORY_LIMIT or GPUPOOL_JOB: allocations fail, stderr says why");
  {
    Outcome bad_limit = run_try(job + "-badlimit", st::Env().put("GPUPOOL_MEMORY_LIMIT", "lots").drop("GPUPOOL_LOG"));
    CHECK_MSG(bad_limit.alloc1 != CUDA_SUCCESS && bad_limit.alloc1 != -1, "GPUPOOL_MEMORY_LIMIT=lots: " + bad_limit.out);
    CHECK_MSG(bad_limit.err.find("GPUPOOL_MEMORY_LIMIT") != std::string::npos, "stderr: " + bad_limit.err);
    st::unlink_regions(job + "-badlimit");
    st::SpawnOptions o;
    o.env.put("GPUPOOL_JOB", "bad/job").drop("GPUPOOL_LOG");
    o.capture_stdout = true;
    o.capture_stderr = true;
    st::Child c = st::spawn_self("try", {}, o);
    std::string out = st::read_all(c.out_fd), err = st::read_all(c.err_fd);
    st::wait_child(c.pid);
    int init = 0, retain = 0, a1 = -1, a2 = -1;
    std::sscanf(out.c_str(), "init %d retain %d alloc %d %d", &init, &retain, &a1, &a2);
    CHECK_MSG(a1 != CUDA_SUCCESS && a1 != -1, "GPUPOOL_JOB=bad/job: " + out);
    CHECK_MSG(err.find("GPUPOOL_JOB") != std::string::npos, "stderr: " + err);
  }
  return dt::finish();
}
