// devices.cc — see devices.h.
#include "devices.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "agent_table.h"
#include "log.h"
#include "shim_config.h"

namespace gpupool::shim {
namespace {

constexpr const char kCudaVisible[] = "CUDA_VISIBLE_DEVICES";
constexpr const char kApplied[] = "GPUPOOL_APPLIED_CUDA_VISIBLE_DEVICES";

std::mutex g_mutex;  // serialises devices_before_init()
bool g_failed = false;  // under g_mutex (or in the constructor)
bool g_reported = false;

bool same(const char* a, const char* b) { return a != nullptr && b != nullptr && std::strcmp(a, b) == 0; }

std::string join(const int* ordinals, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ',';
    s += std::to_string(ordinals[i]);
  }
  return s;
}

void fail(const std::string& why) {
  g_failed = true;
  if (!g_reported) {
    g_reported = true;
    GPUPOOL_LOG_ERROR("%s; the job sees no device (cuInit fails with CUDA_ERROR_INVALID_VALUE)", why.c_str());
  }
  setenv(kCudaVisible, "", 1);
  setenv(kApplied, "", 1);
}

// Under g_mutex, or in the constructor. Brings CUDA_VISIBLE_DEVICES in line
// with the job's devices unless the shim wrote its current value itself.
void apply_locked() {
  const ShimConfig& config = shim_config();
  if (!config.visible_set) return;
  if (!config.visible_error.empty()) {
    fail(config.visible_error);
    return;
  }
  const char* current = std::getenv(kCudaVisible);
  if (same(current, std::getenv(kApplied))) return;  // already translated (by us or a parent)
  std::string value, error;
  if (!compose_visible(config.visible, config.visible_count, current, &value, &error)) {
    fail(error);
    return;
  }
  g_failed = false;
  GPUPOOL_LOG_DEBUG("GPUPOOL_VISIBLE_DEVICES=%s, CUDA_VISIBLE_DEVICES=%s -> CUDA_VISIBLE_DEVICES=%s",
                    join(config.visible, config.visible_count).c_str(), current ? current : "(unset)",
                    value.c_str());
  setenv(kCudaVisible, value.c_str(), 1);
  setenv(kApplied, value.c_str(), 1);
}

}  // namespace

bool compose_visible(const int* job, int n, const char* cuda_visible, std::string* out, std::string* error) {
  if (cuda_visible == nullptr) {
    *out = join(job, n);
    return true;
  }
  int chosen[64];
  int count = 0;
  const char* p = cuda_visible;
  while (*p != 0 && count < 64) {
    while (*p == ' ') ++p;
    if (std::strncmp(p, "GPU-", 4) == 0 || std::strncmp(p, "MIG-", 4) == 0) {
      *error = std::string("CUDA_VISIBLE_DEVICES='") + cuda_visible +
               "' names a device by UUID, which cannot be checked against GPUPOOL_VISIBLE_DEVICES; "
               "use ordinals within the job's devices";
      return false;
    }
    // The driver's rule: the list ends at the first invalid or repeated entry.
    char* end = nullptr;
    errno = 0;
    long index = std::isdigit(static_cast<unsigned char>(*p)) ? std::strtol(p, &end, 10) : -1;
    if (index < 0 || errno != 0 || index >= n) break;
    while (*end == ' ') ++end;
    if (*end != ',' && *end != 0) break;
    bool repeated = false;
    for (int i = 0; i < count; ++i) repeated |= chosen[i] == job[index];
    if (repeated) break;
    chosen[count++] = job[index];
    p = *end == ',' ? end + 1 : end;
  }
  *out = join(chosen, count);
  return true;
}

void devices_apply() { apply_locked(); }

CUresult devices_before_init() {
  const ShimConfig& config = shim_config();
  if (!config.visible_set) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(g_mutex);
  apply_locked();
  return g_failed ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

void devices_after_init() {
  if (shim_config().agent_table.empty()) return;  // only the agent's limits are by physical ordinal
  std::lock_guard<std::mutex> lock(g_mutex);
  agent_table_note_visible(std::getenv(kCudaVisible));
}

}  // namespace gpupool::shim
