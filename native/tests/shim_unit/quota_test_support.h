// quota_test_support.h — what the quota engine's test files share: scenarios
// in forked children (spawn, reap, in_child), a pipe protocol between parent
// and child (put/get), a job's environment, stderr capture, and cleanup.
//
// The engine is per process and configured once from the environment, so
// every scenario runs in forked children that set their environment first;
// the test's main process never attaches. Each run uses job keys
// "qt<pid>-<scenario>" and cleanup() removes its regions at the end.
// Single-threaded test driver; children may use threads of their own.
#ifndef GPUPOOL_TESTS_QUOTA_TEST_SUPPORT_H_
#define GPUPOOL_TESTS_QUOTA_TEST_SUPPORT_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "driver_test.h"
#include "gpupool/control_region.h"
#include "log.h"
#include "quota.h"
#include "region.h"
#include "shim_config.h"

extern "C" size_t gpupool_test_region_size_from_c(void);

namespace quota_test {

using gpupool::shim::Charge;
namespace shim = gpupool::shim;

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

inline std::string job_name(const char* scenario) {
  return "qt" + std::to_string(getpid()) + "-" + scenario;
}

inline std::string decimal_text(long long v) { return std::to_string(v); }

inline std::string path_of(const std::string& job) { return shim::region_path(geteuid(), job); }

inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// ---- child processes ---------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int to = -1;    // parent -> child
  int from = -1;  // child -> parent
};

inline void write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    c += w;
    n -= static_cast<size_t>(w);
  }
}

inline bool read_all(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline void put(int fd, char c) { write_all(fd, &c, 1); }
inline char get(int fd) {
  char c = 0;
  return read_all(fd, &c, 1) ? c : 0;
}
inline void put_u64(int fd, uint64_t v) { write_all(fd, &v, sizeof v); }
inline uint64_t get_u64(int fd) {
  uint64_t v = ~0ull;
  read_all(fd, &v, sizeof v);
  return v;
}

// Runs body(in_fd, out_fd) in a child that exits with status 0 if all its
// checks passed (or the body may exit itself, the same way).
template <typename F>
Child spawn(F body) {
  int down[2], up[2];
  REQUIRE(pipe(down) == 0 && pipe(up) == 0);
  std::fflush(stdout);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child's checks count from zero: its exit status is its own verdict.
    dt::failure_count().store(0);
    close(down[1]);
    close(up[0]);
    body(down[0], up[1]);
    std::fflush(stdout);
    _exit(dt::failure_count().load() == 0 ? 0 : 1);
  }
  close(down[0]);
  close(up[1]);
  return {pid, down[1], up[0]};
}

// Waits for the child; true if it exited with status 0.
inline bool reap(Child& c) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(c.pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  close(c.to);
  close(c.from);
  return r == c.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Kills the child with SIGKILL and waits until it is dead, without reaping it:
// it stays a zombie, which the engine must count as dead.
inline void kill_leave_zombie(const Child& c) {
  kill(c.pid, SIGKILL);
  siginfo_t info;
  while (waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
}

template <typename F>
void in_child(const char* name, F body) {
  dt::section(name);
  Child c = spawn([&](int, int) { body(); });
  CHECK_MSG(reap(c), std::string("scenario '") + name + "' failed in its child");
}

// The environment of one process of a job.
inline void job_env(const std::string& job, const char* limit, const char* log = nullptr) {
  setenv("GPUPOOL_JOB", job.c_str(), 1);
  if (limit) setenv("GPUPOOL_MEMORY_LIMIT", limit, 1);
  else unsetenv("GPUPOOL_MEMORY_LIMIT");
  if (log) setenv("GPUPOOL_LOG", log, 1);
  else unsetenv("GPUPOOL_LOG");
}

// Captures this process's stderr (fd 2) in a memory file.
class StderrCapture {
 public:
  StderrCapture() {
    fd_ = memfd_create("stderr", 0);
    saved_ = dup(2);
    dup2(fd_, 2);
  }
  ~StderrCapture() { restore(); }
  void restore() {
    if (saved_ >= 0) {
      dup2(saved_, 2);
      close(saved_);
      saved_ = -1;
    }
  }
  std::string text() const {
    std::string out;
    char buf[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = pread(fd_, buf, sizeof buf, off)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

#define CHECK_CONTAINS(text, part) \
  CHECK_MSG(contains((text), (part)), "expected \"" + std::string(part) + "\" in: " + (text))

// Removes whatever this run left in /dev/shm.
inline void cleanup() {
  std::string prefix = std::string(GPUPOOL_REGION_NAME_PREFIX) + std::to_string(geteuid()) + "-qt" +
                       std::to_string(getpid()) + "-";
  std::string cmd = std::string("rm -f " GPUPOOL_REGION_DIR "/") + prefix + "*";
  if (std::system(cmd.c_str()) != 0) dt::info("cleanup failed: %s", cmd.c_str());
}

// The scenarios, by file.
void test_parse_size();  // test_quota_config.cc
void test_job_keys();
void test_config();
void test_limits_per_device();
void test_refused_environment();
void test_default_job();
void test_log_level();
int after_exec(int report_fd);  // test_quota_processes.cc
void test_fork_shares_quota();
void test_exec();
void test_slots_exhausted();
void test_sigkill_reclaim();
void test_storm();
void test_lock_owner_dies();  // test_quota_recovery.cc
void test_limits_from_creator();
void test_lifetime();
void test_corrupt_regions();

}  // namespace quota_test

#endif  // GPUPOOL_TESTS_QUOTA_TEST_SUPPORT_H_
