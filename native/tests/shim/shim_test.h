// shim_test.h — process plumbing for the shim's black-box tests.
//
// Every test program runs in two layers:
//   outer  started by ctest (LD_PRELOAD=<build>/lib/libgpupool-shim.so in its
//          environment); it never calls the driver. It picks a job key unique to
//          this run (GPUPOOL_JOB=<program>-<role>-<pid>), runs the inner layer as
//          its own process group with a deadline, and afterwards unlinks the
//          job's shared-memory region(s) /dev/shm/gpupool-<uid>-<job>*.
//   inner  the same executable with GPUPOOL_TEST_INNER=1: the actual test. It
//          may start more copies of itself in other roles (spawn_self), with or
//          without the shim, sharing the job key or not.
//
// Only documented behaviour is used: the environment variables of the issue,
// the driver API, and the region's file name (/dev/shm/gpupool-<uid>-<job>).
#pragma once

#include "driver_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace st {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

inline bool is_inner() { return std::getenv("GPUPOOL_TEST_INNER") != nullptr; }

inline std::string self_exe() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "/proc/self/exe";
  exe[n] = 0;
  return exe;
}

// The region file the issue documents for a job of this user.
inline std::string region_path(const std::string& job) {
  return "/dev/shm/gpupool-" + std::to_string(geteuid()) + "-" + job;
}

// Unlinks /dev/shm/gpupool-<uid>-<job> and anything named after it with a
// suffix (in case the shim keeps a side file); returns how many it removed.
inline int unlink_regions(const std::string& job) {
  std::string prefix = "gpupool-" + std::to_string(geteuid()) + "-" + job;
  int removed = 0;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      // "<prefix>" itself or "<prefix><non-alnum>...", not another job that
      // merely starts with the same characters.
      if (name.size() > prefix.size() && std::isalnum(static_cast<unsigned char>(name[prefix.size()])))
        continue;
      if (unlink(("/dev/shm/" + name).c_str()) == 0) ++removed;
    }
    closedir(d);
  }
  return removed;
}

// ---- environment and child processes ----------------------------------------

struct Env {
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
  Env& put(const std::string& k, const std::string& v) {
    set[k] = v;
    return *this;
  }
  Env& drop(const std::string& k) {
    unset.push_back(k);
    return *this;
  }
  // The shim off: a child that shows what the driver itself reports.
  Env& no_shim() { return drop("LD_PRELOAD"); }
};

inline std::vector<std::string> build_env(const Env& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool skip = env.set.count(key) > 0;
    for (const auto& u : env.unset) skip = skip || u == key;
    if (!skip) out.push_back(kv);
  }
  for (const auto& [k, v] : env.set) out.push_back(k + "=" + v);
  return out;
}

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // its stdout, when captured
  int err_fd = -1;  // its stderr, when captured
  int in_fd = -1;   // a pipe to its stdin, when asked for
};

struct SpawnOptions {
  Env env;
  bool capture_stdout = false;
  bool capture_stderr = false;
  bool pipe_stdin = false;
  bool new_process_group = false;
};

// fork + execve(exe, args). Pipes as asked; the child's other fds are closed
// on exec by O_CLOEXEC.
inline Child spawn(const std::string& exe, const std::vector<std::string>& args, const SpawnOptions& o) {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
  if (o.capture_stdout && pipe2(out, O_CLOEXEC) != 0) std::perror("pipe");
  if (o.capture_stderr && pipe2(err, O_CLOEXEC) != 0) std::perror("pipe");
  if (o.pipe_stdin && pipe2(in, O_CLOEXEC) != 0) std::perror("pipe");
  std::vector<std::string> envs = build_env(o.env);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  std::vector<std::string> argv_s = {exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (o.new_process_group) setpgid(0, 0);
    if (o.capture_stdout) dup2(out[1], 1);
    if (o.capture_stderr) dup2(err[1], 2);
    if (o.pipe_stdin) dup2(in[0], 0);
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  Child c;
  c.pid = pid;
  if (o.capture_stdout) close(out[1]), c.out_fd = out[0];
  if (o.capture_stderr) close(err[1]), c.err_fd = err[0];
  if (o.pipe_stdin) close(in[0]), c.in_fd = in[1];
  return c;
}

// Another copy of this program in role `role` (argv[1]), as an inner process.
inline Child spawn_self(const std::string& role, std::vector<std::string> args, SpawnOptions o) {
  args.insert(args.begin(), role);
  o.env.put("GPUPOOL_TEST_INNER", "1");
  return spawn(self_exe(), args, o);
}

// Reads fd to EOF and closes it.
inline std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) s.append(buf, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  close(fd);
  return s;
}

// Reads one '\n'-terminated line (without it); "" on EOF or after timeout_ms.
inline std::string read_line(int fd, int timeout_ms = 30000) {
  std::string s;
  char ch;
  double deadline = dt::now_ms() + timeout_ms;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(deadline - dt::now_ms());
    if (left <= 0 || poll(&p, 1, left) <= 0) return s;
    ssize_t n = read(fd, &ch, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || ch == '\n') return s;
    s += ch;
  }
}

inline void write_line(int fd, const std::string& line) {
  std::string s = line + "\n";
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Waits for pid for at most timeout_ms; kills it (SIGKILL) when it overruns.
// Returns the exit status, 128+signal for a signalled child, -1 on timeout.
inline int wait_child(pid_t pid, int timeout_ms = 30000) {
  double deadline = dt::now_ms() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -2;
    }
    if (r < 0 && errno != EINTR) return -3;
    if (dt::now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

// ---- the outer layer ----------------------------------------------------------

// Call first in main(). In the outer process it runs the inner one and exits
// with its status; in the inner process it returns. `needs_shim`: fail at once
// when LD_PRELOAD does not name an existing file (the loader would only warn).
inline void run_isolated(int argc, char** argv, bool needs_shim = true, int deadline_s = 0) {
  if (is_inner()) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    return;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* preload = std::getenv("LD_PRELOAD");
  if (needs_shim && (!preload || !*preload || !dt::file_exists(preload))) {
    std::printf("%s: LD_PRELOAD=%s does not name the built shim (build the gpupool shim first)\n",
                dt::program_name(), preload ? preload : "(unset)");
    std::exit(1);
  }
  std::string role = argc > 1 ? argv[1] : "main";
  std::string job = std::string(dt::program_name()) + "-" + role + "-" + std::to_string(getpid());
  for (auto& c : job)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
  if (deadline_s <= 0) deadline_s = std::atoi(env_or("GPUPOOL_TEST_DEADLINE", "50").c_str());
  SpawnOptions o;
  o.env.put("GPUPOOL_JOB", job).put("GPUPOOL_TEST_INNER", "1").put("GPUPOOL_TEST_JOB", job);
  o.new_process_group = true;
  std::vector<std::string> args(argv + 1, argv + argc);
  Child c = spawn(self_exe(), args, o);
  setpgid(c.pid, c.pid);  // also here, so the group exists before we might kill it
  int status = wait_child(c.pid, deadline_s * 1000);
  if (status == -1) {
    std::printf("%s: TIMEOUT after %d s (a deadlock?); killed process group %d\n", dt::program_name(),
                deadline_s, c.pid);
  } else if (status >= 128) {
    std::printf("%s: the test process died of signal %d (%s)\n", dt::program_name(), status - 128,
                strsignal(status - 128));
  }
  kill(-c.pid, SIGKILL);  // stragglers of the group (children of a crashed test)
  usleep(10000);
  int removed = unlink_regions(job);
  if (removed > 0)
    std::printf("   info: removed %d region file(s) of job %s\n", removed, job.c_str());
  std::exit(status == 0 ? 0 : 1);
}

// The job key the outer layer chose (GPUPOOL_JOB of the inner process).
inline std::string job() { return env_or("GPUPOOL_TEST_JOB", env_or("GPUPOOL_JOB", "")); }

// ---- driver helpers ---------------------------------------------------------------

struct MemInfo {
  CUresult r = CUDA_ERROR_UNKNOWN;
  size_t free = 0, total = 0;
};

inline MemInfo mem_info() {
  MemInfo m;
  m.r = cuMemGetInfo(&m.free, &m.total);
  return m;
}

// Parses "4GiB", "512MiB", "1.5GB", "123" (what the shim's documentation uses).
inline size_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = end ? end : "";
  double m = 1;
  if (unit == "KiB") m = 1024.0;
  else if (unit == "MiB") m = 1024.0 * 1024;
  else if (unit == "GiB") m = 1024.0 * 1024 * 1024;
  else if (unit == "TiB") m = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "KB") m = 1e3;
  else if (unit == "MB") m = 1e6;
  else if (unit == "GB") m = 1e9;
  else if (unit == "TB") m = 1e12;
  return static_cast<size_t>(v * m);
}

// GPUPOOL_MEMORY_LIMIT as the test was configured (ctest ENVIRONMENT).
inline size_t configured_quota() { return parse_size(env_or("GPUPOOL_MEMORY_LIMIT", "0")); }

inline std::string mib(size_t bytes) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f MiB", static_cast<double>(bytes) / kMiB);
  return b;
}

}  // namespace st
