// test_quota_recovery.cc — crash recovery and the region's life: a lock owner that dies,
// limits set by the region's creator, removal, and corrupt regions.
#include "quota_test_support.h"

namespace quota_test {

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

}  // namespace quota_test
