// test_quota_engine.cc — the shim's quota engine (native/shim/quota.h) on its
// own: no driver, no interposition. Links gpupool_shim_quota directly.
//
// The engine is per process and configured once from the environment, so
// every scenario runs in forked children that set their environment first;
// the test's main process never attaches. Each run uses job keys
// "qt<pid>-<scenario>" and removes its regions at the end.
//
// The scenarios live in test_quota_{config,processes,recovery}.cc; what they
// share, in quota_test_support.h.
#include <cstdlib>
#include <cstring>
#include <string>

#include "quota_test_support.h"

using namespace quota_test;

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--after-exec") == 0) return quota_test::after_exec(std::atoi(argv[2]));
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

