// shim_config.h — the shim's configuration, read once from the environment.
//
//   GPUPOOL_JOB                job key: 1..48 characters of [A-Za-z0-9_.-].
//                              Unset: "pid-<pid>" of the first process under
//                              the shim, exported so that its children (data
//                              loaders, workers) join the same job.
//   GPUPOOL_MEMORY_LIMIT       limit for every device: bytes or a size with a
//                              unit (4GiB, 512MiB, 1.5GB, 4G = 4GiB; units are
//                              case-insensitive; 0 is a valid, empty quota).
//   GPUPOOL_MEMORY_LIMIT_<n>   limit for device n (0..15, as the job numbers
//                              devices); overrides GPUPOOL_MEMORY_LIMIT.
//   GPUPOOL_VISIBLE_DEVICES    "2,3": the physical devices the job sees, in
//                              that order, renumbered from 0. Parsed here, used
//                              by the interposition hooks.
//   GPUPOOL_LOG                debug|info|warn|error (see log.h).
//   GPUPOOL_AGENT_TABLE        set by the agent (`gpupool run`), never by users:
//                              the absolute path of the node table
//                              (gpupool/node_table.h). The job's limits then
//                              come from it (agent_table.h), GPUPOOL_MEMORY_LIMIT*
//                              are ignored (valid or not), and
//                              GPUPOOL_AGENT_ENTRY and GPUPOOL_JOB are required.
//   GPUPOOL_AGENT_ENTRY        set by the agent with GPUPOOL_AGENT_TABLE: the
//                              job's index in the table's jobs[] (a decimal
//                              number; its range is checked against the table).
//
// A value that cannot be honoured (an invalid size, an empty or invalid job
// key, a limit for a device beyond 15) is never guessed around: it lands in
// ShimConfig::error, naming the variable, and the quota engine then refuses
// (fails closed) instead of running without the limit the user asked for.
//
// Threading: shim_config() is safe from any thread; the configuration never
// changes after it is read.
#pragma once

#include <cstdint>
#include <string>

#include "quota.h"

namespace gpupool::shim {

struct ShimConfig {
  std::string job;             // the job key; empty if invalid (see error)
  bool job_defaulted = false;  // GPUPOOL_JOB was unset: "pid-<pid>"
  uint64_t limit[kMaxDevices];  // kUnlimited where no limit is set
  bool limit_set[kMaxDevices];  // an environment variable set limit[n]
  std::string error;            // why the quota must refuse; empty if none

  bool visible_set = false;     // GPUPOOL_VISIBLE_DEVICES is set
  int visible_count = 0;        // may be 0: "" shows no device
  int visible[kMaxDevices];     // job ordinal -> physical ordinal
  std::string visible_error;    // GPUPOOL_VISIBLE_DEVICES is invalid

  std::string agent_table;      // GPUPOOL_AGENT_TABLE; empty: not started by the agent
  int agent_entry = -1;         // GPUPOOL_AGENT_ENTRY (valid when agent_table is set
                                // and error is empty)
  bool env_limits_ignored = false;  // GPUPOOL_MEMORY_LIMIT* set, but the agent's apply

  ShimConfig();
};

// Reads the configuration and, if GPUPOOL_JOB is unset, exports
// GPUPOOL_JOB=pid-<pid>. Call from the library constructor, before the host
// program can start children; idempotent. Also initialises logging.
void shim_config_init();

// The configuration (calls shim_config_init() if nobody has yet).
const ShimConfig& shim_config();

// ---- pure helpers (unit-tested directly) ------------------------------------

// Builds a configuration from an environ-style array (NAME=value, NULL-ended).
// Exports nothing.
ShimConfig load_shim_config(const char* const* envp);

// "4GiB", "512MiB", "1.5GB", "4G", "1048576" -> bytes. False for anything
// else: negative, empty, an unknown unit, fractional bytes, above 2^64-1.
bool parse_size(const char* text, uint64_t* bytes);

// Empty if `job` is a valid job key; else why not (one phrase).
std::string job_key_problem(const char* job);

// "256MiB", "4GiB", "1000 bytes" for messages; "unlimited" for kUnlimited.
std::string format_size(uint64_t bytes);

// Decimal text of `v` (std::to_string without its exported helpers).
std::string decimal(long long v);

}  // namespace gpupool::shim
