// test_quota_config.cc — the quota engine's configuration (sizes, job keys, environment,
// log level) and one process's limits.
#include "quota_test_support.h"

namespace quota_test {

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

}  // namespace quota_test
