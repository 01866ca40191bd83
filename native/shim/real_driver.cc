// real_driver.cc — see real_driver.h.
#include "real_driver.h"

#include <dlfcn.h>

#include "log.h"

namespace gpupool::shim {
namespace {

std::atomic<DlsymFn> g_real_dlsym{nullptr};
std::atomic<void*> g_handle{nullptr};
std::atomic<bool> g_loaded{false};
std::atomic<bool> g_reported_missing{false};

// initial-exec: the shim is loaded at start-up (LD_PRELOAD), so its TLS is in
// the static block and reading it never allocates or takes a lock.
__attribute__((tls_model("initial-exec"))) thread_local bool t_resolving = false;

DlsymFn find_real_dlsym() {
  // GLIBC_2.34: dlsym moved into libc; GLIBC_2.2.5 (x86_64) and GLIBC_2.17
  // (aarch64, ppc64le) are the original tags on older glibc.
  static const char* const kVersions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
  for (const char* version : kVersions) {
    if (void* p = dlvsym(RTLD_NEXT, "dlsym", version)) return reinterpret_cast<DlsymFn>(p);
  }
  return nullptr;
}

bool is_hook(const void* p) {
  for (int i = 0; i < kHookCount; ++i)
    if (kHooks[i] == p) return true;
  return false;
}

}  // namespace

bool resolving() { return t_resolving; }

ResolvingScope::ResolvingScope() : outer_(t_resolving) { t_resolving = true; }
ResolvingScope::~ResolvingScope() { t_resolving = outer_; }

DlsymFn real_dlsym() {
  DlsymFn f = g_real_dlsym.load(std::memory_order_acquire);
  if (f != nullptr) return f;
  f = find_real_dlsym();
  if (f == nullptr) {
    GPUPOOL_LOG_ERROR("cannot find glibc's dlsym (dlvsym on GLIBC_2.34/2.2.5/2.17 failed)");
    return nullptr;
  }
  g_real_dlsym.store(f, std::memory_order_release);
  return f;
}

bool driver_loaded() { return g_loaded.load(std::memory_order_acquire); }

void* driver_handle() { return g_handle.load(std::memory_order_acquire); }

bool driver_load() {
  if (driver_loaded()) return true;
  ResolvingScope scope;
  DlsymFn sym = real_dlsym();
  if (sym == nullptr) return false;
  void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    if (!g_reported_missing.exchange(true)) {
      const char* why = dlerror();
      GPUPOOL_LOG_WARN("cannot load the CUDA driver: %s", why != nullptr ? why : "libcuda.so.1 not found");
    }
    return false;
  }
  for (int i = 0; i < kRealCount; ++i) {
    void* p = sym(handle, kRealNames[i]);
    if (p != nullptr && is_hook(p)) {
      // "libcuda.so.1" resolved to the shim's own exports: calling it would recurse.
      GPUPOOL_LOG_ERROR("libcuda.so.1 gives the shim's own %s; treating it as missing", kRealNames[i]);
      p = nullptr;
    }
    g_real[i].store(p, std::memory_order_release);
  }
  hook_table_publish();
  g_handle.store(handle, std::memory_order_release);
  g_loaded.store(true, std::memory_order_release);
  GPUPOOL_LOG_DEBUG("CUDA driver loaded (handle %p)", handle);
  return true;
}

void* real_slow(int id) {
  if (!driver_loaded() && !driver_load()) return nullptr;
  return g_real[id].load(std::memory_order_acquire);
}

CUresult missing_real_result() {
  return driver_loaded() ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_NOT_INITIALIZED;
}

}  // namespace gpupool::shim
