// agent_table.cc — see agent_table.h.
#include "agent_table.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "gpupool/node_table.h"
#include "log.h"
#include "region.h"
#include "shim_config.h"

namespace gpupool::shim {
namespace {

static_assert(kUnlimited == GPUPOOL_NODE_UNLIMITED, "quota.h and the node table agree");
static_assert(kMaxDevices == GPUPOOL_NODE_MAX_DEVICES, "a job device per limit slot");

// Written once by attach (under quota.cc's mutex) before g_attached is
// published with release; read only after g_attached is seen true.
const gpupool_node_table* g_table = nullptr;
const gpupool_node_job* g_job = nullptr;
uint64_t g_generation = 0;
char g_key[GPUPOOL_NODE_JOB_BYTES];
size_t g_key_len = 0;
int g_entry = -1;
char g_path[PATH_MAX];  // for the warning; never freed, unlike a std::string
std::atomic<bool> g_attached{false};
std::atomic<bool> g_lost{false};

std::mutex g_map_mu;                  // writers of g_physical
bool g_map_noted = false;             // under g_map_mu: the driver's value is in
std::atomic<int> g_physical[kMaxDevices];

void set_map_locked(const char* cuda_visible) {
  int physical[kMaxDevices];
  physical_ordinals(cuda_visible, physical);
  for (int d = 0; d < kMaxDevices; ++d) g_physical[d].store(physical[d], std::memory_order_relaxed);
}

std::string u(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  return buf;
}

// Why `t` is not a table this build can read; empty if it is.
std::string header_problem(const gpupool_node_header& h, uid_t file_owner) {
  if (std::memcmp(h.magic, GPUPOOL_NODE_TABLE_MAGIC, sizeof h.magic) != 0)
    return "header.magic is not \"" GPUPOOL_NODE_TABLE_MAGIC "\" (not a node table, or not finished)";
  __atomic_thread_fence(__ATOMIC_ACQUIRE);  // pairs with the creator's fence before magic
  if (h.layout_version != GPUPOOL_NODE_TABLE_LAYOUT_VERSION)
    return "header.layout_version is " + u(h.layout_version) + ", this shim reads " +
           u(GPUPOOL_NODE_TABLE_LAYOUT_VERSION);
  if (h.header_size != sizeof(gpupool_node_header))
    return "header.header_size is " + u(h.header_size) + ", not " + u(sizeof(gpupool_node_header));
  if (h.table_size != sizeof(gpupool_node_table))
    return "header.table_size is " + u(h.table_size) + ", not " + u(sizeof(gpupool_node_table));
  if (h.max_devices != GPUPOOL_NODE_MAX_DEVICES)
    return "header.max_devices is " + u(h.max_devices) + ", not " + u(GPUPOOL_NODE_MAX_DEVICES);
  if (h.max_jobs != GPUPOOL_NODE_MAX_JOBS)
    return "header.max_jobs is " + u(h.max_jobs) + ", not " + u(GPUPOOL_NODE_MAX_JOBS);
  if (h.owner_uid != file_owner)
    return "header.owner_uid " + u(h.owner_uid) + " is not the file's owner " + u(file_owner);
  return "";
}

// Why the open file `fd` cannot be the table; empty if it can. Fills *st.
std::string file_problem(int fd, struct stat* st) {
  if (::fstat(fd, st) != 0) return std::string("cannot be examined (") + std::strerror(errno) + ")";
  if (!S_ISREG(st->st_mode)) return "is not a regular file";
  if (static_cast<uint64_t>(st->st_size) != sizeof(gpupool_node_table))
    return "is " + u(static_cast<uint64_t>(st->st_size)) + " bytes, not sizeof(gpupool_node_table) = " +
           u(sizeof(gpupool_node_table));
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st->st_mode & 07777));
    return std::string("is writable by group or others (mode ") + mode + "; the agent's is 0644)";
  }
  return "";
}

bool key_is_ours(const gpupool_node_job& j) {
  return strnlen(j.key, sizeof j.key) == g_key_len && std::memcmp(j.key, g_key, g_key_len) == 0;
}

// The key as printable text for a message (it may be anything).
std::string printable_key(const gpupool_node_job& j) {
  std::string s;
  for (size_t i = 0; i < sizeof j.key && j.key[i] != 0; ++i)
    s += std::isprint(static_cast<unsigned char>(j.key[i])) ? j.key[i] : '?';
  return s;
}

}  // namespace

void physical_ordinals(const char* cuda_visible, int* physical) {
  for (int d = 0; d < kMaxDevices; ++d) physical[d] = cuda_visible == nullptr ? d : -1;
  if (cuda_visible == nullptr) return;
  int n = 0;
  const char* p = cuda_visible;
  while (*p != 0 && n < kMaxDevices) {
    while (*p == ' ') ++p;
    if (!std::isdigit(static_cast<unsigned char>(*p))) break;  // a UUID, or the list's end
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(p, &end, 10);
    if (errno != 0 || v > INT_MAX) break;
    while (*end == ' ') ++end;
    if (*end != ',' && *end != 0) break;
    bool repeated = false;
    for (int i = 0; i < n; ++i) repeated |= physical[i] == v;
    if (repeated) break;
    physical[n++] = static_cast<int>(v);
    p = *end == ',' ? end + 1 : end;
  }
}

void agent_table_note_visible(const char* cuda_visible) {
  std::lock_guard<std::mutex> lock(g_map_mu);
  if (g_map_noted) return;
  g_map_noted = true;
  set_map_locked(cuda_visible);
}

bool agent_table_attach(const char* path, int entry, const char* job, std::string* why) {
  if (g_attached.load(std::memory_order_acquire)) return true;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    *why = std::string("cannot be opened (") + std::strerror(errno) + ")";
    return false;
  }
  struct stat st {};
  *why = file_problem(fd, &st);
  void* map = MAP_FAILED;
  if (why->empty() &&
      (map = ::mmap(nullptr, sizeof(gpupool_node_table), PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
    *why = std::string("cannot be mapped (") + std::strerror(errno) + ")";
  ::close(fd);
  if (map == MAP_FAILED) return false;

  const auto* t = static_cast<const gpupool_node_table*>(map);
  *why = header_problem(t->header, st.st_uid);
  const std::string at = "jobs[" + decimal(entry) + "]";
  if (why->empty() && (entry < 0 || static_cast<uint32_t>(entry) >= t->header.max_jobs))
    *why = "GPUPOOL_AGENT_ENTRY=" + decimal(entry) + " is beyond the table's " + u(t->header.max_jobs) +
           " jobs";
  if (why->empty()) {
    const gpupool_node_job& j = t->jobs[entry];
    const uint32_t state = gpupool_node_load_state(&j.state);
    const uint64_t generation = gpupool_node_load_u64(&j.generation);
    const size_t len = std::strlen(job);
    if (state != GPUPOOL_JOB_RUNNING)
      *why = at + ".state is " + u(state) + ", not RUNNING (" + u(GPUPOOL_JOB_RUNNING) +
             "): the agent has not granted it";
    else if (len >= sizeof j.key || strnlen(j.key, sizeof j.key) != len || std::memcmp(j.key, job, len) != 0)
      *why = at + ".key is '" + printable_key(j) + "', not GPUPOOL_JOB='" + job + "'";
    else if (j.uid != static_cast<uint32_t>(::geteuid()))
      *why = at + ".uid " + u(j.uid) + " is not this process's user " + u(::geteuid());
    else if (gpupool_node_load_state(&j.state) != GPUPOOL_JOB_RUNNING ||
             gpupool_node_load_u64(&j.generation) != generation)
      *why = at + " was released while being read";
    if (why->empty()) {
      g_table = t;
      g_job = &j;
      g_generation = generation;
      std::memcpy(g_key, job, len);
      g_key_len = len;
      g_entry = entry;
      std::snprintf(g_path, sizeof g_path, "%s", path);
      {
        std::lock_guard<std::mutex> lock(g_map_mu);
        if (!g_map_noted) set_map_locked(std::getenv("CUDA_VISIBLE_DEVICES"));
      }
      g_attached.store(true, std::memory_order_release);
      return true;
    }
  }
  ::munmap(map, sizeof(gpupool_node_table));
  return false;
}

bool agent_table_attached() { return g_attached.load(std::memory_order_acquire); }

bool agent_table_limit(int device, uint64_t* limit) {
  if (!g_attached.load(std::memory_order_acquire) || g_lost.load(std::memory_order_acquire)) return false;
  if (device < 0 || device >= kMaxDevices) return false;
  const gpupool_node_job& j = *g_job;
  // (state, generation) before and after the limit: the limit read belongs to
  // this job's tenure of the entry (the agent frees an entry before reusing it).
  bool ours = gpupool_node_load_state(&j.state) == GPUPOOL_JOB_RUNNING &&
              gpupool_node_load_u64(&j.generation) == g_generation && key_is_ours(j);
  uint64_t value = 0;
  if (ours) {
    const int p = g_physical[device].load(std::memory_order_relaxed);
    if (p >= 0 && p < static_cast<int>(GPUPOOL_NODE_MAX_DEVICES))
      value = gpupool_node_load_u64(&j.limit_bytes[p]);
    ours = gpupool_node_load_state(&j.state) == GPUPOOL_JOB_RUNNING &&
           gpupool_node_load_u64(&j.generation) == g_generation;
  }
  if (ours) {
    *limit = value;
    return true;
  }
  if (!g_lost.exchange(true)) {
    const uint32_t state = gpupool_node_load_state(&j.state);
    const uint64_t generation = gpupool_node_load_u64(&j.generation);
    const char* what = state != GPUPOOL_JOB_RUNNING ? "released (state is not RUNNING)"
                       : generation != g_generation ? "reused (its generation changed)"
                                                    : "given another key";
    log_write(LogLevel::kWarn,
              "%s: jobs[%d] was %s: the agent no longer grants this job (generation %llu at attach, %llu "
              "now); new allocations fail, frees still work",
              g_path, g_entry, what, static_cast<unsigned long long>(g_generation),
              static_cast<unsigned long long>(generation));
  }
  return false;
}

int agent_table_entry() { return g_attached.load(std::memory_order_acquire) ? g_entry : -1; }

bool agent_table_entry_ours() {
  if (!g_attached.load(std::memory_order_acquire)) return false;
  return gpupool_node_load_state(&g_job->state) == GPUPOOL_JOB_RUNNING &&
         gpupool_node_load_u64(&g_job->generation) == g_generation;
}

const gpupool_node_slice* agent_table_slice(int physical) {
  if (!g_attached.load(std::memory_order_acquire)) return nullptr;
  if (physical < 0 || physical >= static_cast<int>(GPUPOOL_NODE_MAX_DEVICES)) return nullptr;
  return &g_table->slices[physical];
}

int agent_table_physical(int device) {
  if (device < 0 || device >= kMaxDevices) return -1;
  return g_physical[device].load(std::memory_order_relaxed);
}

bool agent_table_agent_alive() {
  if (!g_attached.load(std::memory_order_acquire)) return false;
  const gpupool_node_header& h = g_table->header;
  const int32_t pid = __atomic_load_n(&h.agent_pid, __ATOMIC_ACQUIRE);
  const uint64_t start = __atomic_load_n(&h.agent_start_time, __ATOMIC_ACQUIRE);
  return pid > 0 && process_alive(pid, start);
}

}  // namespace gpupool::shim
