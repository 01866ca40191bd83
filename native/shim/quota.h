// quota.h — the job's memory quota, shared by all processes of the job.
//
// Contract
//   The quota engine (quota.cc, region.cc) owns the job's shared-memory region
//   (layout: native/include/gpupool/control_region.h) and this process's slot
//   in it. The interposition hooks (hooks_*.cc) call it around every
//   allocation and free:
//
//     if (quota_charge(dev, n) != Charge::kOk) return CUDA_ERROR_OUT_OF_MEMORY;
//     CUresult r = real_cuMemAlloc(...);
//     if (r != CUDA_SUCCESS) quota_uncharge(dev, n);
//
//   Charging reserves before allocating, so concurrent allocations from any
//   number of threads and processes never overshoot the limit (no
//   check-then-act window). Usage is recorded per process slot, so the usage of
//   a process that dies (even by SIGKILL) is reclaimed by the next process that
//   charges over the limit, or attaches.
//
// Devices
//   `device` is the ordinal the job sees (after GPUPOOL_VISIBLE_DEVICES
//   renumbering), 0 .. kMaxDevices-1. Limits come from GPUPOOL_MEMORY_LIMIT and
//   GPUPOOL_MEMORY_LIMIT_<ordinal>; no limit means unlimited, and charging then
//   only records usage. A job the agent started (GPUPOOL_AGENT_TABLE) takes its
//   limits from the agent's node table instead, read at every charge
//   (agent_table.h); the region's limit_bytes then follow the table's.
//
// Threading
//   All functions are thread-safe and async-signal-unsafe. None of them calls
//   the CUDA driver, and none holds a lock when it returns, so a hook never
//   holds a shim lock across a driver call. Safe across fork(): a child gets
//   its own slot on its first charge.
//
// Lifetime
//   The shim's library constructor calls shim_config_init() (shim_config.h), so
//   that the default job key (pid-<pid>) reaches children started before the
//   first charge; attaching waits for the first call here. At exit a process
//   gives its slot back, and the last process of a job removes the region.
//
// Failure
//   If the region cannot be attached (corrupt, foreign owner, wrong version),
//   quota_ready() reports it once on stderr with the reason and charging
//   returns Charge::kRefused: the job fails closed (its allocations fail) rather
//   than running without the limit it was given. quota_limit() and quota_used()
//   then report 0. An invalid GPUPOOL_MEMORY_LIMIT* or GPUPOOL_JOB is refused
//   the same way, and so is an agent's node table that cannot be attached. When
//   the agent later releases the job's table entry, every new charge returns
//   kRefused and quota_limit() 0; uncharging (frees) still works.
#pragma once

#include <cstdint>

struct gpupool_region_gate;  // gpupool/control_region.h

namespace gpupool::shim {

constexpr int kMaxDevices = 16;
constexpr uint64_t kUnlimited = UINT64_MAX;

enum class Charge { kOk, kOverQuota, kRefused };

// Attaches (creating if needed) the job's region on first use. Idempotent.
// Returns false when the region was refused (see Failure).
bool quota_ready();

// Reserves `bytes` on `device` for this process. kOverQuota leaves nothing
// charged. Devices outside 0..kMaxDevices-1 are never limited (kOk).
Charge quota_charge(int device, uint64_t bytes);

// Returns bytes charged earlier by this process.
void quota_uncharge(int device, uint64_t bytes);

// The job's limit on `device` (kUnlimited when none).
uint64_t quota_limit(int device);

// Bytes charged on `device` by all live processes of the job.
uint64_t quota_used(int device);

// This process's gate row for physical device `physical` in the job's region
// (gates[slot].device[physical], control_region.h Gates), claiming a slot if
// the process has none yet; nullptr when the region was refused or physical
// is outside 0..kMaxDevices-1. `pid` is this process's (callers cache it:
// getpid() is a system call). The row stays valid while the process lives.
::gpupool_region_gate* quota_gate(int physical, int pid);

}  // namespace gpupool::shim
