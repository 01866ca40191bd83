// test_quota_engine.cc — the shim's quota engine (native/shim/quota.h) on its
// own: no driver, no interposition. Links gpupool_shim_quota directly.
//
// The engine is per process and configured once from the environment, so
// every scenario runs in forked children that set their environment first;
// the test's main process never attaches. Each run uses job keys
// "qt<pid>-<scenario>" and removes its regions at the end.
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

namespace {

using gpupool::shim::Charge;
namespace shim = gpupool::shim;

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

std::string job_name(const char* scenario) {
  return "qt" + std::to_string(getpid()) + "-" + scenario;
}

std::string decimal_text(long long v) { return std::to_string(v); }

std::string path_of(const std::string& job) { return shim::region_path(geteuid(), job); }

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// ---- child processes ---------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int to = -1;    // parent -> child
  int from = -1;  // child -> parent
};

void write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    c += w;
    n -= static_cast<size_t>(w);
  }
}

bool read_all(int fd, void* p, size_t n) {
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

void put(int fd, char c) { write_all(fd, &c, 1); }
char get(int fd) {
  char c = 0;
  return read_all(fd, &c, 1) ? c : 0;
}
void put_u64(int fd, uint64_t v) { write_all(fd, &v, sizeof v); }
uint64_t get_u64(int fd) {
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
bool reap(Child& c) {
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
void kill_leave_zombie(const Child& c) {
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
void job_env(const std::string& job, const char* limit, const char* log = nullptr) {
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

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

#define CHECK_CONTAINS(text, part) \
  CHECK_MSG(contains((text), (part)), "expected \"" + std::string(part) + "\" in: " + (text))

// ---- configuration -----------------------------------------------------------

void test_parse_size() {
  dt::section("parse_size");
  struct Case {
    const char* text;
    uint64_t bytes;
  } good[] = {
      {"4GiB", 4 * GiB},       {"512MiB", 512 * MiB},     {"1.5GB", 1500000000ull},
      {"1048576", 1048576},    {"4G", 4 * GiB},           {"4 GiB", 4 * GiB},
      {"4gib", 4 * GiB},       {"1.5GiB", 3 * GiB / 2},   {"0", 0},
      {"2KB", 2000},           {"1KiB", 1024},            {"7B", 7},
      {"1TiB", 1ull << 40},    {"0.5MiB", MiB / 2},       {"18446744073709551615", UINT64_MAX},
  };
  for (const Case& c : good) {
    uint64_t got = 0;
    CHECK_MSG(shim::parse_size(c.text, &got), c.text);
    CHECK_EQ(got, c.bytes);
  }
  const char* bad[] = {"",     "lots",  "-1",     "1.5",  "GiB",  "4XB", "1e9",
                       "4GiB extra", "18446744073709551616", "17179869184GiB", ".5GiB", "4.GiB",
                       "0x10", " "};
  for (const char* text : bad) {
    uint64_t got = 0;
    CHECK_MSG(!shim::parse_size(text, &got), std::string("accepted '") + text + "'");
  }
  CHECK_EQ(shim::format_size(256 * MiB), std::string("256MiB"));
  CHECK_EQ(shim::format_size(4 * GiB), std::string("4GiB"));
  CHECK_EQ(shim::format_size(1000), std::string("1000 bytes"));
  CHECK_EQ(shim::format_size(shim::kUnlimited), std::string("unlimited"));
}

void test_job_keys() {
  dt::section("job keys");
  CHECK(shim::job_key_problem("train-1.x_Y").empty());
  CHECK(shim::job_key_problem(std::string(48, 'a').c_str()).empty());
  CHECK_CONTAINS(shim::job_key_problem(""), "empty");
  CHECK_CONTAINS(shim::job_key_problem("a/b"), "'/'");
  CHECK_CONTAINS(shim::job_key_problem("a b"), "' '");
  CHECK_CONTAINS(shim::job_key_problem(std::string(49, 'a').c_str()), "at most 48");
  CHECK(!shim::job_key_problem("caf\xc3\xa9").empty());
}

shim::ShimConfig config_of(std::vector<const char*> env) {
  env.push_back(nullptr);
  return shim::load_shim_config(env.data());
}

void test_config() {
  dt::section("environment");
  {
    auto c = config_of({"GPUPOOL_JOB=train", "GPUPOOL_MEMORY_LIMIT=4GiB",
                        "GPUPOOL_MEMORY_LIMIT_1=1GiB", "GPUPOOL_MEMORY_LIMIT_15=0"});
    CHECK(c.error.empty());
    CHECK_EQ(c.job, std::string("train"));
    CHECK(!c.job_defaulted);
    CHECK_EQ(c.limit[0], 4 * GiB);
    CHECK_EQ(c.limit[1], 1 * GiB);
    CHECK_EQ(c.limit[2], 4 * GiB);
    CHECK_EQ(c.limit[15], 0u);
    CHECK(c.limit_set[2]);
  }
  {
    auto c = config_of({"GPUPOOL_JOB=train", "GPUPOOL_MEMORY_LIMIT_2=512MiB"});
    CHECK(c.error.empty());
    CHECK_EQ(c.limit[2], 512 * MiB);
    CHECK_EQ(c.limit[0], shim::kUnlimited);
    CHECK(!c.limit_set[0]);
  }
  {
    auto c = config_of({});
    CHECK(c.error.empty());
    CHECK(c.job_defaulted);
    CHECK_EQ(c.job, "pid-" + std::to_string(getpid()));
    for (int d = 0; d < shim::kMaxDevices; ++d) CHECK_EQ(c.limit[d], shim::kUnlimited);
    CHECK(!c.visible_set);
  }
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT=lots"}).error,
                 "GPUPOOL_MEMORY_LIMIT='lots' is not a memory size");
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT="}).error, "GPUPOOL_MEMORY_LIMIT=''");
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT_3=abc"}).error,
                 "GPUPOOL_MEMORY_LIMIT_3='abc' is not a memory size");
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT_16=1GiB"}).error,
                 "GPUPOOL_MEMORY_LIMIT_16 names no device");
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT_01=1GiB"}).error,
                 "GPUPOOL_MEMORY_LIMIT_01 names no device");
  CHECK_CONTAINS(config_of({"GPUPOOL_MEMORY_LIMIT_X=1GiB"}).error,
                 "GPUPOOL_MEMORY_LIMIT_X names no device");
  CHECK_CONTAINS(config_of({"GPUPOOL_JOB="}).error, "GPUPOOL_JOB='' is empty");
  CHECK_CONTAINS(config_of({"GPUPOOL_JOB=team/exp"}).error, "GPUPOOL_JOB='team/exp' contains '/'");
  {
    auto c = config_of({"GPUPOOL_VISIBLE_DEVICES=2, 3"});
    CHECK(c.visible_set);
    CHECK(c.visible_error.empty());
    CHECK_EQ(c.visible_count, 2);
    CHECK_EQ(c.visible[0], 2);
    CHECK_EQ(c.visible[1], 3);
  }
  {
    auto c = config_of({"GPUPOOL_VISIBLE_DEVICES="});
    CHECK(c.visible_set);
    CHECK(c.visible_error.empty());
    CHECK_EQ(c.visible_count, 0);
  }
  CHECK_CONTAINS(config_of({"GPUPOOL_VISIBLE_DEVICES=1,1"}).visible_error, "twice");
  CHECK_CONTAINS(config_of({"GPUPOOL_VISIBLE_DEVICES=a"}).visible_error, "not a list");
  CHECK_CONTAINS(config_of({"GPUPOOL_VISIBLE_DEVICES=1,"}).visible_error, "not a list");
  CHECK(config_of({"GPUPOOL_VISIBLE_DEVICES=1,"}).error.empty());

  shim::LogLevel level;
  CHECK(shim::log_parse_level("debug", &level) && level == shim::LogLevel::kDebug);
  CHECK(shim::log_parse_level("WARN", &level) && level == shim::LogLevel::kWarn);
  CHECK(!shim::log_parse_level("loud", &level));

  CHECK_EQ(gpupool_test_region_size_from_c(), sizeof(gpupool_region));
}

// ---- one process -------------------------------------------------------------

void test_limits_per_device() {
  std::string job = job_name("limits");
  in_child("charge, uncharge and limits per device", [&] {
    job_env(job, "64MiB", "warn");
    setenv("GPUPOOL_MEMORY_LIMIT_1", "128MiB", 1);
    setenv("GPUPOOL_MEMORY_LIMIT_2", "0", 1);
    setenv("GPUPOOL_MEMORY_LIMIT_5", "1TiB", 1);
    REQUIRE(shim::quota_ready());
    CHECK(shim::quota_ready());
    CHECK(exists(path_of(job)));
    struct stat st;
    CHECK(::stat(path_of(job).c_str(), &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ(shim::quota_limit(0), 64 * MiB);
    CHECK_EQ(shim::quota_limit(1), 128 * MiB);
    CHECK_EQ(shim::quota_limit(2), 0u);
    CHECK_EQ(shim::quota_limit(3), 64 * MiB);
    CHECK_EQ(shim::quota_limit(-1), shim::kUnlimited);
    CHECK_EQ(shim::quota_limit(16), shim::kUnlimited);

    CHECK(shim::quota_charge(0, 60 * MiB) == Charge::kOk);
    CHECK(shim::quota_charge(0, 5 * MiB) == Charge::kOverQuota);
    CHECK_EQ(shim::quota_used(0), 60 * MiB);
    CHECK(shim::quota_charge(1, 100 * MiB) == Charge::kOk);
    CHECK(shim::quota_charge(0, 4 * MiB) == Charge::kOk);  // exactly the limit
    CHECK_EQ(shim::quota_used(0), 64 * MiB);
    CHECK(shim::quota_charge(0, 1) == Charge::kOverQuota);
    CHECK(shim::quota_charge(0, UINT64_MAX) == Charge::kOverQuota);
    CHECK_EQ(shim::quota_used(0), 64 * MiB);
    CHECK_EQ(shim::quota_used(1), 100 * MiB);
    shim::quota_uncharge(0, 64 * MiB);
    CHECK_EQ(shim::quota_used(0), 0u);
    CHECK(shim::quota_charge(0, 64 * MiB) == Charge::kOk);
    shim::quota_uncharge(0, 64 * MiB);

    CHECK(shim::quota_charge(2, 1) == Charge::kOverQuota);
    CHECK(shim::quota_charge(2, 0) == Charge::kOk);
    CHECK(shim::quota_charge(5, 1ull << 40) == Charge::kOk);
    CHECK(shim::quota_charge(5, 1) == Charge::kOverQuota);
    shim::quota_uncharge(5, 1ull << 40);
    CHECK_EQ(shim::quota_used(5), 0u);

    // Outside 0..15: never limited, never recorded.
    CHECK(shim::quota_charge(16, UINT64_MAX) == Charge::kOk);
    CHECK(shim::quota_charge(-1, 1) == Charge::kOk);
    CHECK_EQ(shim::quota_used(16), 0u);

    // Returning more than was charged: clamped at zero, with a warning.
    StderrCapture err;
    shim::quota_uncharge(1, 200 * MiB);
    err.restore();
    CHECK_EQ(shim::quota_used(1), 0u);
    CHECK_CONTAINS(err.text(), "warning: device 1: 200MiB returned but this process holds only 100MiB");
    CHECK(shim::quota_charge(1, 128 * MiB) == Charge::kOk);
    CHECK_EQ(shim::quota_used(1), 128 * MiB);
  });
  unlink(path_of(job).c_str());

  std::string unlimited = job_name("unlimited");
  in_child("no limit: charging only records", [&] {
    job_env(unlimited, nullptr);
    REQUIRE(shim::quota_ready());
    CHECK_EQ(shim::quota_limit(0), shim::kUnlimited);
    CHECK(shim::quota_charge(0, 1ull << 50) == Charge::kOk);
    CHECK(shim::quota_charge(0, 1ull << 50) == Charge::kOk);
    CHECK_EQ(shim::quota_used(0), 1ull << 51);
    CHECK(shim::quota_charge(0, UINT64_MAX) == Charge::kOverQuota);  // would wrap
    shim::quota_uncharge(0, 1ull << 51);
    CHECK_EQ(shim::quota_used(0), 0u);
  });
  unlink(path_of(unlimited).c_str());
}

void test_refused_environment() {
  struct Case {
    const char* name;
    const char* var;
    const char* value;
    const char* message;
  } cases[] = {
      {"invalid GPUPOOL_MEMORY_LIMIT fails closed", "GPUPOOL_MEMORY_LIMIT", "lots",
       "GPUPOOL_MEMORY_LIMIT='lots' is not a memory size"},
      {"invalid GPUPOOL_MEMORY_LIMIT_3 fails closed", "GPUPOOL_MEMORY_LIMIT_3", "3 bananas",
       "GPUPOOL_MEMORY_LIMIT_3='3 bananas' is not a memory size"},
      {"invalid GPUPOOL_JOB fails closed", "GPUPOOL_JOB", "team/exp",
       "GPUPOOL_JOB='team/exp' contains '/'"},
  };
  for (const Case& c : cases) {
    in_child(c.name, [&] {
      job_env(job_name("refused"), nullptr);
      setenv(c.var, c.value, 1);
      StderrCapture err;
      CHECK(!shim::quota_ready());
      CHECK(!shim::quota_ready());
      CHECK(shim::quota_charge(0, 1) == Charge::kRefused);
      CHECK(shim::quota_charge(0, 0) == Charge::kRefused);
      CHECK_EQ(shim::quota_limit(0), 0u);
      CHECK_EQ(shim::quota_used(0), 0u);
      shim::quota_uncharge(0, 1);
      err.restore();
      std::string text = err.text();
      CHECK_CONTAINS(text, c.message);
      CHECK_CONTAINS(text, "gpupool shim[" + std::to_string(getpid()) + "]: ");
      CHECK_EQ(count_lines(text), 1);  // once, although the level is the default
      CHECK(!exists(path_of(job_name("refused"))));
    });
  }
}

void test_default_job() {
  in_child("GPUPOOL_JOB defaults to pid-<pid>, exported to children", [&] {
    unsetenv("GPUPOOL_JOB");
    unsetenv("GPUPOOL_MEMORY_LIMIT");
    shim::shim_config_init();
    std::string expected = "pid-" + std::to_string(getpid());
    const char* v = getenv("GPUPOOL_JOB");
    CHECK_EQ(std::string(v ? v : "(unset)"), expected);
    CHECK_EQ(shim::shim_config().job, expected);
    // A program the job starts sees the same key.
    std::string cmd = "test \"$GPUPOOL_JOB\" = " + expected;
    CHECK_EQ(std::system(cmd.c_str()), 0);
    REQUIRE(shim::quota_ready());
    CHECK(exists(path_of(expected)));
    unlink(path_of(expected).c_str());
  });
}

void test_log_level() {
  in_child("GPUPOOL_LOG: an unknown level means warn, said once", [&] {
    job_env(job_name("log"), nullptr, "loud");
    StderrCapture err;
    shim::shim_config_init();
    shim::shim_config_init();
    err.restore();
    CHECK_CONTAINS(err.text(), "warning: GPUPOOL_LOG='loud' is not debug, info, warn or error; using warn");
    CHECK_EQ(count_lines(err.text()), 1);
    CHECK(shim::log_enabled(shim::LogLevel::kWarn));
    CHECK(!shim::log_enabled(shim::LogLevel::kInfo));
  });
  in_child("GPUPOOL_LOG=debug", [&] {
    job_env(job_name("log"), nullptr, "debug");
    shim::shim_config_init();
    CHECK(shim::log_enabled(shim::LogLevel::kDebug));
  });
  in_child("default log level: errors only", [&] {
    job_env(job_name("log"), nullptr);
    shim::shim_config_init();
    CHECK(shim::log_enabled(shim::LogLevel::kError));
    CHECK(!shim::log_enabled(shim::LogLevel::kWarn));
  });
}

// ---- several processes -------------------------------------------------------

// The second half of test_exec, in the image that replaced the first.
int after_exec(int report_fd) {
  put_u64(report_fd, shim::quota_ready() ? shim::quota_used(0) : ~0ull);
  put_u64(report_fd, shim::quota_charge(0, 10 * MiB) == Charge::kOk ? shim::quota_used(0) : ~0ull);
  int live = 0;
  for (const auto& s : shim::quota_test_region()->slots) live += s.state == GPUPOOL_SLOT_LIVE;
  put_u64(report_fd, static_cast<uint64_t>(live));
  return 0;
}

void test_exec() {
  dt::section("exec: the new image takes over the process's slot, without the old usage");
  std::string job = job_name("exec");
  Child a = spawn([&](int, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 100 * MiB) == Charge::kOk);
    CHECK_EQ(shim::quota_used(0), 100 * MiB);
    std::fflush(stdout);
    if (dt::failure_count().load() != 0) _exit(1);
    std::string fd = decimal_text(out);
    execl("/proc/self/exe", "test_quota_engine", "--after-exec", fd.c_str(), nullptr);
    _exit(127);
  });
  CHECK_EQ(get_u64(a.from), 0u);         // the old image's 100MiB went with it
  CHECK_EQ(get_u64(a.from), 10 * MiB);   // and the new image charges normally
  CHECK_EQ(get_u64(a.from), 1u);         // in one slot
  CHECK(reap(a));
  unlink(path_of(job).c_str());
}

void test_slots_exhausted() {
  std::string job = job_name("slots");
  in_child("no free process slot: the newcomer is refused, with the reason", [&] {
    job_env(job, "256MiB");
    REQUIRE(shim::quota_ready());
    // Every other slot held by a live process (pid 1, which never dies).
    gpupool_region* r = shim::quota_test_region();
    REQUIRE(shim::region_lock(r) != shim::LockResult::kBroken);
    uint64_t init_start = shim::proc_start_time(1);
    for (auto& s : r->slots) {
      if (s.state == GPUPOOL_SLOT_LIVE) continue;
      s.pid = 1;
      s.start_time = init_start;
      s.state = GPUPOOL_SLOT_LIVE;
    }
    shim::region_unlock(r);
    Child g = spawn([&](int, int) {
      StderrCapture err;
      CHECK(shim::quota_charge(0, MiB) == Charge::kRefused);
      err.restore();
      CHECK_CONTAINS(err.text(), "all 256 process slots are held by live processes of the job");
    });
    CHECK(reap(g));
    CHECK(shim::quota_charge(0, MiB) == Charge::kOk);  // the members keep working
  });
  unlink(path_of(job).c_str());
}

void test_fork_shares_quota() {
  std::string job = job_name("fork");
  in_child("parent and forked child share one quota, each with its own slot", [&] {
    job_env(job, "256MiB");
    REQUIRE(shim::quota_charge(0, 100 * MiB) == Charge::kOk);
    Child g = spawn([&](int, int) {
      CHECK_EQ(shim::quota_used(0), 100 * MiB);
      CHECK(shim::quota_charge(0, 150 * MiB) == Charge::kOk);
      CHECK(shim::quota_charge(0, 10 * MiB) == Charge::kOverQuota);
      CHECK_EQ(shim::quota_used(0), 250 * MiB);
      int live = 0;
      for (const auto& s : shim::quota_test_region()->slots) live += s.state == GPUPOOL_SLOT_LIVE;
      CHECK_EQ(live, 2);
      // _exit: the grandchild's 150MiB stay charged to its dead slot.
    });
    CHECK(reap(g));
    CHECK_EQ(shim::quota_used(0), 250 * MiB);
    // Over the limit while a dead process holds part of it: reclaimed, then charged.
    CHECK(shim::quota_charge(0, 10 * MiB) == Charge::kOk);
    CHECK_EQ(shim::quota_used(0), 110 * MiB);
    shim::quota_uncharge(0, 110 * MiB);
    CHECK_EQ(shim::quota_used(0), 0u);
  });
  unlink(path_of(job).c_str());
}

void test_sigkill_reclaim() {
  dt::section("SIGKILLed process's usage is reclaimed");
  std::string job = job_name("sigkill");
  Child a = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 200 * MiB) == Charge::kOk);
    put(out, 'a');
    get(in);  // killed while waiting
  });
  CHECK_EQ(get(a.from), 'a');
  Child b = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    REQUIRE(shim::quota_ready());
    CHECK_EQ(shim::quota_used(0), 200 * MiB);  // a separate process of the job
    CHECK(shim::quota_charge(0, 100 * MiB) == Charge::kOverQuota);
    put(out, 'b');
    CHECK_EQ(get(in), 'k');  // a is dead now (a zombie: not reaped)
    CHECK(shim::quota_charge(0, 100 * MiB) == Charge::kOk);
    CHECK_EQ(shim::quota_used(0), 100 * MiB);
    put(out, 'd');
  });
  CHECK_EQ(get(b.from), 'b');
  kill_leave_zombie(a);
  put(b.to, 'k');
  CHECK_EQ(get(b.from), 'd');
  CHECK(reap(b));
  reap(a);

  // A process that attaches later reclaims on attach.
  Child c = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 50 * MiB) == Charge::kOk);
    put(out, 'c');
    get(in);
  });
  CHECK_EQ(get(c.from), 'c');
  kill_leave_zombie(c);
  in_child("attach reclaims the slots of dead processes", [&] {
    job_env(job, "256MiB");
    REQUIRE(shim::quota_ready());
    CHECK_EQ(shim::quota_used(0), 0u);
  });
  reap(c);
  unlink(path_of(job).c_str());
}

void test_storm() {
  dt::section("storm: 8 processes x 8 threads, 1MiB chunks, 256MiB limit");
  constexpr int kProcs = 8, kThreads = 8;
  constexpr uint64_t kLimit = 256 * MiB, kChunk = MiB;
  std::string job = job_name("storm");
  std::vector<Child> procs;
  for (int p = 0; p < kProcs; ++p) {
    procs.push_back(spawn([&](int in, int out) {
      job_env(job, "256MiB");
      REQUIRE(shim::quota_ready());
      put(out, 'r');
      if (get(in) != 'g') return;
      std::atomic<uint64_t> charged{0}, overshoots{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
          for (;;) {
            Charge c = shim::quota_charge(0, kChunk);
            if (c != Charge::kOk) break;
            charged += kChunk;
            if (shim::quota_used(0) > kLimit) ++overshoots;
          }
        });
      }
      for (auto& t : threads) t.join();
      put_u64(out, charged.load());
      put_u64(out, overshoots.load());
      get(in);  // hold the memory until the parent has checked
    }));
  }
  for (auto& p : procs) CHECK_EQ(get(p.from), 'r');
  for (auto& p : procs) put(p.to, 'g');
  uint64_t total = 0, overshoots = 0;
  for (auto& p : procs) {
    total += get_u64(p.from);
    overshoots += get_u64(p.from);
  }
  CHECK_EQ(total, kLimit);  // filled exactly, never more
  CHECK_EQ(overshoots, 0u);
  in_child("storm: the job's usage is the sum of its processes'", [&] {
    job_env(job, "256MiB");
    CHECK_EQ(shim::quota_used(0), kLimit);
    CHECK(shim::quota_charge(0, 1) == Charge::kOverQuota);
  });
  for (auto& p : procs) put(p.to, 'q');
  for (auto& p : procs) CHECK(reap(p));
  unlink(path_of(job).c_str());
}

void test_lock_owner_dies() {
  dt::section("robust lock: a process killed holding it");
  std::string job = job_name("robust");
  Child a = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 10 * MiB) == Charge::kOk);
    put(out, 'a');
    if (get(in) != 'l') return;
    // Dies half-way through an update: 100GiB of garbage in the device total.
    shim::region_test_die_holding_lock(shim::quota_test_region(), 0, 100 * GiB, out);
  });
  CHECK_EQ(get(a.from), 'a');
  Child b = spawn([&](int in, int out) {
    job_env(job, "256MiB", "warn");
    CHECK(shim::quota_charge(0, 20 * MiB) == Charge::kOk);
    put(out, 'b');
    if (get(in) != 'k') return;
    StderrCapture err;
    CHECK(shim::quota_charge(0, 30 * MiB) == Charge::kOk);
    err.restore();
    CHECK_CONTAINS(err.text(), "a process died holding the region's lock");
    CHECK_EQ(shim::quota_used(0), 50 * MiB);  // rebuilt from live slots: a's 10MiB gone too
    CHECK(shim::quota_charge(0, 206 * MiB) == Charge::kOk);
    CHECK(shim::quota_charge(0, 1) == Charge::kOverQuota);
    shim::quota_uncharge(0, 256 * MiB);
    CHECK_EQ(shim::quota_used(0), 0u);
    put(out, 'd');
  });
  CHECK_EQ(get(b.from), 'b');
  put(a.to, 'l');
  CHECK_EQ(get(a.from), 'L');  // a holds the lock
  kill_leave_zombie(a);
  put(b.to, 'k');
  CHECK_EQ(get(b.from), 'd');
  CHECK(reap(b));
  reap(a);
  unlink(path_of(job).c_str());
}

void test_limits_from_creator() {
  dt::section("the region's limits win over a later process's");
  std::string job = job_name("creator");
  Child a = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    REQUIRE(shim::quota_ready());
    put(out, 'a');
    get(in);
  });
  CHECK_EQ(get(a.from), 'a');
  in_child("a later process with another limit is warned; the job's limit applies", [&] {
    job_env(job, "512MiB", "warn");
    StderrCapture err;
    REQUIRE(shim::quota_ready());
    err.restore();
    CHECK_EQ(shim::quota_limit(0), 256 * MiB);
    CHECK_CONTAINS(err.text(), "every device: 512MiB asked, 256MiB in force); the job's apply");
    CHECK_EQ(count_lines(err.text()), 1);
  });
  in_child("only the devices that differ are named", [&] {
    job_env(job, "256MiB", "warn");
    setenv("GPUPOOL_MEMORY_LIMIT_3", "1GiB", 1);
    StderrCapture err;
    REQUIRE(shim::quota_ready());
    err.restore();
    CHECK_EQ(shim::quota_limit(3), 256 * MiB);
    CHECK_CONTAINS(err.text(), "(device 3: 1GiB asked, 256MiB in force)");
  });
  in_child("the same with the default log level: quiet", [&] {
    job_env(job, "512MiB");
    StderrCapture err;
    REQUIRE(shim::quota_ready());
    err.restore();
    CHECK_EQ(err.text(), std::string());
  });
  kill_leave_zombie(a);
  in_child("a region whose processes all died takes the new process's limits", [&] {
    job_env(job, "512MiB", "warn");
    StderrCapture err;
    REQUIRE(shim::quota_ready());
    err.restore();
    CHECK_EQ(shim::quota_limit(0), 512 * MiB);
    CHECK_EQ(err.text(), std::string());
  });
  reap(a);
  unlink(path_of(job).c_str());
}

void test_lifetime() {
  dt::section("the last process to exit removes the region");
  std::string job = job_name("life");
  Child a = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 10 * MiB) == Charge::kOk);
    put(out, 'a');
    get(in);
    std::fflush(stdout);
    std::exit(dt::failure_count().load() == 0 ? 0 : 1);  // runs the engine's destructor
  });
  CHECK_EQ(get(a.from), 'a');
  Child b = spawn([&](int in, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 20 * MiB) == Charge::kOk);
    put(out, 'b');
    get(in);
    std::fflush(stdout);
    std::exit(dt::failure_count().load() == 0 ? 0 : 1);
  });
  CHECK_EQ(get(b.from), 'b');
  put(a.to, 'x');
  CHECK(reap(a));
  CHECK(exists(path_of(job)));  // b still runs
  in_child("an exited process's usage is given back at exit", [&] {
    job_env(job, "256MiB");
    CHECK_EQ(shim::quota_used(0), 20 * MiB);
  });
  put(b.to, 'x');
  CHECK(reap(b));
  CHECK(!exists(path_of(job)));

  dt::section("a forked child whose parent removed the region re-attaches");
  int down[2], up[2];
  REQUIRE(pipe(down) == 0 && pipe(up) == 0);
  Child p = spawn([&](int, int out) {
    job_env(job, "256MiB");
    CHECK(shim::quota_charge(0, 10 * MiB) == Charge::kOk);
    std::fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
      // Holds no slot yet: the parent's exit below leaves nobody in the job.
      int before = dt::failure_count().load();
      if (get(down[0]) != 'g') _exit(1);
      CHECK(!exists(path_of(job)));
      CHECK(shim::quota_charge(0, 30 * MiB) == Charge::kOk);
      CHECK_EQ(shim::quota_used(0), 30 * MiB);
      CHECK(exists(path_of(job)));
      std::fflush(stdout);
      put_u64(up[1], static_cast<uint64_t>(dt::failure_count().load() - before));
      _exit(0);
    }
    put(out, 'p');
    std::fflush(stdout);
    std::exit(dt::failure_count().load() == 0 ? 0 : 1);  // the destructor removes the region
  });
  CHECK_EQ(get(p.from), 'p');
  CHECK(reap(p));
  CHECK(!exists(path_of(job)));
  put(down[1], 'g');
  CHECK_EQ(get_u64(up[0]), 0u);  // the grandchild's failures
  for (int fd : {down[0], down[1], up[0], up[1]}) close(fd);
  unlink(path_of(job).c_str());
}

void test_corrupt_regions() {
  const uint32_t uid = geteuid();
  auto valid = [&](const std::string& job) {
    std::vector<char> bytes(sizeof(gpupool_region), 0);
    auto* r = reinterpret_cast<gpupool_region*>(bytes.data());
    std::memcpy(r->header.magic, GPUPOOL_REGION_MAGIC, 8);
    r->header.layout_version = GPUPOOL_REGION_LAYOUT_VERSION;
    r->header.header_size = sizeof(gpupool_region_header);
    r->header.region_size = sizeof(gpupool_region);
    r->header.max_devices = GPUPOOL_REGION_MAX_DEVICES;
    r->header.max_slots = GPUPOOL_REGION_MAX_SLOTS;
    r->header.owner_uid = uid;
    std::snprintf(r->header.job, sizeof r->header.job, "%s", job.c_str());
    return bytes;
  };
  struct Case {
    const char* name;
    void (*corrupt)(std::vector<char>*, const std::string& path);
    const char* message;
  } cases[] = {
      {"wrong magic", [](std::vector<char>* b, const std::string&) { std::memcpy(b->data(), "NOTMINE", 8); },
       "not a gpupool region (magic 'NOTMINE\\x00')"},
      {"newer layout version",
       [](std::vector<char>* b, const std::string&) {
         reinterpret_cast<gpupool_region*>(b->data())->header.layout_version = 7;
       },
       "layout version 7, this shim knows 2 -- refusing the region; this job's allocations will fail"},
      {"wrong size", [](std::vector<char>* b, const std::string&) { b->resize(4096); },
       "size 4096 bytes, this shim expects 303104"},
      {"wrong slot count",
       [](std::vector<char>* b, const std::string&) {
         reinterpret_cast<gpupool_region*>(b->data())->header.max_slots = 64;
       },
       "max_slots 64, this shim expects 256"},
      {"foreign owner in the header",
       [](std::vector<char>* b, const std::string&) {
         reinterpret_cast<gpupool_region*>(b->data())->header.owner_uid = geteuid() + 1;
       },
       "header names owner uid"},
      {"another job's region",
       [](std::vector<char>* b, const std::string&) {
         std::snprintf(reinterpret_cast<gpupool_region*>(b->data())->header.job, 64, "other");
       },
       "belongs to job 'other'"},
      {"writable by others", [](std::vector<char>*, const std::string& p) { chmod(p.c_str(), 0666); },
       "mode 0666 lets other users write it"},
      {"never initialised (no magic)",
       [](std::vector<char>* b, const std::string&) { std::memset(b->data(), 0, 8); },
       "never initialised"},
      {"foreign file owner", nullptr, "owned by uid 65534, not by this user"},
  };
  for (const Case& c : cases) {
    std::string job = job_name("corrupt");
    std::string path = path_of(job);
    std::vector<char> bytes = valid(job);
    unlink(path.c_str());
    if (c.corrupt) {
      // Writes the bytes first (mode changes come after the file exists).
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
      REQUIRE(fd >= 0);
      c.corrupt(&bytes, path);
      write_all(fd, bytes.data(), bytes.size());
      close(fd);
      c.corrupt(&bytes, path);  // idempotent; applies chmod after creation
    } else {
      if (geteuid() != 0) {
        dt::info("skipped '%s': needs root to give the file away", c.name);
        continue;
      }
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
      REQUIRE(fd >= 0);
      write_all(fd, bytes.data(), bytes.size());
      REQUIRE(fchown(fd, 65534, 65534) == 0);
      close(fd);
    }
    in_child((std::string("refuses a corrupt region: ") + c.name).c_str(), [&] {
      job_env(job, "256MiB");
      StderrCapture err;
      CHECK(!shim::quota_ready());
      CHECK(shim::quota_charge(0, 1) == Charge::kRefused);
      CHECK(!shim::quota_ready());
      err.restore();
      std::string text = err.text();
      CHECK_CONTAINS(text, path + ": " + c.message);
      CHECK_EQ(count_lines(text), 1);
    });
    unlink(path.c_str());
  }
}

// Removes whatever this run left in /dev/shm.
void cleanup() {
  std::string prefix = std::string(GPUPOOL_REGION_NAME_PREFIX) + std::to_string(geteuid()) + "-qt" +
                       std::to_string(getpid()) + "-";
  std::string cmd = std::string("rm -f " GPUPOOL_REGION_DIR "/") + prefix + "*";
  if (std::system(cmd.c_str()) != 0) dt::info("cleanup failed: %s", cmd.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--after-exec") == 0) return after_exec(std::atoi(argv[2]));
  // The test's own process never attaches: its children inherit no engine state.
  unsetenv("GPUPOOL_LOG");
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "GPUPOOL_MEMORY_LIMIT_", 21) == 0) {
      std::string name(*e, std::strchr(*e, '=') - *e);
      unsetenv(name.c_str());
      e = environ - 1;
    }
  }
  test_parse_size();
  test_job_keys();
  test_config();
  test_limits_per_device();
  test_refused_environment();
  test_default_job();
  test_log_level();
  test_fork_shares_quota();
  test_exec();
  test_slots_exhausted();
  test_sigkill_reclaim();
  test_storm();
  test_lock_owner_dies();
  test_limits_from_creator();
  test_lifetime();
  test_corrupt_regions();
  cleanup();
  return dt::finish();
}
