// real_driver.h — the real dlsym and the real CUDA driver behind the hooks.
//
// Contract
//   real_dlsym() is glibc's dlsym, found with dlvsym(RTLD_NEXT, "dlsym", ...)
//   on the GLIBC version tags (glibc >= 2.34 has no __libc_dlsym). The shim
//   exports its own dlsym, so nothing in the shim may call dlsym by name.
//
//   driver_load() opens the driver itself: dlopen("libcuda.so.1",
//   RTLD_NOW | RTLD_GLOBAL) — never only RTLD_NEXT, which cannot see a driver
//   that a JNI library (JCuda) or cudart loaded into a local scope. On that
//   handle it resolves every name of hook_table.h once (g_real) and publishes
//   the real-address -> hook map. The first hook to need the driver loads it;
//   a process that never calls the driver never loads it.
//
//   Loading takes no lock of the shim: threads racing to load all dlopen (the
//   loader counts references) and store the same addresses. So a thread that
//   is inside dlopen (holding the loader's lock) and reaches a hook from a
//   library constructor can never wait for another thread of the shim.
//
// Recursion
//   While the shim resolves symbols (its constructor, driver_load) a
//   thread-local flag is set; the dlsym hook then goes straight to the real
//   dlsym, so a library that calls dlsym from a constructor run inside the
//   shim's own dlopen (cuDNN 9 does) cannot recurse into the shim.
#pragma once

#include <atomic>

#include "hook_table.h"

namespace gpupool::shim {

using DlsymFn = void* (*)(void*, const char*);

// glibc's dlsym; nullptr only if glibc offers none under a known version tag.
DlsymFn real_dlsym();

// Loads the driver and resolves every entry point once. False when
// libcuda.so.1 cannot be opened (reported once, at warn level).
bool driver_load();
bool driver_loaded();

// The handle of the driver the shim loaded, or nullptr.
void* driver_handle();

// What a hook returns when it has no real function to call: the driver could
// not be loaded (CUDA_ERROR_NOT_INITIALIZED), or it lacks this entry point
// (CUDA_ERROR_NOT_SUPPORTED).
CUresult missing_real_result();

// Set while the shim itself resolves symbols (see Recursion).
bool resolving();
class ResolvingScope {
 public:
  ResolvingScope();
  ~ResolvingScope();
  ResolvingScope(const ResolvingScope&) = delete;
  ResolvingScope& operator=(const ResolvingScope&) = delete;

 private:
  bool outer_;
};

void* real_slow(int id);

template <typename Fn>
inline Fn real(int id) {
  void* p = g_real[id].load(std::memory_order_acquire);
  if (__builtin_expect(p == nullptr, 0)) p = real_slow(id);
  return reinterpret_cast<Fn>(p);
}

}  // namespace gpupool::shim

// The real driver's `name`, typed as cuda.h declares it; nullptr if missing.
#define SHIM_REAL(name) ::gpupool::shim::real<decltype(&::name)>(::gpupool::shim::kHook_##name)
