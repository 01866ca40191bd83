// region.cc — see region.h.
#include "region.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "log.h"

namespace gpupool::shim {
namespace {

static_assert(sizeof(pthread_mutex_t) <= sizeof(gpupool_region::lock),
              "pthread_mutex_t must fit the region's lock words");
static_assert(alignof(pthread_mutex_t) <= alignof(uint64_t),
              "pthread_mutex_t must be satisfied by the lock words' alignment");

constexpr int kDevices = GPUPOOL_REGION_MAX_DEVICES;
constexpr int kSlots = GPUPOOL_REGION_MAX_SLOTS;
// How long an opener waits for a creator that fills the file in place.
constexpr int kInitWaitSteps = 200;
constexpr long kInitWaitStepNs = 5 * 1000 * 1000;

pthread_mutex_t* mutex_of(gpupool_region* r) {
  return reinterpret_cast<pthread_mutex_t*>(r->lock);
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + " (" + std::strerror(err) + ")";
}

void sleep_ns(long ns) {
  struct timespec ts = {0, ns};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

uint64_t now_unix_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Reads /proc/<pid>/stat: state (field 3), num_threads (20), starttime (22).
bool read_proc_stat(pid_t pid, char* state, long* threads, uint64_t* start_time) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  // The command name (field 2) may hold spaces and parentheses: fields 3.. start
  // after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return false;
  p += 2;
  *state = *p;
  unsigned long long field22 = 0;
  long field20 = 0;
  int field = 3;
  while (*p != 0 && field < 22) {
    while (*p != 0 && *p != ' ') ++p;
    if (*p == ' ') ++p;
    ++field;
    if (field == 20) field20 = std::strtol(p, nullptr, 10);
    if (field == 22) field22 = std::strtoull(p, nullptr, 10);
  }
  if (field != 22) return false;
  *threads = field20;
  *start_time = field22;
  return true;
}

// Inode of this process's pid namespace; 0 if unknown.
uint64_t own_pid_namespace() {
  struct stat st;
  if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

bool magic_ok(const gpupool_region* r) {
  return std::memcmp(r->header.magic, GPUPOOL_REGION_MAGIC, sizeof r->header.magic) == 0;
}

bool magic_unset(const gpupool_region* r) {
  for (char c : r->header.magic)
    if (c != 0) return false;
  return true;
}

std::string printable_magic(const gpupool_region* r) {
  std::string s;
  for (char c : r->header.magic) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      s += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      s += hex;
    }
  }
  return s;
}

void* map_fd(int fd) {
  void* p = ::mmap(nullptr, sizeof(gpupool_region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Checks everything the header promises against what this shim knows.
std::string validate_header(const gpupool_region* r, const char* job) {
  const gpupool_region_header& h = r->header;
  char msg[256];
  auto mismatch = [&](const char* field, uint64_t got, uint64_t want) {
    std::snprintf(msg, sizeof msg, "%s %llu, this shim expects %llu", field,
                  static_cast<unsigned long long>(got), static_cast<unsigned long long>(want));
    return std::string(msg);
  };
  if (!magic_ok(r)) return "not a gpupool region (magic '" + printable_magic(r) + "')";
  if (h.layout_version != GPUPOOL_REGION_LAYOUT_VERSION) {
    std::snprintf(msg, sizeof msg, "layout version %u, this shim knows %u", h.layout_version,
                  GPUPOOL_REGION_LAYOUT_VERSION);
    return msg;
  }
  if (h.header_size != sizeof(gpupool_region_header))
    return mismatch("header_size", h.header_size, sizeof(gpupool_region_header));
  if (h.region_size != sizeof(gpupool_region))
    return mismatch("region_size", h.region_size, sizeof(gpupool_region));
  if (h.max_devices != GPUPOOL_REGION_MAX_DEVICES)
    return mismatch("max_devices", h.max_devices, GPUPOOL_REGION_MAX_DEVICES);
  if (h.max_slots != GPUPOOL_REGION_MAX_SLOTS)
    return mismatch("max_slots", h.max_slots, GPUPOOL_REGION_MAX_SLOTS);
  if (h.owner_uid != static_cast<uint32_t>(::geteuid())) {
    std::snprintf(msg, sizeof msg, "header names owner uid %u, not this user (uid %u)",
                  h.owner_uid, static_cast<unsigned>(::geteuid()));
    return msg;
  }
  if (strnlen(h.job, sizeof h.job) == sizeof h.job || std::strcmp(h.job, job) != 0) {
    std::string other(h.job, strnlen(h.job, sizeof h.job));
    return "belongs to job '" + other + "', not '" + job + "'";
  }
  uint64_t ns = own_pid_namespace();
  if (h.pid_namespace != 0 && ns != 0 && h.pid_namespace != ns) {
    std::snprintf(msg, sizeof msg,
                  "was created in another pid namespace (%llu, this process is in %llu): "
                  "its process slots cannot be checked from here",
                  static_cast<unsigned long long>(h.pid_namespace),
                  static_cast<unsigned long long>(ns));
    return msg;
  }
  return "";
}

// Checks the file behind `fd` and maps it; waits briefly for a creator that
// fills the file in place. nullptr and *why on refusal.
gpupool_region* attach_fd(int fd, const char* job, std::string* why) {
  for (int step = 0;; ++step) {
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      *why = errno_text("cannot stat", errno);
      return nullptr;
    }
    if (!S_ISREG(st.st_mode)) {
      *why = "not a regular file";
      return nullptr;
    }
    if (st.st_uid != ::geteuid()) {
      char msg[128];
      std::snprintf(msg, sizeof msg, "owned by uid %u, not by this user (uid %u)",
                    static_cast<unsigned>(st.st_uid), static_cast<unsigned>(::geteuid()));
      *why = msg;
      return nullptr;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      char msg[128];
      std::snprintf(msg, sizeof msg, "mode %04o lets other users write it (expected 0600)",
                    static_cast<unsigned>(st.st_mode & 07777));
      *why = msg;
      return nullptr;
    }
    bool waiting = false;
    if (st.st_size == 0) {
      waiting = true;  // created, not yet sized
    } else if (static_cast<uint64_t>(st.st_size) != sizeof(gpupool_region)) {
      char msg[128];
      std::snprintf(msg, sizeof msg, "size %lld bytes, this shim expects %zu",
                    static_cast<long long>(st.st_size), sizeof(gpupool_region));
      *why = msg;
      return nullptr;
    } else {
      auto* r = static_cast<gpupool_region*>(map_fd(fd));
      if (r == nullptr) {
        *why = errno_text("cannot map", errno);
        return nullptr;
      }
      if (!magic_unset(r)) {
        std::atomic_thread_fence(std::memory_order_acquire);  // pairs with the creator's fence
        *why = validate_header(r, job);
        if (why->empty()) return r;
        region_unmap(r);
        return nullptr;
      }
      region_unmap(r);
      waiting = true;
    }
    if (waiting && step >= kInitWaitSteps) {
      *why = "never initialised (no magic after 1 second)";
      return nullptr;
    }
    sleep_ns(kInitWaitStepNs);
  }
}

// Fills a freshly sized, zeroed region. The magic goes last.
bool initialise(gpupool_region* r, const char* job, const uint64_t* limits, std::string* why) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(mutex_of(r), &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    *why = errno_text("cannot initialise its mutex", rc);
    return false;
  }
  for (int d = 0; d < kDevices; ++d) {
    r->devices[d].limit_bytes = limits[d];
    r->devices[d].used_bytes = 0;
  }
  gpupool_region_header& h = r->header;
  h.layout_version = GPUPOOL_REGION_LAYOUT_VERSION;
  h.header_size = sizeof(gpupool_region_header);
  h.region_size = sizeof(gpupool_region);
  h.max_devices = GPUPOOL_REGION_MAX_DEVICES;
  h.max_slots = GPUPOOL_REGION_MAX_SLOTS;
  h.owner_uid = static_cast<uint32_t>(::geteuid());
  h.created_unix_ns = now_unix_ns();
  h.creator_pid = static_cast<int32_t>(::getpid());
  h.flags = 0;
  h.pid_namespace = own_pid_namespace();
  std::strncpy(h.job, job, sizeof h.job - 1);
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(h.magic, GPUPOOL_REGION_MAGIC, sizeof h.magic);
  return true;
}

// Creates the region under a temporary name and links it into place.
// Returns the mapping, or nullptr with *lost set if another creator linked
// first (open theirs), or with *why on failure.
gpupool_region* create(const char* path, const char* job, const uint64_t* limits, bool* lost,
                       std::string* why) {
  static std::atomic<unsigned> counter{0};
  // '~' cannot occur in a job key: no other job's region can have this name.
  char tmp[512];
  std::snprintf(tmp, sizeof tmp, "%s~init-%d-%u", path, static_cast<int>(::getpid()),
                counter.fetch_add(1));
  int fd = ::open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *why = errno_text("cannot create it", errno);
    return nullptr;
  }
  gpupool_region* r = nullptr;
  if (::fchmod(fd, 0600) != 0) {
    *why = errno_text("cannot set its mode", errno);
  } else if (::ftruncate(fd, sizeof(gpupool_region)) != 0) {
    *why = errno_text("cannot size it", errno);
  } else if ((r = static_cast<gpupool_region*>(map_fd(fd))) == nullptr) {
    *why = errno_text("cannot map it", errno);
  } else if (!initialise(r, job, limits, why)) {
    region_unmap(r);
    r = nullptr;
  } else if (::link(tmp, path) != 0) {
    if (errno == EEXIST) *lost = true;
    else *why = errno_text("cannot link it into place", errno);
    region_unmap(r);
    r = nullptr;
  }
  ::unlink(tmp);
  ::close(fd);
  return r;
}

}  // namespace

std::string region_path(uid_t uid, const std::string& job) {
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%s/%s%u-", GPUPOOL_REGION_DIR, GPUPOOL_REGION_NAME_PREFIX,
                static_cast<unsigned>(uid));
  std::string path(prefix);
  path += job;
  return path;
}

gpupool_region* region_open(const char* path, const char* job, const uint64_t* limits,
                            bool* created, std::string* why) {
  *created = false;
  why->clear();
  // A loop only for the race between creators (and an unlink in between).
  for (int attempt = 0; attempt < 16; ++attempt) {
    int fd = ::open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      gpupool_region* r = attach_fd(fd, job, why);
      ::close(fd);
      return r;
    }
    if (errno != ENOENT) {
      *why = errno_text("cannot open it", errno);
      return nullptr;
    }
    bool lost = false;
    gpupool_region* r = create(path, job, limits, &lost, why);
    if (r != nullptr) {
      *created = true;
      return r;
    }
    if (!lost) return nullptr;
    GPUPOOL_LOG_DEBUG("%s: another process created it first; opening theirs", path);
  }
  *why = "cannot open or create it: it keeps appearing and disappearing";
  return nullptr;
}

void region_unmap(gpupool_region* region) {
  if (region != nullptr) ::munmap(region, sizeof(gpupool_region));
}

LockResult region_lock(gpupool_region* region) {
  pthread_mutex_t* m = mutex_of(region);
  int rc = pthread_mutex_lock(m);
  if (rc == 0) return LockResult::kOk;
  if (rc != EOWNERDEAD) return LockResult::kBroken;
  // The holder died, maybe half-way through an update: only the slots of live
  // processes are trusted, and the totals are rebuilt from them.
  region_reclaim_dead_locked(region, -1);
  region_recompute_used_locked(region);
  if (pthread_mutex_consistent(m) != 0) {
    pthread_mutex_unlock(m);
    return LockResult::kBroken;
  }
  return LockResult::kRecovered;
}

void region_unlock(gpupool_region* region) { pthread_mutex_unlock(mutex_of(region)); }

uint64_t proc_start_time(pid_t pid) {
  char state;
  long threads;
  uint64_t start = 0;
  if (!read_proc_stat(pid, &state, &threads, &start)) return 0;
  return start;
}

bool process_alive(int32_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  char state;
  long threads;
  uint64_t start = 0;
  if (!read_proc_stat(pid, &state, &threads, &start)) {
    // No /proc entry (or no /proc): ask the kernel directly.
    return ::kill(pid, 0) == 0 || errno == EPERM;
  }
  if (start_time != 0 && start != start_time) return false;  // pid reused
  if (state == 'X' || state == 'x') return false;
  // A zombie is dead unless only its main thread exited and others still run.
  if (state == 'Z' && threads <= 1) return false;
  return true;
}

int region_claim_slot_locked(gpupool_region* region, int32_t pid, uint64_t start_time) {
  int free_slot = -1;
  for (int i = 0; i < kSlots; ++i) {
    gpupool_region_slot& s = region->slots[i];
    if (s.state == GPUPOOL_SLOT_LIVE && s.pid == pid) {
      // Ours from before an exec, or a dead process whose pid we now have:
      // either way its usage is gone.
      region_free_slot_locked(region, i);
    }
    if (s.state == GPUPOOL_SLOT_FREE && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return -1;
  gpupool_region_slot& s = region->slots[free_slot];
  s.pid = pid;
  s.start_time = start_time;
  for (int d = 0; d < kDevices; ++d) s.used[d] = 0;
  // control_region.h, Gates: a reader that tracks (pid, start_time) must see
  // the counters of this process only, never a predecessor's.
  for (gpupool_region_gate& g : region->gates[free_slot].device) {
    __atomic_store_n(&g.in_flight, 0u, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g.waiting, 0u, __ATOMIC_RELAXED);
    for (uint64_t* f : {&g.last_submit_ns, &g.device_ns, &g.wait_ns, &g.evicted_seq, &g.resident_bytes,
                        &g.swapped_out_bytes, &g.swapped_in_bytes})
      __atomic_store_n(f, uint64_t{0}, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&s.state, GPUPOOL_SLOT_LIVE, __ATOMIC_RELEASE);
  return free_slot;
}

void region_free_slot_locked(gpupool_region* region, int slot) {
  gpupool_region_slot& s = region->slots[slot];
  for (int d = 0; d < kDevices; ++d) {
    uint64_t mine = s.used[d];
    if (mine == 0) continue;
    uint64_t total = region->devices[d].used_bytes;
    region_store(&region->devices[d].used_bytes, total >= mine ? total - mine : 0);
    s.used[d] = 0;
  }
  __atomic_store_n(&s.state, GPUPOOL_SLOT_FREE, __ATOMIC_RELEASE);
  s.pid = 0;
  s.start_time = 0;
}

int region_reclaim_dead_locked(gpupool_region* region, int keep, bool* any_live) {
  int freed = 0;
  bool live = false;
  for (int i = 0; i < kSlots; ++i) {
    gpupool_region_slot& s = region->slots[i];
    if (i == keep || s.state != GPUPOOL_SLOT_LIVE) continue;
    if (process_alive(s.pid, s.start_time)) {
      live = true;
    } else {
      region_free_slot_locked(region, i);
      ++freed;
    }
  }
  if (any_live != nullptr) *any_live = live;
  return freed;
}

void region_recompute_used_locked(gpupool_region* region) {
  uint64_t sum[kDevices] = {};
  for (int i = 0; i < kSlots; ++i) {
    const gpupool_region_slot& s = region->slots[i];
    if (s.state != GPUPOOL_SLOT_LIVE) continue;
    for (int d = 0; d < kDevices; ++d) sum[d] += s.used[d];
  }
  for (int d = 0; d < kDevices; ++d) region_store(&region->devices[d].used_bytes, sum[d]);
}

int region_reclaim_dead(gpupool_region* region) {
  struct Seen {
    int slot;
    int32_t pid;
    uint64_t start_time;
  };
  Seen seen[kSlots];
  int n = 0;
  if (region_lock(region) == LockResult::kBroken) return 0;
  for (int i = 0; i < kSlots; ++i) {
    const gpupool_region_slot& s = region->slots[i];
    if (s.state == GPUPOOL_SLOT_LIVE) seen[n++] = {i, s.pid, s.start_time};
  }
  region_unlock(region);

  int dead = 0;
  for (int k = 0; k < n; ++k)
    if (!process_alive(seen[k].pid, seen[k].start_time)) seen[dead++] = seen[k];
  if (dead == 0) return 0;

  int freed = 0;
  if (region_lock(region) == LockResult::kBroken) return 0;
  for (int k = 0; k < dead; ++k) {
    const gpupool_region_slot& s = region->slots[seen[k].slot];
    // Only if nobody freed and re-claimed it in the meantime.
    if (s.state == GPUPOOL_SLOT_LIVE && s.pid == seen[k].pid && s.start_time == seen[k].start_time) {
      region_free_slot_locked(region, seen[k].slot);
      ++freed;
    }
  }
  region_unlock(region);
  return freed;
}

void region_test_die_holding_lock(gpupool_region* region, int device, uint64_t garbage,
                                  int notify_fd) {
  region_lock(region);
  region_store(&region->devices[device].used_bytes,
               region->devices[device].used_bytes + garbage);
  char done = 'L';
  while (::write(notify_fd, &done, 1) < 0 && errno == EINTR) {
  }
  for (;;) ::pause();
}

}  // namespace gpupool::shim
