// shim_config.cc — see shim_config.h.
#include "shim_config.h"

#include <strings.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gpupool/control_region.h"
#include "log.h"

extern char** environ;

namespace gpupool::shim {
namespace {

constexpr const char kLimitVar[] = "GPUPOOL_MEMORY_LIMIT";
constexpr const char kLimitPrefix[] = "GPUPOOL_MEMORY_LIMIT_";
constexpr int kMaxPhysicalOrdinal = 1023;

struct Unit {
  const char* suffix;
  uint64_t factor;
};

// K/M/G/T alone are binary, as in the sim's GPUPOOL_SIM_MEMORY.
const Unit kUnits[] = {
    {"", 1},
    {"B", 1},
    {"K", 1ull << 10},
    {"KiB", 1ull << 10},
    {"KB", 1000ull},
    {"M", 1ull << 20},
    {"MiB", 1ull << 20},
    {"MB", 1000000ull},
    {"G", 1ull << 30},
    {"GiB", 1ull << 30},
    {"GB", 1000000000ull},
    {"T", 1ull << 40},
    {"TiB", 1ull << 40},
    {"TB", 1000000000000ull},
};

// Value of NAME in an environ-style array, or nullptr.
const char* env_get(const char* const* envp, const char* name) {
  if (envp == nullptr) return nullptr;
  size_t n = std::strlen(name);
  for (const char* const* e = envp; *e != nullptr; ++e)
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return nullptr;
}

void add_error(std::string* errors, const std::string& what) {
  if (!errors->empty()) *errors += "; ";
  *errors += what;
}

std::string quoted(const char* value) {
  std::string v(value, strnlen(value, 80));
  if (std::strlen(value) > v.size()) v += "...";
  return "'" + v + "'";
}

// Canonical decimal 0..max (no sign, no leading zeros, no spaces).
bool parse_ordinal(const char* s, size_t len, int max, int* out) {
  if (len == 0 || len > 4) return false;
  if (len > 1 && s[0] == '0') return false;
  int v = 0;
  for (size_t i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

void load_limits(const char* const* envp, ShimConfig* c) {
  const char* all = env_get(envp, kLimitVar);
  if (all != nullptr) {
    uint64_t bytes = 0;
    if (parse_size(all, &bytes)) {
      for (int d = 0; d < kMaxDevices; ++d) {
        c->limit[d] = bytes;
        c->limit_set[d] = true;
      }
    } else {
      add_error(&c->error, std::string(kLimitVar) + "=" + quoted(all) +
                               " is not a memory size (e.g. 4GiB, 512MiB, 1.5GB, 1048576)");
    }
  }
  if (envp == nullptr) return;
  const size_t prefix = std::strlen(kLimitPrefix);
  for (const char* const* e = envp; *e != nullptr; ++e) {
    if (std::strncmp(*e, kLimitPrefix, prefix) != 0) continue;
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    const char* value = eq + 1;
    int device = -1;
    if (!parse_ordinal(*e + prefix, name.size() - prefix, kMaxDevices - 1, &device)) {
      add_error(&c->error, name + " names no device this shim can limit (GPUPOOL_MEMORY_LIMIT_0 .. _" +
                               decimal(kMaxDevices - 1) + ")");
      continue;
    }
    uint64_t bytes = 0;
    if (!parse_size(value, &bytes)) {
      add_error(&c->error, name + "=" + quoted(value) +
                               " is not a memory size (e.g. 4GiB, 512MiB, 1.5GB, 1048576)");
      continue;
    }
    c->limit[device] = bytes;
    c->limit_set[device] = true;
  }
}

void load_visible(const char* const* envp, ShimConfig* c) {
  const char* v = env_get(envp, "GPUPOOL_VISIBLE_DEVICES");
  if (v == nullptr) return;
  c->visible_set = true;
  const char* p = v;
  while (*p == ' ') ++p;
  if (*p == 0) return;  // "" shows no device, as CUDA_VISIBLE_DEVICES does
  for (;;) {
    while (*p == ' ') ++p;
    const char* start = p;
    while (*p >= '0' && *p <= '9') ++p;
    int ordinal = -1;
    if (!parse_ordinal(start, static_cast<size_t>(p - start), kMaxPhysicalOrdinal, &ordinal)) {
      c->visible_error = "GPUPOOL_VISIBLE_DEVICES=" + quoted(v) +
                         " is not a list of device ordinals (e.g. 2,3)";
      break;
    }
    bool duplicate = false;
    for (int i = 0; i < c->visible_count; ++i) duplicate |= c->visible[i] == ordinal;
    if (duplicate) {
      c->visible_error = "GPUPOOL_VISIBLE_DEVICES=" + quoted(v) + " names device " +
                         decimal(ordinal) + " twice";
      break;
    }
    if (c->visible_count == kMaxDevices) {
      c->visible_error = "GPUPOOL_VISIBLE_DEVICES=" + quoted(v) + " names more than " +
                         decimal(kMaxDevices) + " devices";
      break;
    }
    c->visible[c->visible_count++] = ordinal;
    while (*p == ' ') ++p;
    if (*p == 0) break;
    if (*p != ',') {
      c->visible_error = "GPUPOOL_VISIBLE_DEVICES=" + quoted(v) +
                         " is not a list of device ordinals (e.g. 2,3)";
      break;
    }
    ++p;
  }
  if (!c->visible_error.empty()) c->visible_count = 0;
}

bool has_limit_variable(const char* const* envp) {
  if (envp == nullptr) return false;
  for (const char* const* e = envp; *e != nullptr; ++e)
    if (std::strncmp(*e, kLimitVar, sizeof kLimitVar - 1) == 0 &&
        ((*e)[sizeof kLimitVar - 1] == '=' || (*e)[sizeof kLimitVar - 1] == '_'))
      return true;
  return false;
}

// GPUPOOL_AGENT_TABLE and GPUPOOL_AGENT_ENTRY (set by the agent together with
// GPUPOOL_JOB). Called only when GPUPOOL_AGENT_TABLE is set.
void load_agent(const char* const* envp, const char* table, ShimConfig* c) {
  if (*table != '/')
    add_error(&c->error, "GPUPOOL_AGENT_TABLE=" + quoted(table) + " is not an absolute path");
  else
    c->agent_table = table;
  const char* entry = env_get(envp, "GPUPOOL_AGENT_ENTRY");
  if (entry == nullptr)
    add_error(&c->error, "GPUPOOL_AGENT_TABLE is set but GPUPOOL_AGENT_ENTRY is not (both come from the agent)");
  else if (!parse_ordinal(entry, std::strlen(entry), 9999, &c->agent_entry))
    add_error(&c->error, "GPUPOOL_AGENT_ENTRY=" + quoted(entry) + " is not an entry number (e.g. 3)");
  if (env_get(envp, "GPUPOOL_JOB") == nullptr)
    add_error(&c->error, "GPUPOOL_AGENT_TABLE is set but GPUPOOL_JOB is not (both come from the agent)");
  c->env_limits_ignored = has_limit_variable(envp);
}

ShimConfig load_and_export() {
  ShimConfig c = load_shim_config(environ);
  if (c.job_defaulted) ::setenv("GPUPOOL_JOB", c.job.c_str(), 0);
  return c;
}

}  // namespace

ShimConfig::ShimConfig() {
  for (int d = 0; d < kMaxDevices; ++d) {
    limit[d] = kUnlimited;
    limit_set[d] = false;
    visible[d] = -1;
  }
}

bool parse_size(const char* text, uint64_t* bytes) {
  if (text == nullptr) return false;
  const char* p = text;
  while (*p == ' ') ++p;
  unsigned __int128 whole = 0;
  int int_digits = 0;
  while (*p >= '0' && *p <= '9') {
    whole = whole * 10 + static_cast<unsigned>(*p - '0');
    if (whole > UINT64_MAX) return false;
    ++p;
    ++int_digits;
  }
  uint64_t frac = 0, frac_scale = 1;
  int frac_digits = 0;
  if (*p == '.') {
    ++p;
    while (*p >= '0' && *p <= '9') {
      if (frac_scale < 1000000000000000000ull) {  // 18 digits are plenty
        frac = frac * 10 + static_cast<uint64_t>(*p - '0');
        frac_scale *= 10;
      }
      ++p;
      ++frac_digits;
    }
    if (frac_digits == 0) return false;
  }
  if (int_digits == 0) return false;
  while (*p == ' ') ++p;
  const char* unit = p;
  size_t unit_len = std::strlen(unit);
  while (unit_len > 0 && unit[unit_len - 1] == ' ') --unit_len;
  const Unit* match = nullptr;
  for (const Unit& u : kUnits) {
    if (std::strlen(u.suffix) == unit_len && strncasecmp(unit, u.suffix, unit_len) == 0) {
      match = &u;
      break;
    }
  }
  if (match == nullptr) return false;
  if (match->factor == 1 && frac != 0) return false;  // fractional bytes
  unsigned __int128 v = whole * match->factor +
                        static_cast<unsigned __int128>(frac) * match->factor / frac_scale;
  if (v > UINT64_MAX) return false;
  *bytes = static_cast<uint64_t>(v);
  return true;
}

std::string job_key_problem(const char* job) {
  if (job == nullptr || *job == 0) return "is empty";
  size_t n = std::strlen(job);
  if (n > GPUPOOL_REGION_JOB_MAX)
    return "is " + decimal(n) + " characters long (at most " +
           decimal(GPUPOOL_REGION_JOB_MAX) + ")";
  for (size_t i = 0; i < n; ++i) {
    unsigned char ch = static_cast<unsigned char>(job[i]);
    if (!(std::isalnum(ch) && ch < 128) && ch != '_' && ch != '.' && ch != '-')
      return "contains '" + std::string(1, static_cast<char>(ch)) +
             "' (only letters, digits, '_', '.' and '-' are allowed)";
  }
  return "";
}

std::string format_size(uint64_t bytes) {
  if (bytes == kUnlimited) return "unlimited";
  char buf[64];
  static const struct {
    uint64_t factor;
    const char* unit;
  } kBinary[] = {{1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& u : kBinary) {
    if (bytes >= u.factor && bytes % u.factor == 0) {
      std::snprintf(buf, sizeof buf, "%llu%s", static_cast<unsigned long long>(bytes / u.factor),
                    u.unit);
      return buf;
    }
  }
  std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string decimal(long long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%lld", v);
  return buf;
}

ShimConfig load_shim_config(const char* const* envp) {
  ShimConfig c;
  const char* job = env_get(envp, "GPUPOOL_JOB");
  const char* agent_table = env_get(envp, "GPUPOOL_AGENT_TABLE");
  if (job == nullptr) {
    if (agent_table == nullptr) {  // with the agent, a missing key is an error (load_agent)
      c.job = "pid-" + decimal(::getpid());
      c.job_defaulted = true;
    }
  } else if (std::string why = job_key_problem(job); !why.empty()) {
    add_error(&c.error, "GPUPOOL_JOB=" + quoted(job) + " " + why);
  } else {
    c.job = job;
  }
  if (agent_table != nullptr)
    load_agent(envp, agent_table, &c);  // the agent's limits apply, not GPUPOOL_MEMORY_LIMIT*
  else
    load_limits(envp, &c);
  load_visible(envp, &c);
  return c;
}

const ShimConfig& shim_config() {
  // Never destroyed: hooks may still run while static destructors do.
  static const ShimConfig* config = new ShimConfig(load_and_export());
  return *config;
}

void shim_config_init() {
  log_init();
  (void)shim_config();
}

}  // namespace gpupool::shim
