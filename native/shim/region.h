// region.h — the job's shared control region: open, validate, lock, slots.
//
// Mechanics behind quota.cc; the layout and its rules are in
// gpupool/control_region.h. Functions marked "under lock" must be called
// between region_lock() and region_unlock(); the others take the lock
// themselves or need none. Nothing here calls the CUDA driver or logs while
// holding the lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "gpupool/control_region.h"

namespace gpupool::shim {

// "/dev/shm/gpupool-<uid>-<job>". `job` must be a valid job key.
std::string region_path(uid_t uid, const std::string& job);

// Opens the region at `path`, or creates it — fully initialised, with
// `limits` (GPUPOOL_REGION_MAX_DEVICES values) and `job` — if there is none.
// Returns nullptr if the file exists but is not a region this process may use
// (foreign owner, writable by others, wrong size, magic, version, geometry,
// job, pid namespace) or cannot be
// opened or created; `*why` then says what is wrong in one phrase, without
// the path. The file's descriptor is not kept.
gpupool_region* region_open(const char* path, const char* job, const uint64_t* limits,
                            bool* created, std::string* why);

// Unmaps a region returned by region_open().
void region_unmap(gpupool_region* region);

enum class LockResult {
  kOk,
  kRecovered,  // the previous holder died; the totals were rebuilt from live slots
  kBroken,     // the mutex is unusable (ENOTRECOVERABLE or not a mutex)
};

// Locks the region's robust mutex. If the previous holder died holding it,
// frees the slots of dead processes, rebuilds every device's used_bytes from
// the remaining slots and marks the mutex consistent. On kBroken the lock is
// not held.
LockResult region_lock(gpupool_region* region);
void region_unlock(gpupool_region* region);

// Field 22 of /proc/<pid>/stat (start time, clock ticks since boot); 0 if
// unknown.
uint64_t proc_start_time(pid_t pid);

// False if `pid` is gone, a zombie, or a different process than the one that
// started at `start_time` (0: not compared).
bool process_alive(int32_t pid, uint64_t start_time);

// Under lock. Claims a free slot for (pid, start_time) with zero usage and
// its gates (gates[slot]) cleared; -1 if none is free. A LIVE slot that already names `pid` is freed first: it is
// this process's from before an exec, or a dead process's whose pid was
// reused; either way its usage is gone.
int region_claim_slot_locked(gpupool_region* region, int32_t pid, uint64_t start_time);

// Under lock. Removes the slot's usage from the device totals; frees it.
void region_free_slot_locked(gpupool_region* region, int slot);

// Under lock. Frees the slots of dead processes (checks /proc: syscalls) other
// than `keep` (-1: none kept); returns how many. *any_live (if given) says
// whether a live slot other than `keep` remains.
int region_reclaim_dead_locked(gpupool_region* region, int keep, bool* any_live = nullptr);

// Under lock. used_bytes of every device := the sum over LIVE slots.
void region_recompute_used_locked(gpupool_region* region);

// Frees the slots of dead processes, checking liveness outside the lock (a
// short lock to snapshot, another to free those still unchanged). Returns how
// many were freed.
int region_reclaim_dead(gpupool_region* region);

// 64-bit atomic access to fields read without the lock.
inline uint64_t region_load(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void region_store(uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// ---- test hooks (used only by native/tests/shim_unit) -------------------------

// Locks the region, adds `garbage` to devices[device].used_bytes (a holder
// dying half-way through an update), writes one byte to `notify_fd` and never
// returns: the test kills the process to leave the robust mutex owner-dead.
[[noreturn]] void region_test_die_holding_lock(gpupool_region* region, int device,
                                               uint64_t garbage, int notify_fd);

// The region this process is attached to (quota.cc), or nullptr.
gpupool_region* quota_test_region();

}  // namespace gpupool::shim
