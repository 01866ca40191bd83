// A job started by the node agent takes its quota from the agent's node table
// (native/include/gpupool/node_table.h). This program is the fake agent
// (fake_agent.h): it builds tables, publishes entries, and starts copies of
// itself under the shim with the environment `gpupool run` gives a job.
// Scenarios:
//   main     the table's limit is the quota (cuMemGetInfo, cuDeviceTotalMem,
//            an allocation over it fails, one at it succeeds) and
//            GPUPOOL_MEMORY_LIMIT* are ignored; a limit raised and lowered
//            while the job runs; the table is mapped read-only; an entry
//            released, reused or re-keyed while the job runs makes later
//            allocations fail (frees work, one warning); tables and
//            environments that must be refused (allocations fail, stderr says
//            why, once).
//   visible  (sim only, 4 devices) GPUPOOL_VISIBLE_DEVICES=2,3: the job's
//            devices 0 and 1 have the limits of physical devices 2 and 3; with
//            the job's own CUDA_VISIBLE_DEVICES=1, its device 0 has physical 3's.
//
// ctest: GPUPOOL_MEMORY_LIMIT=64TiB (which must not apply).
#include "fake_agent.h"

#include <sys/resource.h>

namespace {

constexpr size_t kStep = 2 * st::kMiB;

using namespace fa;

// ---- roles (inner processes under the shim) --------------------------------------

// The current device shows and enforces `limit`.
void check_limit_on_current(size_t limit) {
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, limit);
  CHECK_EQ(m.free, limit);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, limit + kStep), CUDA_ERROR_OUT_OF_MEMORY);
  bool got = CHECK_CU(cuMemAlloc(&p, limit), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  if (got) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

// "devices <limit of job device 0> [<limit of job device 1> ...]"
int role_devices(int argc, char** argv) {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  int n = 0;
  CHECK_CU(cuDeviceGetCount(&n), CUDA_SUCCESS);
  CHECK_EQ(n, argc - 2);
  for (int d = 0; d < argc - 2 && d < n; ++d) {
    const size_t limit = std::stoull(argv[2 + d]);
    size_t total = 0;
    CHECK_CU(cuDeviceTotalMem(&total, d), CUDA_SUCCESS);
    CHECK_EQ(total, limit);
    CUcontext ctx = nullptr;
    REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, d), CUDA_SUCCESS);
    REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
    check_limit_on_current(limit);
    CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
    CHECK_CU(cuDevicePrimaryCtxRelease(d), CUDA_SUCCESS);
  }
  return dt::finish();
}

// "change <L> <raised> <lowered>": full at L; after "raised", full at <raised>;
// after "lowered" (below what it holds), nothing more until it frees.
int role_change(size_t limit, size_t raised, size_t lowered) {
  CUdevice dev = dt::init_primary();
  CUdeviceptr a = 0, b = 0, c = 0;
  CHECK_CU(cuMemAlloc(&a, limit), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&b, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  st::write_line(1, "full");
  CHECK_EQ(st::read_line(0), std::string("raised"));
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.total, raised);
  CHECK_EQ(m.free, raised - limit);
  CHECK_CU(cuMemAlloc(&b, raised - limit + kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&b, raised - limit), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&c, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  st::write_line(1, "full");
  CHECK_EQ(st::read_line(0), std::string("lowered"));
  m = st::mem_info();
  CHECK_EQ(m.total, lowered);
  CHECK_EQ(m.free, size_t{0});
  CHECK_CU(cuMemAlloc(&c, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  check_limit_on_current(lowered);
  dt::release_primary(dev);
  st::write_line(1, "done");
  return dt::finish();
}

// "maps": the shim's mapping of the table is read-only, and a write through
// it faults (in a forked child).
int role_maps() {
  CUdevice dev = dt::init_primary();
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, kStep), CUDA_SUCCESS);  // the shim has attached
  const std::string path = st::env_or("GPUPOOL_AGENT_TABLE", "?");
  std::string maps;
  REQUIRE(dt::read_file("/proc/self/maps", &maps));
  int found = 0;
  unsigned long start = 0;
  size_t pos = 0;
  while (pos < maps.size()) {
    size_t end = maps.find('\n', pos);
    std::string line = maps.substr(pos, end - pos);
    pos = end == std::string::npos ? maps.size() : end + 1;
    if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path) != 0) continue;
    ++found;
    char perms[8] = {0};
    unsigned long to = 0;
    CHECK(std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &to, perms) == 3);
    dt::info("table mapping: %s", line.c_str());
    CHECK_MSG(perms[0] == 'r' && perms[1] == '-' && perms[3] == 's', line);
  }
  CHECK_EQ(found, 1);
  if (found == 1) {
    std::fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
      rlimit no_core{0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      signal(SIGSEGV, SIG_DFL);  // die of the fault, even under a sanitizer's handler
      signal(SIGBUS, SIG_DFL);
      *reinterpret_cast<volatile char*>(start) = 'X';
      _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK_MSG(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS),
              "a write through the shim's mapping of the table did not fault (status " + std::to_string(status) + ")");
  }
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}

// "lost": holds memory; after "changed" (the agent took the entry back),
// allocations fail, the free works.
int role_lost() {
  CUdevice dev = dt::init_primary();
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, 4 * st::kMiB), CUDA_SUCCESS);
  st::write_line(1, "holding");
  CHECK_EQ(st::read_line(0), std::string("changed"));
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAllocManaged(&q, kStep, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, size_t{0});  // fails closed: no quota left to show
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  dt::release_primary(dev);
  st::write_line(1, "done");
  return dt::finish();
}

// "try": what two small allocations return ("alloc <r1> <r2>").
int role_try() {
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

// ---- the scenarios (the fake agent) -----------------------------------------------

constexpr int kEntry = 3;                        // the job's entry
const size_t kLimit = 96 * st::kMiB;              // on physical device 0
const size_t kOtherLimit = 32 * st::kMiB;         // on the other physical devices
const size_t kDecoyLimit = 8 * st::kMiB;          // another job's entry

// A table with the job at kEntry and another job at 0 (different limits).
Table job_table(const std::string& tag, const std::vector<uint64_t>& limits) {
  Table tb = create_table(tag);
  publish(tb, 0, "someone-else", {0}, {kDecoyLimit, kDecoyLimit, kDecoyLimit, kDecoyLimit});
  publish(tb, kEntry, st::job(), {0}, limits);
  return tb;
}

void quota_from_table() {
  dt::section("the table's limit is the quota; GPUPOOL_MEMORY_LIMIT=64TiB is ignored; quiet");
  Table tb = job_table("quota", {kLimit, kOtherLimit, kOtherLimit, kOtherLimit});
  Run r = run_role("devices", {std::to_string(kLimit)}, agent_env(tb, kEntry));
  check_passed(r);
  CHECK_MSG(r.err.empty(), "stderr without GPUPOOL_LOG: " + r.err);

  dt::section("GPUPOOL_LOG=info says the agent's quota applies");
  st::Env env = agent_env(tb, kEntry);
  env.put("GPUPOOL_LOG", "info");
  r = run_role("devices", {std::to_string(kLimit)}, env);
  check_passed(r);
  CHECK_MSG(r.err.find("the agent's quota applies") != std::string::npos, "stderr: " + r.err);
  CHECK_MSG(r.err.find(tb.path) != std::string::npos, "stderr: " + r.err);
}

void limit_changes_while_running() {
  dt::section("a limit raised, then lowered below the usage, while the job runs");
  const size_t raised = 160 * st::kMiB, lowered = 48 * st::kMiB;
  Table tb = job_table("change", {kLimit, kOtherLimit});
  st::SpawnOptions o;
  o.env = agent_env(tb, kEntry);
  o.capture_stdout = true;
  o.pipe_stdin = true;
  st::Child c = st::spawn_self("change", {std::to_string(kLimit), std::to_string(raised), std::to_string(lowered)}, o);
  uint64_t* limit0 = &tb.t->jobs[kEntry].limit_bytes[0];
  bool ok = wait_for(c.out_fd, "full");
  CHECK_MSG(ok, "the job never reached its first limit");
  if (ok) {
    gpupool_node_store_u64(limit0, raised);
    st::write_line(c.in_fd, "raised");
    ok = wait_for(c.out_fd, "full");
    CHECK_MSG(ok, "the job never reached the raised limit");
  }
  if (ok) {
    gpupool_node_store_u64(limit0, lowered);
    st::write_line(c.in_fd, "lowered");
    CHECK_MSG(wait_for(c.out_fd, "done"), "the job did not finish");
  }
  close(c.in_fd);
  std::string rest = st::read_all(c.out_fd);
  if (!rest.empty()) std::printf("%s", rest.c_str());
  CHECK_EQ(st::wait_child(c.pid), 0);
}

void mapped_read_only() {
  dt::section("the job maps the table read-only: no 'w' in /proc/self/maps, a write faults");
  Table tb = job_table("maps", {kLimit});
  Run r = run_role("maps", {}, agent_env(tb, kEntry));
  check_passed(r);
  CHECK_MSG(r.out.find(tb.path) != std::string::npos, "the child did not report the table's mapping");
  CHECK_EQ(std::string(tb.t->header.magic), std::string(GPUPOOL_NODE_TABLE_MAGIC));  // nothing written
}

// The agent changes the entry while the job holds memory.
void entry_lost(const char* what, const std::function<void(Table&)>& change) {
  dt::section(what);
  Table tb = job_table("lost", {kLimit});
  st::SpawnOptions o;
  o.env = agent_env(tb, kEntry);
  o.capture_stdout = true;
  o.capture_stderr = true;
  o.pipe_stdin = true;
  st::Child c = st::spawn_self("lost", {}, o);
  bool holding = wait_for(c.out_fd, "holding");
  CHECK_MSG(holding, "the job never held its allocation");
  if (holding) {
    change(tb);
    st::write_line(c.in_fd, "changed");
    CHECK_MSG(wait_for(c.out_fd, "done"), "the job did not finish");
  }
  close(c.in_fd);
  std::string rest = st::read_all(c.out_fd);
  if (!rest.empty()) std::printf("%s", rest.c_str());
  std::string err = st::read_all(c.err_fd);
  CHECK_EQ(st::wait_child(c.pid), 0);
  dt::info("stderr: %s", err.c_str());
  CHECK_EQ(count(err, "gpupool shim["), size_t{1});  // one warning for four refusals
  CHECK_MSG(err.find(tb.path) != std::string::npos && err.find("jobs[3]") != std::string::npos, err);
  remove_tables();
}

// A job under `env` is refused: both allocations fail with
// CUDA_ERROR_OUT_OF_MEMORY and stderr says why once, naming `must_name`.
void refused(const char* what, const st::Env& env, const std::vector<std::string>& must_name) {
  dt::section(what);
  Run r = run_role("try", {}, env);
  int init = -1, retain = -1, a1 = -1, a2 = -1;
  CHECK_EQ(std::sscanf(r.out.c_str(), "init %d retain %d alloc %d %d", &init, &retain, &a1, &a2), 4);
  CHECK_EQ(init, static_cast<int>(CUDA_SUCCESS));
  CHECK_EQ(a1, static_cast<int>(CUDA_ERROR_OUT_OF_MEMORY));
  CHECK_EQ(a2, static_cast<int>(CUDA_ERROR_OUT_OF_MEMORY));
  dt::info("stderr: %s", r.err.c_str());
  CHECK_EQ(count(r.err, "gpupool shim["), size_t{1});
  for (const std::string& name : must_name)
    CHECK_MSG(r.err.find(name) != std::string::npos, "stderr does not name " + name + ": " + r.err);
}

void refusals() {
  Table good = job_table("good", {kLimit});
  dt::section("control: the same job with a good table is not refused, whatever GPUPOOL_MEMORY_LIMIT_1 says");
  st::Env control_env = agent_env(good, kEntry);
  control_env.put("GPUPOOL_MEMORY_LIMIT_1", "lots");  // refused without the agent (test_shim_region)
  Run control = run_role("try", {}, control_env);
  CHECK_MSG(control.out.find("alloc 0 0") != std::string::npos, control.out);
  CHECK_MSG(control.err.empty(), control.err);

  refused("missing table file", agent_env(Table{table_path("missing"), nullptr}, kEntry),
          {table_path("missing"), "cannot be opened"});
  TableSpec spec;
  spec.magic = "GPUNOPE";
  Table t = create_table("magic", spec);
  publish(t, kEntry, st::job(), {0}, {kLimit});
  refused("wrong magic", agent_env(t, kEntry), {t.path, "header.magic"});
  spec = TableSpec();
  spec.size = sizeof(gpupool_node_table) + 4096;
  t = create_table("size", spec);
  publish(t, kEntry, st::job(), {0}, {kLimit});
  refused("wrong size", agent_env(t, kEntry), {t.path, std::to_string(sizeof(gpupool_node_table) + 4096) + " bytes"});
  spec = TableSpec();
  spec.layout_version = GPUPOOL_NODE_TABLE_LAYOUT_VERSION + 1;
  t = create_table("version", spec);
  publish(t, kEntry, st::job(), {0}, {kLimit});
  refused("wrong layout_version", agent_env(t, kEntry), {t.path, "header.layout_version"});
  spec = TableSpec();
  spec.owner_uid = static_cast<uint32_t>(geteuid()) + 1;
  t = create_table("owner", spec);
  publish(t, kEntry, st::job(), {0}, {kLimit});
  refused("header.owner_uid is not the file's owner", agent_env(t, kEntry), {t.path, "header.owner_uid"});
  spec = TableSpec();
  spec.mode = 0666;
  t = create_table("writable", spec);
  publish(t, kEntry, st::job(), {0}, {kLimit});
  refused("a table others may write", agent_env(t, kEntry), {t.path, "writable by group or others"});
  std::string link = table_path("symlink");
  REQUIRE(symlink(good.path.c_str(), link.c_str()) == 0);
  g_created.push_back(link);
  refused("a symbolic link to a good table (O_NOFOLLOW)", agent_env(Table{link, nullptr}, kEntry),
          {link, "cannot be opened"});

  refused("entry out of range", agent_env(good, GPUPOOL_NODE_MAX_JOBS),
          {good.path, "GPUPOOL_AGENT_ENTRY=" + std::to_string(GPUPOOL_NODE_MAX_JOBS)});
  refused("entry FREE", agent_env(good, 5), {good.path, "jobs[5].state"});
  st::Env env = agent_env(good, kEntry);
  env.put("GPUPOOL_JOB", st::job() + "-other");
  refused("key mismatch", env, {good.path, "jobs[3].key", st::job() + "-other"});
  t = create_table("uid", TableSpec());
  publish(t, kEntry, st::job(), {0}, {kLimit}, static_cast<uint32_t>(geteuid()) + 1);
  refused("entry of another user", agent_env(t, kEntry), {t.path, "jobs[3].uid"});
  env = agent_env(good, kEntry);
  env.put("GPUPOOL_AGENT_ENTRY", "abc");
  refused("GPUPOOL_AGENT_ENTRY not a number", env, {"GPUPOOL_AGENT_ENTRY='abc'"});
  env = agent_env(good, kEntry);
  env.set.erase("GPUPOOL_AGENT_ENTRY");
  env.drop("GPUPOOL_AGENT_ENTRY");
  refused("GPUPOOL_AGENT_ENTRY missing", env, {"GPUPOOL_AGENT_ENTRY"});
  env = agent_env(good, kEntry);
  env.set.erase("GPUPOOL_JOB");
  env.drop("GPUPOOL_JOB");
  refused("GPUPOOL_JOB missing", env, {"GPUPOOL_JOB"});
  env = agent_env(good, kEntry);
  env.put("GPUPOOL_AGENT_TABLE", "gpupool-node-relative");
  refused("GPUPOOL_AGENT_TABLE not absolute", env, {"GPUPOOL_AGENT_TABLE='gpupool-node-relative'"});
  remove_tables();
}

void main_scenario() {
  quota_from_table();
  limit_changes_while_running();
  mapped_read_only();
  remove_tables();
  entry_lost("the entry released (FREE, generation bumped): later allocations fail, the free works",
             [](Table& tb) { release(tb, kEntry); });
  entry_lost("the entry reused for the same key (generation bumped): later allocations fail",
             [](Table& tb) {
               release(tb, kEntry);
               publish(tb, kEntry, st::job(), {0}, {kLimit});
             });
  entry_lost("the entry given another key while RUNNING: later allocations fail", [](Table& tb) {
    std::memcpy(tb.t->jobs[kEntry].key, "someone-new", sizeof "someone-new");
  });
  refusals();
}

void visible_scenario() {
  const size_t l0 = 40 * st::kMiB, l1 = 56 * st::kMiB, l2 = 64 * st::kMiB, l3 = 48 * st::kMiB;
  Table tb = create_table("visible");
  publish(tb, 0, "someone-else", {0, 1}, {kDecoyLimit, kDecoyLimit, kDecoyLimit, kDecoyLimit});
  publish(tb, kEntry, st::job(), {2, 3}, {l0, l1, l2, l3});
  dt::section("GPUPOOL_VISIBLE_DEVICES=2,3: job devices 0 and 1 have physical 2's and 3's limits");
  Run r = run_role("devices", {std::to_string(l2), std::to_string(l3)}, agent_env(tb, kEntry, "2,3"));
  check_passed(r);
  dt::section("... and with the job's own CUDA_VISIBLE_DEVICES=1, its device 0 has physical 3's");
  st::Env env = agent_env(tb, kEntry, "2,3");
  env.put("CUDA_VISIBLE_DEVICES", "1");
  r = run_role("devices", {std::to_string(l3)}, env);
  check_passed(r);
  dt::section("GPUPOOL_VISIBLE_DEVICES=3,1: the order of the job's devices");
  r = run_role("devices", {std::to_string(l3), std::to_string(l1)}, agent_env(tb, kEntry, "3,1"));
  check_passed(r);
  remove_tables();
}

}  // namespace

int main(int argc, char** argv) {
  if (!st::is_inner()) std::atexit(remove_leftover_tables);  // run_isolated() exits
  st::run_isolated(argc, argv);
  std::string role = argc > 1 ? argv[1] : "main";
  if (role == "devices") return role_devices(argc, argv);
  if (role == "change" && argc > 4) return role_change(std::stoull(argv[2]), std::stoull(argv[3]), std::stoull(argv[4]));
  if (role == "maps") return role_maps();
  if (role == "lost") return role_lost();
  if (role == "try") return role_try();
  if (role == "main") main_scenario();
  else if (role == "visible") visible_scenario();
  else REQUIRE(!"unknown scenario");
  remove_tables();
  return dt::finish();
}
