// fake_agent.h — the node agent, faked for the shim's tests: builds node tables
// (native/include/gpupool/node_table.h) in /dev/shm as the header's Creation
// section says, publishes and releases job entries, drives time-slice grants,
// and starts roles of the test program under the shim with the environment
// `gpupool run` gives a job (GPUPOOL_AGENT_TABLE, GPUPOOL_AGENT_ENTRY,
// GPUPOOL_JOB, GPUPOOL_VISIBLE_DEVICES).
//
// Tables are named "gpupool-node-<uid>-t<outer pid>-<tag>": the fake agent is
// the outer layer's child (shim_test.h), so the outer layer removes what a
// crashed test left behind (remove_leftover_tables, registered with atexit).
// Used by test_shim_agent_table.cc, test_shim_gate.cc and test_shim_swap.cc.
#pragma once

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <functional>

#include "gpupool/node_table.h"
#include "shim_test.h"

namespace fa {

// Polls `cond` until it holds or `timeout_ms` passed; what the shim's
// background thread does is seen this way.
inline bool eventually(const std::function<bool()>& cond, int timeout_ms = 10000) {
  const double deadline = dt::now_ms() + timeout_ms;
  while (!cond()) {
    if (dt::now_ms() > deadline) return false;
    usleep(200);
  }
  return true;
}

struct TableSpec {
  const char* magic = GPUPOOL_NODE_TABLE_MAGIC;
  uint32_t layout_version = GPUPOOL_NODE_TABLE_LAYOUT_VERSION;
  uint32_t owner_uid = static_cast<uint32_t>(geteuid());
  off_t size = sizeof(gpupool_node_table);
  mode_t mode = 0644;
};

struct Table {
  std::string path;
  gpupool_node_table* t = nullptr;  // the agent's own (writable) mapping
};

inline std::vector<std::string> g_created;  // removed by remove_tables()

inline uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// "gpupool-node-<uid>-t<outer pid>-": the fake agent is the outer layer's
// child, so the outer layer can remove what a crashed agent left behind.
inline std::string table_prefix(pid_t outer) {
  return GPUPOOL_NODE_TABLE_PREFIX + std::to_string(geteuid()) + "-t" + std::to_string(outer) + "-";
}

inline std::string table_path(const std::string& tag) { return "/dev/shm/" + table_prefix(getppid()) + tag; }

// Outer layer, at exit: removes the tables (and temporaries) of this run.
inline void remove_leftover_tables() {
  const std::string prefix = table_prefix(getpid());
  int removed = 0;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d))
      if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0 &&
          unlink(("/dev/shm/" + std::string(e->d_name)).c_str()) == 0)
        ++removed;
    closedir(d);
  }
  if (removed > 0) std::printf("   info: removed %d node table file(s) left behind\n", removed);
}

// node_table.h, Creation: built under "<final name>~<pid>" (O_CREAT|O_EXCL,
// mode 0644), everything written, magic last after a release fence, renamed.
inline Table create_table(const std::string& tag, const TableSpec& spec = TableSpec()) {
  Table tb;
  tb.path = table_path(tag);
  std::string tmp = tb.path + "~" + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, spec.mode);
  REQUIRE(fd >= 0);
  g_created.push_back(tmp);
  REQUIRE(fchmod(fd, spec.mode) == 0);  // whatever the umask
  REQUIRE(ftruncate(fd, spec.size) == 0);
  void* map = mmap(nullptr, sizeof(gpupool_node_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  close(fd);
  tb.t = static_cast<gpupool_node_table*>(map);
  gpupool_node_header& h = tb.t->header;
  h.layout_version = spec.layout_version;
  h.header_size = sizeof(gpupool_node_header);
  h.table_size = sizeof(gpupool_node_table);
  h.max_devices = GPUPOOL_NODE_MAX_DEVICES;
  h.max_jobs = GPUPOOL_NODE_MAX_JOBS;
  h.owner_uid = spec.owner_uid;
  h.created_unix_ns = now_ns();
  h.agent_pid = getpid();
  h.device_count = 4;
  for (uint32_t d = 0; d < h.device_count; ++d) {
    tb.t->devices[d].total_bytes = 16 * st::kGiB;
    std::snprintf(tb.t->devices[d].name, sizeof tb.t->devices[d].name, "fake device %u", d);
  }
  for (uint32_t d = 0; d < h.device_count; ++d) {  // no gate until the scheduler says otherwise
    gpupool_node_store_grant(&tb.t->slices[d].grant, GPUPOOL_SLICE_GRANT(1, GPUPOOL_SLICE_OPEN));
    tb.t->slices[d].depth = 1;
  }
  gpupool_node_store_u64(&h.heartbeat_unix_ns, now_ns());
  h.next_job_id = 1;
  __atomic_thread_fence(__ATOMIC_RELEASE);
  std::memcpy(h.magic, spec.magic, sizeof h.magic);
  REQUIRE(rename(tmp.c_str(), tb.path.c_str()) == 0);
  g_created.back() = tb.path;
  return tb;
}

// Identity while FREE, then state RUNNING (release). limits[p]: physical device p.
inline void publish(Table& tb, int i, const std::string& key, const std::vector<int>& devices,
             const std::vector<uint64_t>& limits, uint32_t uid = static_cast<uint32_t>(geteuid())) {
  gpupool_node_job& j = tb.t->jobs[i];
  REQUIRE(gpupool_node_load_state(&j.state) == GPUPOOL_JOB_FREE);
  REQUIRE(key.size() < sizeof j.key);
  j.uid = uid;
  j.job_id = tb.t->header.next_job_id++;
  std::memset(j.key, 0, sizeof j.key);
  std::memcpy(j.key, key.data(), key.size());
  std::snprintf(j.name, sizeof j.name, "agent-table-test");
  std::snprintf(j.team, sizeof j.team, "gpupool");
  j.launcher_pid = getpid();
  j.device_count = static_cast<uint32_t>(devices.size());
  for (size_t k = 0; k < devices.size(); ++k) j.devices[k] = devices[k];
  j.submitted_unix_ns = j.started_unix_ns = now_ns();
  gpupool_node_store_u64(&j.weight, 1);
  for (uint32_t p = 0; p < GPUPOOL_NODE_MAX_DEVICES; ++p)
    gpupool_node_store_u64(&j.limit_bytes[p], p < limits.size() ? limits[p] : 0);
  gpupool_node_store_state(&j.state, GPUPOOL_JOB_RUNNING);
}

// Released: FREE first, then the generation bumped (node_table.h, Threading).
inline void release(Table& tb, int i) {
  gpupool_node_job& j = tb.t->jobs[i];
  gpupool_node_store_state(&j.state, GPUPOOL_JOB_FREE);
  gpupool_node_store_u64(&j.generation, gpupool_node_load_u64(&j.generation) + 1);
}

inline void remove_tables() {
  for (const std::string& p : g_created) unlink(p.c_str());
  g_created.clear();
}

// The environment `gpupool run` gives a job; GPUPOOL_MEMORY_LIMIT* must not apply.
inline st::Env agent_env(const Table& tb, int entry, const std::string& visible = "0") {
  st::Env e;
  e.put("GPUPOOL_AGENT_TABLE", tb.path)
      .put("GPUPOOL_AGENT_ENTRY", std::to_string(entry))
      .put("GPUPOOL_JOB", st::job())
      .put("GPUPOOL_VISIBLE_DEVICES", visible)
      .put("GPUPOOL_MEMORY_LIMIT", "64TiB")
      .put("GPUPOOL_MEMORY_LIMIT_0", "64TiB");
  return e;
}

struct Run {
  int rc = -1;
  std::string out, err;
};

// Runs role `role` to the end; its stdout and stderr are captured.
inline Run run_role(const std::string& role, const std::vector<std::string>& args, const st::Env& env) {
  st::SpawnOptions o;
  o.env = env;
  o.capture_stdout = true;
  o.capture_stderr = true;
  st::Child c = st::spawn_self(role, args, o);
  Run r;
  r.out = st::read_all(c.out_fd);  // both are short: no pipe fills up
  r.err = st::read_all(c.err_fd);
  r.rc = st::wait_child(c.pid);
  std::string out = r.out;
  for (size_t at = 0; (at = out.find('\n', at)) != std::string::npos && at + 1 < out.size(); at += 4)
    out.replace(at, 1, "\n   ");
  std::printf("   %s child (rc %d): %s", role.c_str(), r.rc, out.c_str());
  if (r.rc != 0) std::printf("   its stderr: %s\n", r.err.c_str());
  return r;
}

// The child ran its checks and none failed.
inline void check_passed(const Run& r) {
  CHECK_EQ(r.rc, 0);
  CHECK_MSG(r.out.find(" checks, 0 failed") != std::string::npos && r.out.find(": 0 checks") == std::string::npos,
            "no passing check summary from the child");
}

inline size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// Reads lines until `want`, echoing the others (the child's own check output).
inline bool wait_for(int fd, const std::string& want) {
  for (;;) {
    std::string line = st::read_line(fd);
    if (line == want) return true;
    if (line.empty()) return false;
    std::printf("   child: %s\n", line.c_str());
  }
}

// ---- time slices -------------------------------------------------------------------

// The table at `path` mapped read-write by another process of the agent's user
// (a test thread that plays the scheduler beside the job it schedules).
inline Table map_table(const std::string& path) {
  Table tb;
  tb.path = path;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* map = mmap(nullptr, sizeof(gpupool_node_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  close(fd);
  tb.t = static_cast<gpupool_node_table*>(map);
  return tb;
}

// slices[p] goes to `holder` (entry + 1, GPUPOOL_SLICE_OPEN or _NOBODY), with
// the next sequence number, as the scheduler stores it.
inline void grant(Table& tb, int p, uint32_t holder) {
  uint64_t* g = &tb.t->slices[p].grant;
  gpupool_node_store_grant(g, GPUPOOL_SLICE_GRANT(GPUPOOL_SLICE_SEQ(gpupool_node_load_grant(g)) + 1, holder));
}

inline void set_depth(Table& tb, int p, uint32_t depth) {
  __atomic_store_n(&tb.t->slices[p].depth, depth, __ATOMIC_RELEASE);
}

inline void set_quantum(Table& tb, int p, uint64_t quantum_ns) {
  __atomic_store_n(&tb.t->slices[p].quantum_ns, quantum_ns, __ATOMIC_RELEASE);
}

}  // namespace fa
