// quota.cc — the quota engine behind quota.h.
//
// Limits come from the environment (shim_config.h) or, for a job the agent
// started, from the agent's node table (agent_table.h), read at every charge
// and copied into the region's limit_bytes for those who read the region.
//
// In-process state: one Attachment (the mapped region of the job) and this
// process's slot in it, cached as one packed atomic word so the charge path
// takes no in-process lock. g_mu serialises what is rare: attaching, claiming
// a slot after fork, re-attaching after the region was retired. Old
// attachments are never unmapped (another thread may still be reading them);
// that happens only when a region is retired while we live, i.e. rarely.
#include "quota.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "agent_table.h"
#include "log.h"
#include "region.h"
#include "shim_config.h"

namespace gpupool::shim {
namespace {

static_assert(kMaxDevices == GPUPOOL_REGION_MAX_DEVICES, "quota.h and the region agree");
static_assert(kUnlimited == GPUPOOL_REGION_UNLIMITED, "quota.h and the region agree");

enum State : int { kNone = 0, kReady = 1, kRefused = 2 };

struct Attachment {
  gpupool_region* region;
  uint16_t generation;  // never 0
  char path[256];
};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;  // attach, slot claims, re-attach
std::atomic<int> g_state{kNone};
std::atomic<Attachment*> g_att{nullptr};
// generation << 48 | pid << 16 | slot; 0: no slot. A slot is valid only for
// the attachment of that generation and the process of that pid.
std::atomic<uint64_t> g_slot{0};
std::atomic<bool> g_shutdown{false};
std::atomic<bool> g_uncharge_warned{false};
uint16_t g_generation = 0;  // under g_mu

uint64_t pack_slot(uint16_t generation, pid_t pid, int slot) {
  return (static_cast<uint64_t>(generation) << 48) |
         (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 16) |
         static_cast<uint64_t>(slot & 0xffff);
}

// The slot cached for (attachment, pid), or -1.
int cached_slot(uint64_t packed, const Attachment* a, pid_t pid) {
  if (packed == 0 || a == nullptr) return -1;
  if (static_cast<uint16_t>(packed >> 48) != a->generation) return -1;
  if (static_cast<uint32_t>(packed >> 16) != static_cast<uint32_t>(pid)) return -1;
  return static_cast<int>(packed & 0xffff);
}

class MuLock {
 public:
  MuLock() { pthread_mutex_lock(&g_mu); }
  ~MuLock() { pthread_mutex_unlock(&g_mu); }
  MuLock(const MuLock&) = delete;
  MuLock& operator=(const MuLock&) = delete;
};

// Under g_mu. Refuses for the rest of this process's life; the message is
// printed once because the state leaves kNone/kReady only once.
void refuse(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void refuse(const char* fmt, ...) {
  char msg[768];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, args);
  va_end(args);
  g_state.store(kRefused, std::memory_order_release);
  log_write(LogLevel::kError, "%s", msg);
}

void refuse_region(const char* path, const char* why) {
  refuse("%s: %s -- refusing the region; this job's allocations will fail", path, why);
}

void log_recovered(const Attachment* a) {
  GPUPOOL_LOG_WARN("%s: a process died holding the region's lock; usage rebuilt from the live "
                   "processes' slots",
                   a->path);
}

// The limits this process's environment asks for that the region (`have`)
// does not have, in one line; empty if they agree.
std::string limit_differences(const uint64_t* have_limits, const ShimConfig& c) {
  bool uniform = true;  // the same difference on every device: say it once
  for (int d = 1; d < kMaxDevices; ++d)
    uniform &= c.limit[d] == c.limit[0] && have_limits[d] == have_limits[0];
  std::string out;
  for (int d = 0; d < kMaxDevices; ++d) {
    uint64_t have = have_limits[d];
    if (have == c.limit[d]) continue;
    if (!out.empty()) out += ", ";
    out += uniform ? std::string("every device") : "device " + decimal(d);
    out += ": " + format_size(c.limit[d]) + " asked, " + format_size(have) + " in force";
    if (uniform) break;
  }
  return out;
}

// The limits in force now: the agent's (0 where its entry is gone) or the
// environment's.
void limits_in_force(const ShimConfig& c, uint64_t* limits) {
  const bool agent = agent_table_attached();
  for (int d = 0; d < kMaxDevices; ++d)
    if (!agent) limits[d] = c.limit[d];
    else if (!agent_table_limit(d, &limits[d])) limits[d] = 0;
}

// Under g_mu. Attaches the agent's node table; false if refused (printed).
bool attach_agent_locked(const ShimConfig& c) {
  std::string why;
  if (!agent_table_attach(c.agent_table.c_str(), c.agent_entry, c.job.c_str(), &why)) {
    refuse("GPUPOOL_AGENT_TABLE=%s: %s -- refusing the agent's node table; this job's allocations "
           "will fail",
           c.agent_table.c_str(), why.c_str());
    return false;
  }
  GPUPOOL_LOG_INFO("memory limits from the agent's node table %s, jobs[%d]%s", c.agent_table.c_str(),
                   c.agent_entry,
                   c.env_limits_ignored ? "; GPUPOOL_MEMORY_LIMIT* ignored: the agent's quota applies" : "");
  return true;
}

// Under g_mu. Makes process `pid` a member of the job's region: opens it
// (creating it if needed) unless `reuse` names a mapping to keep, claims a
// slot, and publishes both. False if refused (the reason is printed).
bool join_locked(pid_t pid, Attachment* reuse) {
  const ShimConfig& c = shim_config();
  const uint64_t start_time = proc_start_time(pid);
  const bool agent = agent_table_attached();
  uint64_t want[kMaxDevices];
  limits_in_force(c, want);
  Attachment* a = reuse;
  for (int attempt = 0; attempt < 8; ++attempt) {
    bool created = false;
    if (a == nullptr) {
      std::string path = region_path(::geteuid(), c.job);
      std::string why;
      gpupool_region* r = region_open(path.c_str(), c.job.c_str(), want, &created, &why);
      if (r == nullptr) {
        refuse_region(path.c_str(), why.c_str());
        return false;
      }
      a = new Attachment{r, 0, {}};
      if (++g_generation == 0) ++g_generation;
      a->generation = g_generation;
      std::snprintf(a->path, sizeof a->path, "%s", path.c_str());
    }
    gpupool_region* r = a->region;
    if (!created) region_reclaim_dead(r);

    LockResult locked = region_lock(r);
    if (locked == LockResult::kBroken) {
      refuse_region(a->path, "its lock cannot be recovered");
      return false;
    }
    if (r->header.retired != 0) {
      // The last process of the job left and removed it; open the current one.
      region_unlock(r);
      if (a != g_att.load(std::memory_order_relaxed)) {
        region_unmap(a->region);
        delete a;
      }
      a = nullptr;
      continue;
    }
    int slot = region_claim_slot_locked(r, static_cast<int32_t>(pid), start_time);
    bool others = false;
    for (int i = 0; i < static_cast<int>(GPUPOOL_REGION_MAX_SLOTS); ++i)
      others |= i != slot && r->slots[i].state == GPUPOOL_SLOT_LIVE;
    // A region nobody else uses is this process's to configure: a stale one
    // (its processes died) must not impose old limits on a new run. The
    // agent's limits are in force whoever else uses it.
    bool adopted = false;
    if (slot >= 0 && !created && (agent || !others) &&
        (r->header.flags & GPUPOOL_REGION_FLAG_AGENT_MANAGED) == 0) {
      for (int d = 0; d < kMaxDevices; ++d) {
        if (r->devices[d].limit_bytes != want[d]) {
          region_store(&r->devices[d].limit_bytes, want[d]);
          adopted = !agent;
        }
      }
    }
    uint64_t limits[kMaxDevices];
    for (int d = 0; d < kMaxDevices; ++d) limits[d] = r->devices[d].limit_bytes;
    region_unlock(r);

    if (locked == LockResult::kRecovered) log_recovered(a);
    if (slot < 0) {
      char why[128];
      std::snprintf(why, sizeof why, "all %u process slots are held by live processes of the job",
                    GPUPOOL_REGION_MAX_SLOTS);
      refuse_region(a->path, why);
      return false;
    }
    Attachment* old = g_att.load(std::memory_order_relaxed);
    if (old != a) g_att.store(a, std::memory_order_release);  // `old` stays mapped
    g_slot.store(pack_slot(a->generation, pid, slot), std::memory_order_release);
    g_state.store(kReady, std::memory_order_release);

    std::string differences = agent ? std::string() : limit_differences(limits, c);
    if (!differences.empty())
      GPUPOOL_LOG_WARN("%s: this process's limits differ from the job's (%s); the job's apply",
                       a->path, differences.c_str());
    GPUPOOL_LOG_DEBUG("%s: %s, slot %d%s", a->path,
                      created ? "created" : (reuse != nullptr && a == reuse ? "joined after fork" : "joined"),
                      slot, adopted ? "; no other live process, limits taken from this environment" : "");
    return true;
  }
  refuse_region(g_att.load() ? g_att.load()->path : "gpupool region",
                "it was removed again and again while attaching");
  return false;
}

// This process's attachment and slot, claiming a slot if it has none yet
// (first use after fork). False if the engine refused.
bool current_slot(pid_t pid, Attachment** att, int* slot) {
  Attachment* a = g_att.load(std::memory_order_acquire);
  int s = cached_slot(g_slot.load(std::memory_order_acquire), a, pid);
  if (s >= 0) {
    *att = a;
    *slot = s;
    return true;
  }
  MuLock lock;
  if (g_state.load(std::memory_order_acquire) != kReady) return false;
  a = g_att.load(std::memory_order_acquire);
  s = cached_slot(g_slot.load(std::memory_order_acquire), a, pid);
  if (s < 0) {
    if (!join_locked(pid, a)) return false;
    a = g_att.load(std::memory_order_acquire);
    s = cached_slot(g_slot.load(std::memory_order_acquire), a, pid);
    if (s < 0) return false;
  }
  *att = a;
  *slot = s;
  return true;
}

// Forgets a cached slot that turned out not to be ours any more.
void forget_slot(const Attachment* a, pid_t pid, int slot) {
  uint64_t expected = pack_slot(a->generation, pid, slot);
  g_slot.compare_exchange_strong(expected, 0);
}

void atfork_prepare() { pthread_mutex_lock(&g_mu); }
void atfork_parent() { pthread_mutex_unlock(&g_mu); }
void atfork_child() {
  // The child has one thread: whatever g_mu protected is consistent (the
  // forking thread held it), and nobody else can be holding it.
  g_mu = PTHREAD_MUTEX_INITIALIZER;
  g_slot.store(0, std::memory_order_relaxed);  // the child claims its own on first charge
}

__attribute__((constructor)) void quota_register_atfork() {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

// At exit: give back this process's slot; the last process of the job removes
// the region (unless the agent manages it).
__attribute__((destructor)) void quota_leave() {
  g_shutdown.store(true, std::memory_order_release);
  if (g_state.load(std::memory_order_acquire) != kReady) return;
  Attachment* a = g_att.load(std::memory_order_acquire);
  if (a == nullptr) return;
  const pid_t pid = ::getpid();
  int slot = cached_slot(g_slot.load(std::memory_order_acquire), a, pid);
  gpupool_region* r = a->region;
  if (region_lock(r) == LockResult::kBroken) return;
  if (slot >= 0 && r->slots[slot].state == GPUPOOL_SLOT_LIVE &&
      r->slots[slot].pid == static_cast<int32_t>(pid))
    region_free_slot_locked(r, slot);
  bool removed = false;
  if ((r->header.flags & GPUPOOL_REGION_FLAG_AGENT_MANAGED) == 0 && r->header.retired == 0) {
    bool any_live = false;
    region_reclaim_dead_locked(r, -1, &any_live);
    if (!any_live) {
      __atomic_store_n(&r->header.retired, 1u, __ATOMIC_RELEASE);
      ::unlink(a->path);
      removed = true;
    }
  }
  region_unlock(r);
  GPUPOOL_LOG_DEBUG("%s: left the job%s", a->path, removed ? "; last process, region removed" : "");
}

}  // namespace

bool quota_ready() {
  int state = g_state.load(std::memory_order_acquire);
  if (state != kNone) return state == kReady;
  shim_config_init();
  MuLock lock;
  if (g_state.load(std::memory_order_acquire) == kNone) {
    const ShimConfig& c = shim_config();
    if (!c.error.empty())
      refuse("%s -- the memory quota cannot be applied; this job's allocations will fail",
             c.error.c_str());
    else if (c.agent_table.empty() || attach_agent_locked(c))
      join_locked(::getpid(), nullptr);
  }
  return g_state.load(std::memory_order_acquire) == kReady;
}

Charge quota_charge(int device, uint64_t bytes) {
  if (device < 0 || device >= kMaxDevices) return Charge::kOk;
  if (!quota_ready()) return Charge::kRefused;
  if (bytes == 0) return Charge::kOk;
  const pid_t pid = ::getpid();
  const bool agent = agent_table_attached();
  bool reclaimed = false;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (g_shutdown.load(std::memory_order_acquire)) return Charge::kOk;  // exiting
    uint64_t agent_limit = 0;
    if (agent && !agent_table_limit(device, &agent_limit)) return Charge::kRefused;  // entry gone
    Attachment* a = nullptr;
    int slot = -1;
    if (!current_slot(pid, &a, &slot)) return Charge::kRefused;
    gpupool_region* r = a->region;
    LockResult locked = region_lock(r);
    if (locked == LockResult::kBroken) {
      MuLock lock;
      if (g_state.load() == kReady) refuse_region(a->path, "its lock cannot be recovered");
      return Charge::kRefused;
    }
    gpupool_region_slot& mine = r->slots[slot];
    if (r->header.retired != 0 || mine.state != GPUPOOL_SLOT_LIVE ||
        mine.pid != static_cast<int32_t>(pid)) {
      region_unlock(r);
      forget_slot(a, pid, slot);
      continue;
    }
    gpupool_region_device& dev = r->devices[device];
    const uint64_t used = dev.used_bytes;
    const uint64_t limit = agent ? agent_limit : dev.limit_bytes;
    if (agent && limit != dev.limit_bytes && (r->header.flags & GPUPOOL_REGION_FLAG_AGENT_MANAGED) == 0)
      region_store(&dev.limit_bytes, limit);  // for the agent and metrics, which read the region
    const bool fits = bytes <= limit && used <= limit - bytes;
    if (fits) {
      region_store(&dev.used_bytes, used + bytes);
      mine.used[device] += bytes;
    }
    region_unlock(r);

    if (locked == LockResult::kRecovered) log_recovered(a);
    if (fits) return Charge::kOk;
    // Over the limit: dead processes may still hold part of it.
    if (reclaimed || region_reclaim_dead(r) == 0) {
      GPUPOOL_LOG_DEBUG("device %d: %s more would exceed the job's %s (%s in use): out of memory",
                        device, format_size(bytes).c_str(), format_size(limit).c_str(),
                        format_size(used).c_str());
      return Charge::kOverQuota;
    }
    reclaimed = true;
  }
  return Charge::kOverQuota;
}

void quota_uncharge(int device, uint64_t bytes) {
  if (device < 0 || device >= kMaxDevices || bytes == 0) return;
  if (g_state.load(std::memory_order_acquire) != kReady) return;
  if (g_shutdown.load(std::memory_order_acquire)) return;
  const pid_t pid = ::getpid();
  Attachment* a = g_att.load(std::memory_order_acquire);
  int slot = cached_slot(g_slot.load(std::memory_order_acquire), a, pid);
  uint64_t held = 0;
  LockResult locked = LockResult::kOk;
  if (slot >= 0) {
    gpupool_region* r = a->region;
    locked = region_lock(r);
    if (locked == LockResult::kBroken) return;
    gpupool_region_slot& mine = r->slots[slot];
    if (mine.state == GPUPOOL_SLOT_LIVE && mine.pid == static_cast<int32_t>(pid)) {
      held = mine.used[device];
      const uint64_t take = bytes < held ? bytes : held;
      mine.used[device] = held - take;
      gpupool_region_device& dev = r->devices[device];
      const uint64_t used = dev.used_bytes;
      region_store(&dev.used_bytes, used >= take ? used - take : 0);
    }
    region_unlock(r);
    if (locked == LockResult::kRecovered) log_recovered(a);
  }
  if (held < bytes && !g_uncharge_warned.exchange(true))
    GPUPOOL_LOG_WARN("device %d: %s returned but this process holds only %s there; the rest is "
                     "ignored (further such mismatches are not reported)",
                     device, format_size(bytes).c_str(), format_size(held).c_str());
}

uint64_t quota_limit(int device) {
  if (device < 0 || device >= kMaxDevices) return kUnlimited;
  if (!quota_ready()) return 0;
  if (agent_table_attached()) {
    uint64_t limit = 0;
    return agent_table_limit(device, &limit) ? limit : 0;
  }
  return region_load(&g_att.load(std::memory_order_acquire)->region->devices[device].limit_bytes);
}

uint64_t quota_used(int device) {
  if (device < 0 || device >= kMaxDevices) return 0;
  if (!quota_ready()) return 0;
  return region_load(&g_att.load(std::memory_order_acquire)->region->devices[device].used_bytes);
}

gpupool_region_gate* quota_gate(int physical, int pid) {
  if (physical < 0 || physical >= kMaxDevices) return nullptr;
  if (!quota_ready()) return nullptr;
  Attachment* a = nullptr;
  int slot = -1;
  if (!current_slot(static_cast<pid_t>(pid), &a, &slot)) return nullptr;
  return &a->region->gates[slot].device[physical];
}

gpupool_region* quota_test_region() {
  Attachment* a = g_att.load(std::memory_order_acquire);
  return a == nullptr ? nullptr : a->region;
}

}  // namespace gpupool::shim
