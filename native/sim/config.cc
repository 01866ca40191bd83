// config.cc — the sim's configuration, read once from the environment.
//
// A bad value is not guessed around: it is recorded in Config::error, cuInit
// then fails with CUDA_ERROR_INVALID_VALUE and the message names the variable.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sim.h"

namespace gpupool::sim {
namespace {

constexpr int kMaxDevices = 64;

struct Unit {
  const char* suffix;
  double factor;
};

// Longest suffixes first so "GiB" is not read as "B".
const Unit kUnits[] = {
    {"KiB", 1024.0},         {"MiB", 1048576.0},        {"GiB", 1073741824.0},
    {"TiB", 1099511627776.0}, {"KB", 1e3},              {"MB", 1e6},
    {"GB", 1e9},              {"TB", 1e12},             {"K", 1024.0},
    {"M", 1048576.0},         {"G", 1073741824.0},      {"T", 1099511627776.0},
    {"B", 1.0},
};

// The driver's reading of CUDA_VISIBLE_DEVICES over `physical` devices.
std::vector<int> visible_devices(const char* list, int physical) {
  std::vector<int> out;
  if (list == nullptr) {
    for (int i = 0; i < physical; ++i) out.push_back(i);
    return out;
  }
  const char* p = list;
  while (*p != 0) {
    while (*p == ' ') ++p;
    char* end = nullptr;
    errno = 0;
    long index = std::isdigit(static_cast<unsigned char>(*p)) ? std::strtol(p, &end, 10) : -1;
    if (index < 0 || errno != 0 || index >= physical) break;
    while (*end == ' ') ++end;
    if (*end != ',' && *end != 0) break;
    bool repeated = false;
    for (int seen : out) repeated |= seen == index;
    if (repeated) break;
    out.push_back(static_cast<int>(index));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

Config load() {
  Config c;
  if (const char* v = std::getenv("GPUPOOL_SIM_DEVICES"); v && *v) {
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v, &end, 10);
    if (errno || *end || n < 0 || n > kMaxDevices) {
      c.error = std::string("GPUPOOL_SIM_DEVICES='") + v + "' is not a device count (0.." +
                std::to_string(kMaxDevices) + ")";
    } else {
      c.device_count = static_cast<int>(n);
    }
  }
  if (const char* v = std::getenv("GPUPOOL_SIM_MEMORY"); v && *v) {
    uint64_t bytes = 0;
    if (!parse_size(v, &bytes) || bytes < (1ull << 20) || bytes > (1ull << 46)) {
      c.error = std::string("GPUPOOL_SIM_MEMORY='") + v +
                "' is not a memory size between 1MiB and 64TiB (e.g. 16GiB, 512MiB)";
    } else {
      c.memory_bytes = bytes;
    }
  }
  if (const char* v = std::getenv("GPUPOOL_SIM_NAME"); v && *v) {
    // cuDeviceGetName hands out at most 255 characters plus the terminator.
    c.name.assign(v, strnlen(v, 255));
  }
  c.visible = visible_devices(std::getenv("CUDA_VISIBLE_DEVICES"), c.device_count);
  return c;
}

}  // namespace

bool parse_size(const std::string& text, uint64_t* bytes) {
  if (text.empty()) return false;
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(s, &end);
  if (errno || end == s || !std::isfinite(value) || value < 0) return false;
  std::string suffix(end);
  while (!suffix.empty() && suffix.front() == ' ') suffix.erase(0, 1);
  double factor = 1.0;
  if (!suffix.empty()) {
    bool matched = false;
    for (const Unit& u : kUnits) {
      if (strcasecmp(suffix.c_str(), u.suffix) == 0) {
        factor = u.factor;
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  double total = value * factor;
  if (total >= 18446744073709551615.0) return false;
  *bytes = static_cast<uint64_t>(total);
  return true;
}

const Config& config() {
  static const Config c = load();
  return c;
}

void report(const std::string& message) {
  std::fprintf(stderr, "gpupool sim: %s\n", message.c_str());
}

}  // namespace gpupool::sim
