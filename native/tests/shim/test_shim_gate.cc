// The time-slice gate (issue 6): a job started by the node agent submits
// device work on a device only while it holds the device's slice
// (native/include/gpupool/node_table.h "Time slices"), and accounts it in its
// gate row (control_region.h "Gates").
//
// The scenario process is the fake agent (fake_agent.h): it builds a table
// with this job at kEntry and another job at kOther, and runs each role as a
// child under the shim with the agent's environment. A role is the job; it
// maps the same table read-write and plays the scheduler on a second thread
// (grants, revocations), and reads its own gate row from the job's region.
// Roles:
//   open      holder OPEN: launches and copies run, nothing waits, nothing counted
//   blocks    another job holds: a launch blocks (waiting 1) until the grant
//             comes; wait_ns covers the blocked time; device_ns the spin's time
//   drain     in_flight is 1 while a spin runs and comes back to 0 after it
//             completes although the job makes no further call (gate thread);
//             device_ns grows by about the spin's time
//   teardown  destroying a context or releasing the last reference to a
//             primary one retires the gated work in it first (in_flight 0 when
//             the call returns); a new context gets new events
//   depth <n> [<most> <least>]  four threads launching 2 ms kernels on four
//             streams never have more than n gated operations in flight — nor
//             more than <most>, and at some time at least <least>, when the
//             shim's time budget (a tenth of the slice's quantum) is what binds
//   ops       cooperative launches, cuLaunchKernelEx, _ptsz launches, memsets
//             and copies (sync and async) block while another job holds, run
//             once granted, and compute the right data
//   graph     stream capture while another job holds does not wait (nothing
//             runs); launching the captured graph blocks until granted, and its
//             device time counts
//   revoke    holder NOBODY: a new launch blocks while the work in flight
//             completes (in_flight reaches 0), then runs when granted
//   released  the job's entry released: gated work fails with NOT_PERMITTED
//   agent-gone  the agent's process is dead: work runs although another job
//             holds the slice (jobs keep running when the agent dies)
//   no-agent  without an agent table the gate is inactive: the row stays zero
#include "fake_agent.h"

#include <sched.h>

#include <atomic>
#include <functional>
#include <thread>

#include "gpupool/control_region.h"

namespace {

using namespace fa;

constexpr int kEntry = 2;  // this job
constexpr int kOther = 5;  // another job of the node
constexpr uint32_t kMine = kEntry + 1;
constexpr uint32_t kTheirs = kOther + 1;
constexpr uint64_t kMs = 1000 * 1000;

uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- the job's side ------------------------------------------------------------------

// This process's gate row for physical device 0, read from the job's region
// the shim maps (read-only here: only the shim writes it).
struct GateRow {
  const gpupool_region_gate* g = nullptr;
  uint32_t in_flight() const { return gpupool_gate_load_u32(&g->in_flight); }
  uint32_t waiting() const { return gpupool_gate_load_u32(&g->waiting); }
  uint64_t device_ns() const { return gpupool_gate_load_u64(&g->device_ns); }
  uint64_t wait_ns() const { return gpupool_gate_load_u64(&g->wait_ns); }
  uint64_t last_submit_ns() const { return gpupool_gate_load_u64(&g->last_submit_ns); }
};

GateRow my_gate_row() {
  const std::string path = st::region_path(st::job());
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* map = mmap(nullptr, sizeof(gpupool_region), PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  close(fd);
  const auto* r = static_cast<const gpupool_region*>(map);
  for (uint32_t i = 0; i < GPUPOOL_REGION_MAX_SLOTS; ++i)
    if (__atomic_load_n(&r->slots[i].state, __ATOMIC_ACQUIRE) == GPUPOOL_SLOT_LIVE && r->slots[i].pid == getpid())
      return GateRow{&r->gates[i].device[0]};
  REQUIRE(!"this process holds no slot in the job's region");
  return GateRow{};
}

// The job: device 0's primary context, the spin kernel, its region slot (an
// allocation makes the shim attach), the table mapped for the scheduler thread.
struct Job {
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUfunction spin = nullptr;
  CUdeviceptr scratch = 0;
  Table table;
  GateRow row;
};

Job start_job() {
  Job j;
  j.dev = dt::init_primary(&j.ctx);
  j.spin = dt::get_function(dt::load_kernel_module("spin"), "spin");
  REQUIRE_CU(cuMemAlloc(&j.scratch, st::kMiB), CUDA_SUCCESS);
  j.table = map_table(st::env_or("GPUPOOL_AGENT_TABLE", "?"));
  j.row = my_gate_row();
  return j;
}

void end_job(Job& j) {
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(j.scratch), CUDA_SUCCESS);
  dt::release_primary(j.dev);
}

// Runs `op` on its own thread (with the job's context current); records when it returns.
struct Submitter {
  std::atomic<bool> returned{false};
  CUresult result = CUDA_ERROR_UNKNOWN;
  uint64_t called_ns = 0, returned_ns = 0;
  std::thread thread;
  Submitter(CUcontext ctx, std::function<CUresult()> op) {
    thread = std::thread([this, ctx, op] {
      cuCtxSetCurrent(ctx);
      called_ns = mono_ns();
      result = op();
      returned_ns = mono_ns();
      returned.store(true);
    });
  }
  void join() { thread.join(); }
};

// `op` blocks at the gate while kOther holds device 0, and runs once this job does.
void blocks_until_granted(Job& j, const char* what, const std::function<CUresult()>& op) {
  dt::section(what);
  grant(j.table, 0, kTheirs);
  Submitter s(j.ctx, op);
  CHECK_MSG(eventually([&] { return j.row.waiting() == 1; }), "nobody waits at the gate");
  usleep(20 * 1000);
  CHECK_MSG(!s.returned.load(), std::string(what) + " ran while another job held the slice");
  grant(j.table, 0, kMine);
  s.join();
  CHECK_CU(s.result, CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK(eventually([&] { return j.row.in_flight() == 0 && j.row.waiting() == 0; }));
}

// ---- roles -------------------------------------------------------------------------

int role_open() {
  Job j = start_job();
  std::vector<uint32_t> host(1024, 7), back(1024, 0);
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 5), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(j.scratch, host.data(), 4096), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(j.scratch + 4096, 9, 16), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(back.data(), j.scratch, 4096), CUDA_SUCCESS);
  CHECK(back == host);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK_EQ(j.row.waiting(), 0u);
  CHECK_EQ(j.row.wait_ns(), uint64_t{0});
  CHECK_EQ(j.row.device_ns(), uint64_t{0});  // OPEN: nothing timed
  CHECK_EQ(j.row.last_submit_ns(), uint64_t{0});
  end_job(j);
  return dt::finish();
}

int role_blocks() {
  Job j = start_job();  // the scenario gave device 0 to kOther
  Submitter s(j.ctx, [&] { return dt::launch_spin(j.spin, nullptr, 10); });
  CHECK_MSG(eventually([&] { return j.row.waiting() == 1; }), "the launch does not wait at the gate");
  const uint64_t blocked_seen = mono_ns();
  usleep(50 * 1000);
  CHECK_MSG(!s.returned.load(), "the launch ran while another job held the slice");
  CHECK_EQ(j.row.in_flight(), 0u);
  const uint64_t granted = mono_ns();
  grant(j.table, 0, kMine);
  s.join();
  CHECK_CU(s.result, CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK(eventually([&] { return j.row.in_flight() == 0; }));
  CHECK_EQ(j.row.waiting(), 0u);
  const uint64_t waited = j.row.wait_ns();
  dt::info("wait_ns %.1f ms (blocked >= %.1f ms, launch call %.1f ms)", waited / 1e6,
           (granted - blocked_seen) / 1e6, (s.returned_ns - s.called_ns) / 1e6);
  CHECK(waited >= granted - blocked_seen);
  CHECK(waited <= s.returned_ns - s.called_ns);
  CHECK(j.row.device_ns() >= 10 * kMs * 99 / 100);
  end_job(j);
  return dt::finish();
}

int role_drain() {
  Job j = start_job();  // holder: this job
  const double spin_ms = 300;
  const uint64_t before = mono_ns();
  CHECK_CU(dt::launch_spin(j.spin, nullptr, spin_ms), CUDA_SUCCESS);
  const uint32_t right_after = j.row.in_flight();
  CHECK_EQ(right_after, 1u);
  CHECK(j.row.last_submit_ns() >= before && j.row.last_submit_ns() <= mono_ns());
  // No CUDA call from here on: only the shim's own thread can see the end.
  CHECK_MSG(eventually([&] { return j.row.in_flight() == 0; }), "in_flight stays up after the work completed");
  const uint64_t device_ns = j.row.device_ns();
  dt::info("device_ns %.3f ms for a %.0f ms spin", device_ns / 1e6, spin_ms);
  CHECK(device_ns >= static_cast<uint64_t>(spin_ms * kMs * 0.99));
  CHECK(device_ns <= static_cast<uint64_t>(spin_ms * kMs * 2));
  end_job(j);
  return dt::finish();
}

int role_teardown() {
  Job j = start_job();  // holder: this job
  CHECK_CU(cuMemFree(j.scratch), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 100), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 1u);
  // The last release destroys the primary context: the gate retires its work first.
  dt::release_primary(j.dev);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK(j.row.device_ns() >= 100 * kMs * 99 / 100);
  // A new life of the context gets new events.
  CUcontext ctx = nullptr;
  dt::init_primary(&ctx);
  CUfunction spin = dt::get_function(dt::load_kernel_module("spin"), "spin");
  CHECK_CU(dt::launch_spin(spin, nullptr, 5), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK(eventually([&] { return j.row.in_flight() == 0; }));
  CHECK(j.row.device_ns() >= 105 * kMs * 99 / 100);
  // cuCtxDestroy with work in flight, in a context of its own.
  CUcontext own = nullptr;
  REQUIRE_CU(cuCtxCreate(&own, nullptr, 0, j.dev), CUDA_SUCCESS);  // pushed: current
  CUfunction own_spin = dt::get_function(dt::load_kernel_module("spin"), "spin");
  CHECK_CU(dt::launch_spin(own_spin, nullptr, 50), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 1u);
  CHECK_CU(cuCtxDestroy(own), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_depth(uint32_t depth, uint32_t most_allowed, uint32_t least_reached) {
  Job j = start_job();  // holder: this job; slices[0].depth = depth
  std::atomic<bool> done{false};
  std::atomic<uint32_t> most{0};
  std::thread monitor([&] {
    while (!done.load()) {
      uint32_t n = j.row.in_flight();
      if (n > most.load()) most.store(n);
      sched_yield();
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      cuCtxSetCurrent(j.ctx);
      CUstream s = nullptr;
      if (cuStreamCreate(&s, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) ++failures;
      for (int i = 0; i < 10; ++i)
        if (dt::launch_spin(j.spin, s, 2) != CUDA_SUCCESS) ++failures;
      if (cuStreamSynchronize(s) != CUDA_SUCCESS || cuStreamDestroy(s) != CUDA_SUCCESS) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(eventually([&] { return j.row.in_flight() == 0; }));
  done.store(true);
  monitor.join();
  CHECK_EQ(failures.load(), 0);
  dt::info("most gated operations in flight: %u (depth %u)", most.load(), depth);
  CHECK(most.load() >= least_reached);
  CHECK(most.load() <= depth);
  CHECK(most.load() <= most_allowed);
  CHECK(j.row.device_ns() >= 40 * 2 * kMs * 99 / 100);
  end_job(j);
  return dt::finish();
}

int role_ops() {
  Job j = start_job();
  const size_t n = 4096;
  std::vector<uint32_t> host(n), back(n, 0);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<uint32_t>(i * 2654435761u);
  CUdeviceptr a = j.scratch, b = j.scratch + n * 4, c = j.scratch + 2 * n * 4;
  CUstream stream = nullptr;
  REQUIRE_CU(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  unsigned long long spin_ns = 2 * kMs;
  void* spin_args[] = {&spin_ns};

  blocks_until_granted(j, "cuLaunchCooperativeKernel", [&] {
    return cuLaunchCooperativeKernel(j.spin, 1, 1, 1, 1, 1, 1, 0, stream, spin_args);
  });
  blocks_until_granted(j, "cuLaunchKernelEx", [&] {
    CUlaunchConfig config{};
    config.gridDimX = config.gridDimY = config.gridDimZ = 1;
    config.blockDimX = config.blockDimY = config.blockDimZ = 1;
    config.hStream = stream;
    return cuLaunchKernelEx(&config, j.spin, spin_args, nullptr);
  });
  using LaunchFn = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                CUstream, void**, void**);
  void* ptsz = nullptr;
  CUdriverProcAddressQueryResult status{};
  REQUIRE_CU(cuGetProcAddress("cuLaunchKernel", &ptsz, CUDA_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                              &status),
             CUDA_SUCCESS);
  blocks_until_granted(j, "cuLaunchKernel_ptsz (cuGetProcAddress, per-thread stream)", [&] {
    return reinterpret_cast<LaunchFn>(ptsz)(j.spin, 1, 1, 1, 1, 1, 1, 0, nullptr, spin_args, nullptr);
  });
  blocks_until_granted(j, "cuMemcpyHtoD", [&] { return cuMemcpyHtoD(a, host.data(), n * 4); });
  blocks_until_granted(j, "cuMemcpyDtoD", [&] { return cuMemcpyDtoD(b, a, n * 4); });
  blocks_until_granted(j, "cuMemcpyDtoH", [&] { return cuMemcpyDtoH(back.data(), b, n * 4); });
  CHECK(back == host);
  blocks_until_granted(j, "cuMemsetD32", [&] { return cuMemsetD32(c, 0xabcd1234u, n); });
  blocks_until_granted(j, "cuMemcpy (unified)", [&] { return cuMemcpy(b, c, n * 4); });
  blocks_until_granted(j, "cuMemcpyPeer", [&] { return cuMemcpyPeer(a, j.ctx, b, j.ctx, n * 4); });
  std::fill(back.begin(), back.end(), 0);
  blocks_until_granted(j, "cuMemcpyDtoHAsync", [&] { return cuMemcpyDtoHAsync(back.data(), a, n * 4, stream); });
  CHECK(std::all_of(back.begin(), back.end(), [](uint32_t v) { return v == 0xabcd1234u; }));
  blocks_until_granted(j, "cuMemsetD8Async", [&] { return cuMemsetD8Async(c, 0x5a, n * 4, stream); });
  blocks_until_granted(j, "cuMemcpy2D", [&] {
    CUDA_MEMCPY2D copy{};
    copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    copy.srcDevice = c;
    copy.srcPitch = 1024;
    copy.dstMemoryType = CU_MEMORYTYPE_HOST;
    copy.dstHost = back.data();
    copy.dstPitch = 1024;
    copy.WidthInBytes = 1024;
    copy.Height = n * 4 / 1024;
    return cuMemcpy2D(&copy);
  });
  CHECK(std::all_of(back.begin(), back.end(), [](uint32_t v) { return v == 0x5a5a5a5au; }));
  blocks_until_granted(j, "cuMemcpyHtoDAsync", [&] { return cuMemcpyHtoDAsync(a, host.data(), n * 4, stream); });
  CHECK_CU(cuStreamSynchronize(stream), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(back.data(), a, n * 4), CUDA_SUCCESS);
  CHECK(back == host);
  CHECK_CU(cuStreamDestroy(stream), CUDA_SUCCESS);
  end_job(j);
  return dt::finish();
}

int role_revoke() {
  Job j = start_job();  // holder: this job
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 300), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 1u);
  grant(j.table, 0, GPUPOOL_SLICE_NOBODY);  // the scheduler starts a hand-over
  Submitter s(j.ctx, [&] { return dt::launch_spin(j.spin, nullptr, 1); });
  CHECK_MSG(eventually([&] { return j.row.waiting() == 1; }), "the new launch does not wait");
  CHECK_MSG(eventually([&] { return j.row.in_flight() == 0; }), "the work in flight never completes");
  CHECK_MSG(!s.returned.load(), "a launch ran while nobody held the slice");
  grant(j.table, 0, kMine);
  s.join();
  CHECK_CU(s.result, CUDA_SUCCESS);
  end_job(j);
  return dt::finish();
}

int role_released() {
  Job j = start_job();  // holder: kOther
  release(j.table, kEntry);
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 1), CUDA_ERROR_NOT_PERMITTED);
  CHECK_CU(cuMemsetD32(j.scratch, 1, 4), CUDA_ERROR_NOT_PERMITTED);
  grant(j.table, 0, kMine);  // its old holder number: still not this job's
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 1), CUDA_ERROR_NOT_PERMITTED);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK_EQ(j.row.waiting(), 0u);
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_agent_gone() {
  Job j = start_job();  // holder: kOther; the table names a dead agent
  CHECK_CU(dt::launch_spin(j.spin, nullptr, 1), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(j.scratch, 1, 4), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK_EQ(j.row.waiting(), 0u);
  end_job(j);
  return dt::finish();
}

int role_graph() {
  Job j = start_job();  // holder: kOther
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUgraph graph = nullptr;
  // Captured work does not run now: capturing must not wait for the slice.
  Submitter capture(j.ctx, [&] {
    CUresult r = cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    if (r == CUDA_SUCCESS) r = dt::launch_spin(j.spin, s, 20);
    if (r == CUDA_SUCCESS) r = cuMemsetD32Async(j.scratch, 0x77, 64, s);
    CUresult end = cuStreamEndCapture(s, &graph);
    return r != CUDA_SUCCESS ? r : end;
  });
  CHECK_MSG(eventually([&] { return capture.returned.load(); }), "stream capture waited at the gate");
  if (!capture.returned.load()) grant(j.table, 0, kMine);  // let it finish, to fail cleanly
  capture.join();
  REQUIRE_CU(capture.result, CUDA_SUCCESS);
  CHECK_EQ(j.row.in_flight(), 0u);
  CHECK_EQ(j.row.device_ns(), uint64_t{0});
  CUgraphExec exec = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec, graph, 0), CUDA_SUCCESS);
  blocks_until_granted(j, "cuGraphLaunch", [&] { return cuGraphLaunch(exec, s); });
  CHECK(j.row.device_ns() >= 20 * kMs * 99 / 100);  // the graph's spin, timed around the launch
  std::vector<uint32_t> back(64, 0);
  CHECK_CU(cuMemcpyDtoH(back.data(), j.scratch, 256), CUDA_SUCCESS);
  CHECK(std::all_of(back.begin(), back.end(), [](uint32_t v) { return v == 0x77u; }));
  CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
  CHECK_CU(cuGraphDestroy(graph), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  end_job(j);
  return dt::finish();
}

int role_no_agent() {
  CUcontext ctx = nullptr;
  CUdevice dev = dt::init_primary(&ctx);
  CUfunction spin = dt::get_function(dt::load_kernel_module("spin"), "spin");
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, st::kMiB), CUDA_SUCCESS);
  GateRow row = my_gate_row();
  CHECK_CU(dt::launch_spin(spin, nullptr, 5), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(p, 3, 16), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(row.in_flight(), 0u);
  CHECK_EQ(row.device_ns(), uint64_t{0});
  CHECK_EQ(row.last_submit_ns(), uint64_t{0});
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}

// ---- the scenario (the fake agent) ---------------------------------------------------

Table gate_table(const std::string& tag, uint32_t holder, uint32_t depth = 1) {
  Table tb = create_table(tag);
  publish(tb, kOther, "someone-else", {0}, {64 * st::kMiB});
  publish(tb, kEntry, st::job(), {0}, {256 * st::kMiB});
  set_depth(tb, 0, depth);
  grant(tb, 0, holder);
  return tb;
}

void run(const char* what, const std::string& role, const std::vector<std::string>& args, const Table& tb,
         const std::string& stderr_must_have = "") {
  dt::section(what);
  Run r = run_role(role, args, agent_env(tb, kEntry));
  check_passed(r);
  if (!stderr_must_have.empty())
    CHECK_MSG(r.err.find(stderr_must_have) != std::string::npos, "stderr: " + r.err);
}

void main_scenario() {
  run("holder OPEN: no gate, nothing counted", "open", {}, gate_table("open", GPUPOOL_SLICE_OPEN));
  run("another job holds: a launch waits for the grant", "blocks", {}, gate_table("blocks", kTheirs));
  run("in_flight returns to 0 when the job stops calling", "drain", {}, gate_table("drain", kMine));
  run("context teardown with work in flight: retired first", "teardown", {}, gate_table("teardown", kMine));
  run("depth 1: one gated operation in flight", "depth", {"1"}, gate_table("depth1", kMine, 1));
  run("depth 2: at most two", "depth", {"2"}, gate_table("depth2", kMine, 2));
  // Depth 64, as the agent allows while nobody else waits: the queue ahead is
  // bound by a tenth of the quantum of device time, measured per operation.
  Table deep = gate_table("deep", kMine, 64);
  set_quantum(deep, 0, 50 * kMs);  // 5 ms of 2 ms kernels: two in flight
  run("deep queue: within a tenth of the quantum, and deeper than one", "depth", {"64", "2", "2"}, deep);
  Table short_quantum = gate_table("deep-short", kMine, 64);
  set_quantum(short_quantum, 0, 10 * kMs);  // 1 ms: a 2 ms kernel alone already fills it
  run("deep queue, short quantum: one operation in flight", "depth", {"64", "1", "1"}, short_quantum);
  run("every kind of submission is gated", "ops", {}, gate_table("ops", kMine));
  run("CUDA graphs: capture is not gated, the graph's launch is", "graph", {}, gate_table("graph", kTheirs));
  run("holder NOBODY: new work waits, work in flight completes", "revoke", {}, gate_table("revoke", kMine));
  run("entry released: gated work is refused", "released", {}, gate_table("released", kTheirs),
      "CUDA_ERROR_NOT_PERMITTED");
  Table gone = gate_table("gone", kTheirs);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  REQUIRE(waitpid(dead, nullptr, 0) == dead);
  gone.t->header.agent_pid = dead;
  run("the agent is gone: work runs unsliced", "agent-gone", {}, gone, "agent");
  remove_tables();
  dt::section("no agent table: the gate is inactive");
  check_passed(run_role("no-agent", {}, st::Env()));
}

}  // namespace

int main(int argc, char** argv) {
  if (!st::is_inner()) std::atexit(remove_leftover_tables);  // run_isolated() exits
  st::run_isolated(argc, argv);
  const std::string role = argc > 1 ? argv[1] : "main";
  if (role == "open") return role_open();
  if (role == "blocks") return role_blocks();
  if (role == "drain") return role_drain();
  if (role == "depth" && argc > 2) {
    const uint32_t depth = static_cast<uint32_t>(std::stoul(argv[2]));
    if (argc > 4)
      return role_depth(depth, static_cast<uint32_t>(std::stoul(argv[3])), static_cast<uint32_t>(std::stoul(argv[4])));
    return role_depth(depth, depth, 1);
  }
  if (role == "ops") return role_ops();
  if (role == "graph") return role_graph();
  if (role == "revoke") return role_revoke();
  if (role == "teardown") return role_teardown();
  if (role == "released") return role_released();
  if (role == "agent-gone") return role_agent_gone();
  if (role == "no-agent") return role_no_agent();
  if (role != "main") REQUIRE(!"unknown scenario");
  main_scenario();
  remove_tables();
  return dt::finish();
}
