// test_quota_processes.cc — several processes of one job: fork, exec, the slot table
// running out, SIGKILL reclaim, a charging storm.
#include "quota_test_support.h"

namespace quota_test {

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

}  // namespace quota_test
