// nvml_real.cc — see nvml_real.h.
#include "nvml_real.h"

#include <dlfcn.h>

#include <cstring>

#include "hook_table.h"
#include "log.h"
#include "real_driver.h"

namespace gpupool::shim {
namespace {

const char* const kNames[kNvmlRealCount] = {
#define GPUPOOL_SHIM_NVML_NAME(name) #name,
    GPUPOOL_SHIM_NVML_HOOKS(GPUPOOL_SHIM_NVML_NAME) GPUPOOL_SHIM_NVML_HELPERS(GPUPOOL_SHIM_NVML_NAME)
#undef GPUPOOL_SHIM_NVML_NAME
};

// The hooks of hooks_nvml.cc (declared by nvml_abi.h). Constant-initialised,
// as kHooks (hook_table.cc): usable from the first dlsym. -Bsymbolic makes
// these the shim's own definitions.
void* const kNvmlHooks[kNvmlHookCount] = {
#define GPUPOOL_SHIM_NVML_ADDRESS(name) reinterpret_cast<void*>(&::name),
    GPUPOOL_SHIM_NVML_HOOKS(GPUPOOL_SHIM_NVML_ADDRESS)
#undef GPUPOOL_SHIM_NVML_ADDRESS
};

std::atomic<void*> g_real_nvml[kNvmlRealCount];
std::atomic<bool> g_loaded{false};
std::atomic<bool> g_reported_missing{false};

bool is_hook(const void* p) {
  for (void* hook : kNvmlHooks)
    if (hook == p) return true;
  return false;
}

}  // namespace

int nvml_hook_id_by_name(const char* name) {
  if (name == nullptr || std::strncmp(name, "nvml", 4) != 0) return -1;
  for (int i = 0; i < kNvmlHookCount; ++i)
    if (std::strcmp(kNames[i], name) == 0) return i;
  return -1;
}

void* nvml_hook(int id) { return id >= 0 && id < kNvmlHookCount ? kNvmlHooks[id] : nullptr; }

void* nvml_hook_for_real(const void* real) {
  if (real == nullptr || !nvml_loaded()) return nullptr;
  for (int i = 0; i < kNvmlHookCount; ++i)
    if (g_real_nvml[i].load(std::memory_order_acquire) == real) return kNvmlHooks[i];
  return nullptr;
}

bool nvml_loaded() { return g_loaded.load(std::memory_order_acquire); }

bool nvml_load() {
  if (nvml_loaded()) return true;
  ResolvingScope scope;
  DlsymFn sym = real_dlsym();
  if (sym == nullptr) return false;
  void* handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    if (!g_reported_missing.exchange(true)) {
      const char* why = dlerror();
      GPUPOOL_LOG_WARN("cannot load NVML: %s", why != nullptr ? why : "libnvidia-ml.so.1 not found");
    }
    return false;
  }
  for (int i = 0; i < kNvmlRealCount; ++i) {
    void* p = sym(handle, kNames[i]);
    if (p != nullptr && is_hook(p)) {
      GPUPOOL_LOG_ERROR("libnvidia-ml.so.1 gives the shim's own %s; treating it as missing", kNames[i]);
      p = nullptr;
    }
    g_real_nvml[i].store(p, std::memory_order_release);
  }
  g_loaded.store(true, std::memory_order_release);
  GPUPOOL_LOG_DEBUG("NVML loaded (handle %p)", handle);
  return true;
}

void* nvml_real(int id) {
  if (!nvml_loaded() && !nvml_load()) return nullptr;
  return g_real_nvml[id].load(std::memory_order_acquire);
}

nvmlReturn_t nvml_missing_result() {
  return nvml_loaded() ? NVML_ERROR_FUNCTION_NOT_FOUND : NVML_ERROR_LIBRARY_NOT_FOUND;
}

}  // namespace gpupool::shim
