// spin_job_options.h — spin_job's command line (see spin_job.cc for what the
// program does): parsed and validated, every mistake named in the message.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace spin_job {

struct Options {
  uint64_t spin_ns = 1000000;  // each spin kernel keeps the device busy this long
  double device_seconds = 0;   // stop after this much device time (0: no such limit)
  double wall_seconds = 0;     // stop after this much wall time (0: no such limit)
  uint64_t launches = 0;       // stop after this many launches (0: no such limit)
  unsigned graph_kernels = 0;  // > 0: each launch is a graph of that many spin kernels
  uint64_t bytes = 0;          // allocate, fill, and verify at the end
  int device = 0;
  unsigned progress_ms = 0;    // a progress line every so often (0: none)
  bool wait_stdin = false;     // after "ready", wait for a line on stdin
  // Each launch waits behind a host function until the launch call returned,
  // so time blocked at the gate is not device time. --no-hold drops it: the
  // simulated driver runs every stream of a device on one executor, so a held
  // stream stalls the whole simulated device (on a GPU only that stream
  // waits), including the copies that swap this job's memory out.
  bool hold = true;
  unsigned ring = 4;           // launches the job keeps queued ahead of the device
  std::string kernels_dir;     // "" : the usual places (spin_job.cc)
};

inline const char* kUsage =
    "usage: spin_job [--spin-ns N] [--device-seconds S] [--wall-seconds S] [--launches N]\n"
    "                [--graph K] [--bytes SIZE] [--device D] [--progress-ms M] [--ring R]\n"
    "                [--wait-stdin] [--no-hold] [--kernels DIR]\n"
    "  at least one of --device-seconds, --wall-seconds, --launches\n";

// Parses a whole unsigned decimal; false on anything else.
inline bool parse_u64(const char* text, uint64_t* out) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

inline bool parse_seconds(const char* text, double* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (*end != '\0' || !std::isfinite(v) || v < 0 || v > 1e6) return false;
  *out = v;
  return true;
}

// "512MiB", "1.5GiB", "4096": bytes, in the units gpupool uses.
inline bool parse_size(const char* text, uint64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || !std::isfinite(v) || v < 0) return false;
  const std::string unit = end;
  double factor = 0;
  if (unit.empty() || unit == "B") factor = 1;
  else if (unit == "KiB") factor = 1024.0;
  else if (unit == "MiB") factor = 1048576.0;
  else if (unit == "GiB") factor = 1073741824.0;
  else return false;
  const double bytes = v * factor;
  if (bytes > 1e15) return false;
  *out = static_cast<uint64_t>(bytes);
  return true;
}

// Fills `o`; on a mistake writes what was wrong to `error` and returns false.
inline bool parse_options(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--wait-stdin") {
      o->wait_stdin = true;
      continue;
    }
    if (flag == "--no-hold") {
      o->hold = false;
      continue;
    }
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) {
      *error = flag + " needs a value";
      return false;
    }
    ++i;
    uint64_t n = 0;
    bool ok = true;
    if (flag == "--spin-ns") ok = parse_u64(value, &o->spin_ns) && o->spin_ns <= 3600ull * 1000000000ull;
    else if (flag == "--device-seconds") ok = parse_seconds(value, &o->device_seconds);
    else if (flag == "--wall-seconds") ok = parse_seconds(value, &o->wall_seconds);
    else if (flag == "--launches") ok = parse_u64(value, &o->launches);
    else if (flag == "--graph") ok = parse_u64(value, &n) && n >= 1 && n <= 4096 && ((o->graph_kernels = n), true);
    else if (flag == "--bytes") ok = parse_size(value, &o->bytes);
    else if (flag == "--device") ok = parse_u64(value, &n) && n < 64 && ((o->device = static_cast<int>(n)), true);
    else if (flag == "--progress-ms") ok = parse_u64(value, &n) && n <= 60000 && ((o->progress_ms = n), true);
    else if (flag == "--ring") ok = parse_u64(value, &n) && n >= 1 && n <= 64 && ((o->ring = n), true);
    else if (flag == "--kernels") o->kernels_dir = value;
    else {
      *error = "unknown option " + flag;
      return false;
    }
    if (!ok) {
      *error = flag + ": invalid value '" + value + "'";
      return false;
    }
  }
  if (o->device_seconds == 0 && o->wall_seconds == 0 && o->launches == 0) {
    *error = "no stop condition: give --device-seconds, --wall-seconds or --launches";
    return false;
  }
  if (o->bytes % 4 != 0) {
    *error = "--bytes: " + std::to_string(o->bytes) + " is not a multiple of 4";
    return false;
  }
  return true;
}

}  // namespace spin_job
