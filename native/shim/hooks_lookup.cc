// hooks_lookup.cc — the ways a program finds driver entry points at run time:
// dlsym and cuGetProcAddress / cuGetProcAddress_v2.
//
// dlsym(handle, name) for a name the shim hooks:
//   RTLD_DEFAULT, RTLD_NEXT  -> the hook (the shim stands in front of any
//                               driver, loaded yet or not, global or local);
//   any other handle         -> what glibc's dlsym finds there; if that is the
//                               real driver's entry point (the handle is the
//                               driver's, or an object that depends on it), the
//                               hook of exactly that variant instead.
// Lookups made by the driver itself (a caller inside a library whose file name
// starts with "libcuda.so": the driver, or on WSL the driver behind the
// libcuda stub — not libcudart.so, which must be hooked like any caller) are
// never hooked: the driver looking up its own cuInit must not get the shim's,
// which would call the driver, which would look it up again. Its
// RTLD_DEFAULT lookups of hooked names get the driver's own entry point
// (glibc would find the shim's export first).
// Every other lookup is glibc's dlsym with the caller's own arguments. On
// x86_64 the hook reaches it by a tail jump, so glibc sees the original
// caller's return address and RTLD_NEXT resolves relative to the caller, as
// it must (a later library wrapping malloc with dlsym(RTLD_NEXT, "malloc")
// would otherwise be handed its own wrapper). Elsewhere the hook calls glibc's
// dlsym, which resolves RTLD_NEXT relative to the shim: right for programs
// whose only preloaded library is the shim and nothing else wraps symbols
// with RTLD_NEXT.
// The NVML hooks (nvml_real.h) are handed out the same way: RTLD_DEFAULT and
// RTLD_NEXT give the hook; another handle gives the hook when glibc's answer
// is the real NVML entry point of that variant (nvidia-smi and pynvml dlopen
// NVML and dlsym it); lookups made by NVML itself or by the driver (a caller
// inside "libnvidia-ml.so*" or "libcuda.so*") are never hooked.
// While the shim itself resolves symbols (real_driver.h, Recursion) every
// lookup goes straight to glibc.
//
// cuGetProcAddress: the real lookup runs first, with the caller's version and
// flags. If the address it returns is the real entry point of a hooked
// variant, the caller gets that variant's hook; anything else is returned
// unchanged. A hook is never chosen by name, so the ABI always matches what
// the driver decided to hand out (LESSONS #4). Works before cuInit.
#include <dlfcn.h>

#include <cstring>

#include "hook_table.h"
#include "log.h"
#include "nvml_real.h"
#include "real_driver.h"

using namespace gpupool::shim;

struct DlsymDecision {
  void* value;    // the answer, when forward is null
  void* forward;  // else: glibc's dlsym, to be called with the caller's arguments
};

namespace {

std::atomic<bool> g_warned_foreign{false};

// A pointer the driver handed out for a hooked base name that the shim does
// not know: calls through it would not be accounted. Said once.
void warn_unknown_entry(const char* how, const char* symbol, const void* p) {
  for (int i = 0; i < kHookCount; ++i)
    if (kHooks[i] == p) return;  // already a hook
  if (!g_warned_foreign.exchange(true)) {
    GPUPOOL_LOG_WARN("%s(\"%s\") gave %p, which is not an entry point of the driver the shim loaded: "
                     "calls through it bypass the shim",
                     how, symbol, p);
  }
}

// Whether `address` lies in a library whose file name starts with `prefix`.
bool inside_library(const void* address, const char* prefix) {
  Dl_info info;
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return false;
  const char* slash = std::strrchr(info.dli_fname, '/');
  const char* base = slash != nullptr ? slash + 1 : info.dli_fname;
  return std::strncmp(base, prefix, std::strlen(prefix)) == 0;
}

bool inside_driver(const void* address) { return inside_library(address, "libcuda.so"); }

// dlsym of an NVML hook's name (`id`: nvml_real.h).
DlsymDecision decide_nvml(int id, void* handle, const char* name, const void* caller, DlsymFn real) {
  // NVML itself, and the driver (which must never re-enter the shim's lazy
  // cuInit from inside its own: job_uuids.h), see the real NVML.
  if (inside_library(caller, "libnvidia-ml.so") || inside_driver(caller)) {
    // glibc's global lookup would find the shim's export first.
    if (handle == RTLD_DEFAULT) {
      if (void* own = nvml_real(id)) return {own, nullptr};
    }
    return {nullptr, reinterpret_cast<void*>(real)};
  }
  if (handle == RTLD_DEFAULT || handle == RTLD_NEXT) return {nvml_hook(id), nullptr};
  void* found = real(handle, name);
  if (found == nullptr) return {nullptr, nullptr};
  // The handle has the symbol, so an NVML is loaded: resolve ours to compare.
  nvml_load();
  if (void* hook = nvml_hook_for_real(found)) return {hook, nullptr};
  return {found, nullptr};
}

}  // namespace

// `caller`: the return address of the dlsym call.
extern "C" __attribute__((visibility("hidden"))) DlsymDecision gpupool_shim_dlsym_decide(void* handle,
                                                                                        const char* name,
                                                                                        const void* caller) {
  DlsymFn real = real_dlsym();
  if (real == nullptr) return {nullptr, nullptr};
  if (resolving()) return {nullptr, reinterpret_cast<void*>(real)};
  int id = hook_id_by_name(name);
  if (id < 0) {
    int nvml_id = nvml_hook_id_by_name(name);
    if (nvml_id >= 0) return decide_nvml(nvml_id, handle, name, caller, real);
    return {nullptr, reinterpret_cast<void*>(real)};
  }
  if (inside_driver(caller)) {
    // glibc's global lookup would find the shim's export first.
    if (handle == RTLD_DEFAULT && driver_load()) {
      if (void* own = g_real[id].load(std::memory_order_acquire)) return {own, nullptr};
    }
    return {nullptr, reinterpret_cast<void*>(real)};
  }
  if (handle == RTLD_DEFAULT || handle == RTLD_NEXT) return {kHooks[id], nullptr};
  void* found = real(handle, name);
  if (found == nullptr) return {nullptr, nullptr};
  // The handle has the symbol, so a driver is loaded: make sure it is ours.
  driver_load();
  if (void* hook = hook_for_real(found)) return {hook, nullptr};
  warn_unknown_entry("dlsym", name, found);
  return {found, nullptr};
}

#if defined(__x86_64__)
// dlsym(handle, name): asks gpupool_shim_dlsym_decide(handle, name, return
// address), then either returns its answer or tail-jumps to glibc's dlsym with
// the original arguments and the original return address on the stack.
asm(R"(
    .text
    .globl dlsym
    .type dlsym, @function
    .p2align 4
dlsym:
    .cfi_startproc
    endbr64
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    movq 24(%rsp), %rdx
    call gpupool_shim_dlsym_decide
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    testq %rdx, %rdx
    jnz 1f
    ret
1:
    jmp *%rdx
    .cfi_endproc
    .size dlsym, .-dlsym
)");
#else
SHIM_EXPORT void* dlsym(void* handle, const char* name) {
  DlsymDecision d = gpupool_shim_dlsym_decide(handle, name, __builtin_return_address(0));
  if (d.forward != nullptr) return reinterpret_cast<DlsymFn>(d.forward)(handle, name);
  return d.value;
}
#endif

namespace {

void redirect(const char* symbol, void** pfn) {
  void* p = *pfn;
  if (p == nullptr) return;
  if (void* hook = hook_for_real(p)) {
    *pfn = hook;
    return;
  }
  if (hooked_base_name(symbol)) warn_unknown_entry("cuGetProcAddress", symbol, p);
}

}  // namespace

SHIM_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  auto real = SHIM_REAL(cuGetProcAddress);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(symbol, pfn, cudaVersion, flags);
  if (r == CUDA_SUCCESS && pfn != nullptr) redirect(symbol, pfn);
  return r;
}

SHIM_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                         CUdriverProcAddressQueryResult* symbolStatus) {
  auto real = SHIM_REAL(cuGetProcAddress_v2);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(symbol, pfn, cudaVersion, flags, symbolStatus);
  if (r == CUDA_SUCCESS && pfn != nullptr) redirect(symbol, pfn);
  return r;
}
