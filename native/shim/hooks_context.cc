// hooks_context.cc — context teardown returns the quota of what died with it.
//
// Destroying a context releases the memory made in it (linear, managed,
// stream-ordered, arrays) without frees the shim could see: cuCtxDestroy, a
// primary context's reset, and the release that leaves a primary context
// inactive uncharge everything recorded for that context (hooks_memory.cc
// records it). The time-slice gate first retires its in-flight work in the
// context and then forgets the context's timing events (gate.h). Swappable
// allocations (swap.h) are the shim's own VMM memory, which the driver keeps
// past the context: the shim frees them with it, as the driver frees cuMemAlloc
// memory.
#include <vector>

#include "allocations.h"
#include "gate.h"
#include "hook_table.h"
#include "log.h"
#include "quota.h"
#include "real_driver.h"
#include "swap.h"

using namespace gpupool::shim;

namespace {

void uncharge_all(const std::vector<Recorded>& released) {
  for (const Recorded& r : released) quota_uncharge(r.allocation.device, r.allocation.bytes);
}

// Destroy/reset: the records are taken before the driver call (the handle
// may be reused the moment the context is gone) and restored if it fails.
template <typename Call>
CUresult context_teardown(uint64_t context, Call call) {
  gate_context_teardown(reinterpret_cast<CUcontext>(context), true);
  std::vector<Recorded> taken = allocations_take_context(context);
  CUresult r = call();
  if (r == CUDA_SUCCESS) {
    gate_context_gone(reinterpret_cast<CUcontext>(context));
    swap_context_gone(reinterpret_cast<CUcontext>(context));
    if (!taken.empty()) GPUPOOL_LOG_DEBUG("context %#llx destroyed with %zu allocations: uncharged",
                                          static_cast<unsigned long long>(context), taken.size());
    uncharge_all(taken);
  } else {
    for (const Recorded& t : taken) allocation_restore(t.kind, t.key, t.allocation);
  }
  return r;
}

// After a primary release: if that left the primary context inactive, its
// memory is gone.
void after_primary_release(CUdevice dev) {
  auto state = SHIM_REAL(cuDevicePrimaryCtxGetState);
  unsigned int flags = 0;
  int active = 1;
  if (state == nullptr || state(dev, &flags, &active) != CUDA_SUCCESS || active) return;
  gate_context_gone(reinterpret_cast<CUcontext>(primary_context(dev)));
  swap_context_gone(reinterpret_cast<CUcontext>(primary_context(dev)));
  uncharge_all(allocations_take_context(primary_context(dev)));
}

// Before a primary release: it may be the last one, which destroys the context.
void before_primary_release(CUdevice dev) {
  gate_context_teardown(reinterpret_cast<CUcontext>(primary_context(dev)), false);
}

}  // namespace

SHIM_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  auto real = SHIM_REAL(cuCtxDestroy_v2);
  if (real == nullptr) return missing_real_result();
  return context_teardown(reinterpret_cast<uint64_t>(ctx), [&] { return real(ctx); });
}

SHIM_EXPORT CUresult cuCtxDestroy(CUcontext ctx) {
  auto real = SHIM_REAL(cuCtxDestroy);
  if (real == nullptr) return missing_real_result();
  return context_teardown(reinterpret_cast<uint64_t>(ctx), [&] { return real(ctx); });
}

SHIM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  auto real = SHIM_REAL(cuDevicePrimaryCtxRetain);
  if (real == nullptr) return missing_real_result();
  CUresult r = real(pctx, dev);
  if (r == CUDA_SUCCESS && pctx != nullptr) primary_remember(dev, reinterpret_cast<uint64_t>(*pctx));
  return r;
}

SHIM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  auto real = SHIM_REAL(cuDevicePrimaryCtxRelease_v2);
  if (real == nullptr) return missing_real_result();
  before_primary_release(dev);
  CUresult r = real(dev);
  if (r == CUDA_SUCCESS) after_primary_release(dev);
  return r;
}

SHIM_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {
  auto real = SHIM_REAL(cuDevicePrimaryCtxRelease);
  if (real == nullptr) return missing_real_result();
  before_primary_release(dev);
  CUresult r = real(dev);
  if (r == CUDA_SUCCESS) after_primary_release(dev);
  return r;
}

SHIM_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  auto real = SHIM_REAL(cuDevicePrimaryCtxReset_v2);
  if (real == nullptr) return missing_real_result();
  return context_teardown(primary_context(dev), [&] { return real(dev); });
}

SHIM_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice dev) {
  auto real = SHIM_REAL(cuDevicePrimaryCtxReset);
  if (real == nullptr) return missing_real_result();
  return context_teardown(primary_context(dev), [&] { return real(dev); });
}
