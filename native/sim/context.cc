// context.cc — primary and regular contexts and each thread's context stack.
//
// A context is current to a thread through that thread's stack (thread_local).
// Destroying a context drains its device work, then releases what it owns
// (streams, events, modules, memory); the Context object itself is kept so a
// thread that still has it current gets CUDA_ERROR_CONTEXT_IS_DESTROYED rather
// than a dangling pointer. A primary context is one object per device for the
// life of the process: retain activates it, the last release or a reset
// deactivates it, and a later retain starts it afresh.
#include <algorithm>

#include "sim.h"

namespace gpupool::sim {

HandleRegistry<Context> g_contexts;

namespace {

thread_local std::vector<Context*> t_stack;
std::atomic<uint64_t> g_next_context_id{1};
std::mutex g_primary_mutex;  // serialises primary retain/release/reset
std::atomic<int> g_unrecoverable{CUDA_SUCCESS};  // first fault of device work, if any

constexpr unsigned kValidFlags = CU_CTX_SCHED_MASK | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX |
                                 CU_CTX_COREDUMP_ENABLE | CU_CTX_USER_COREDUMP_ENABLE |
                                 CU_CTX_SYNC_MEMOPS;

void init_state(Context* ctx, unsigned flags) {
  ctx->flags = flags;
  ctx->sticky_error.store(CUDA_SUCCESS);
  ctx->id = g_next_context_id.fetch_add(1);
  std::fill(std::begin(ctx->limits), std::end(ctx->limits), 0);
  ctx->limits[CU_LIMIT_STACK_SIZE] = 1024;
  ctx->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
  ctx->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
  ctx->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
  ctx->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
  ctx->active.store(true);
}

// Drains and releases everything `ctx` owns; leaves it inactive.
void teardown(Context* ctx) {
  DeviceExecutor* ex = ctx->device->executor;
  ex->wait(ex->last_submitted());
  streams_release_context(ctx);
  events_release_context(ctx);
  modules_release_context(ctx);
  memory_release_context(ctx);
  arrays_release_context(ctx);
  ctx->active.store(false);
}

CUresult create(CUcontext* pctx, unsigned flags, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (int e = g_unrecoverable.load(); e != CUDA_SUCCESS) return static_cast<CUresult>(e);
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  auto* ctx = new Context;
  ctx->device = d;
  init_state(ctx, flags);
  g_contexts.add(ctx);
  t_stack.push_back(ctx);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

}  // namespace

void note_unrecoverable(CUresult error) {
  int expected = CUDA_SUCCESS;
  g_unrecoverable.compare_exchange_strong(expected, error);
}

CUresult check_context(CUcontext handle, Context** out) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (!g_contexts.contains(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  auto* ctx = reinterpret_cast<Context*>(handle);
  if (!ctx->active.load()) return CUDA_ERROR_INVALID_CONTEXT;
  *out = ctx;
  return CUDA_SUCCESS;
}

CUresult require_context(Context** out) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = t_stack.back();
  if (!ctx->active.load()) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  if (int sticky = ctx->sticky_error.load(); sticky != CUDA_SUCCESS) return static_cast<CUresult>(sticky);
  *out = ctx;
  return CUDA_SUCCESS;
}

// ---- regular contexts ---------------------------------------------------------

SIM_API CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return create(pctx, flags, dev);
}

SIM_API CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int numParams,
                                unsigned int flags, CUdevice dev) {
  if (numParams < 0 || (numParams > 0 && params == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  return create(pctx, flags, dev);
}

SIM_API CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* params, unsigned int flags,
                                CUdevice dev) {
  // Execution affinity and CIG parameters describe partitioning the sim does not model.
  if (params != nullptr && (params->numExecAffinityParams < 0 ||
                            (params->numExecAffinityParams > 0 && params->execAffinityParams == nullptr)))
    return CUDA_ERROR_INVALID_VALUE;
  return create(pctx, flags, dev);
}

SIM_API CUresult cuCtxDestroy_v2(CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
  teardown(ctx);
  if (!t_stack.empty() && t_stack.back() == ctx) t_stack.pop_back();
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxPushCurrent_v2(CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  t_stack.push_back(ctx);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = t_stack.back();
  t_stack.pop_back();
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSetCurrent(CUcontext handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) {
    if (!t_stack.empty()) t_stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (!g_contexts.contains(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  auto* ctx = reinterpret_cast<Context*>(handle);
  // An inactive primary context may be made current; using it reports
  // CONTEXT_IS_DESTROYED until it is retained (see CUDA_ERROR_CONTEXT_IS_DESTROYED).
  if (!ctx->active.load() && !ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
  if (t_stack.empty()) t_stack.push_back(ctx);
  else t_stack.back() = ctx;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetCurrent(CUcontext* pctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = t_stack.empty() ? nullptr : reinterpret_cast<CUcontext>(t_stack.back());
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetDevice(CUdevice* dev) {
  if (dev == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  *dev = ctx->device->ordinal;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetDevice_v2(CUdevice* dev, CUcontext handle) {
  if (handle == nullptr) return cuCtxGetDevice(dev);
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *dev = ctx->device->ordinal;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSynchronize() {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_context_sync(ctx); r != CUDA_SUCCESS) return r;
  return synchronize_context(ctx);
}

SIM_API CUresult cuCtxSynchronize_v2(CUcontext handle) {
  if (handle == nullptr) return cuCtxSynchronize();
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_check_context_sync(ctx); r != CUDA_SUCCESS) return r;
  return synchronize_context(ctx);
}

SIM_API CUresult cuCtxGetFlags(unsigned int* flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSetFlags(unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  ctx->flags = flags;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetId(CUcontext handle, unsigned long long* id) {
  Context* ctx = nullptr;
  CUresult r = handle == nullptr ? require_context(&ctx) : check_context(handle, &ctx);
  if (r != CUDA_SUCCESS) return r;
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *id = ctx->id;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  Context* ctx = nullptr;
  CUresult r = handle == nullptr ? require_context(&ctx) : check_context(handle, &ctx);
  if (r != CUDA_SUCCESS) return r;
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = 3020;  // the context API version every driver since CUDA 3.2 reports
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (limit < 0 || limit >= CU_LIMIT_MAX || limit >= 16) return CUDA_ERROR_INVALID_VALUE;
  ctx->limits[limit] = value;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (value == nullptr || limit < 0 || limit >= CU_LIMIT_MAX || limit >= 16) return CUDA_ERROR_INVALID_VALUE;
  *value = ctx->limits[limit];
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = CU_FUNC_CACHE_PREFER_NONE;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

// ---- primary contexts ---------------------------------------------------------

SIM_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  // Observed on an H100 (driver 580): after an illegal address, retain fails
  // with it even once the primary context has been reset.
  if (int e = g_unrecoverable.load(); e != CUDA_SUCCESS) return static_cast<CUresult>(e);
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = d->primary;
  ctx->primary_refs.fetch_add(1);
  // Inactive: never retained, released to zero, or reset since.
  if (!ctx->active.load()) init_state(ctx, ctx->flags);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = d->primary;
  if (ctx->primary_refs.load() <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx->primary_refs.fetch_sub(1) == 1 && ctx->active.load()) teardown(ctx);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = d->primary;
  // Reset destroys the state but not the references: retains still owe releases.
  if (ctx->active.load()) teardown(ctx);
  ctx->flags = 0;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *flags = d->primary->flags;
  *active = d->primary->active.load() ? 1 : 0;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  d->primary->flags = flags;
  return CUDA_SUCCESS;
}

// The unversioned names are what binaries built before CUDA 11 bind to.
SIM_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return cuDevicePrimaryCtxRelease_v2(dev); }
SIM_API CUresult cuDevicePrimaryCtxReset(CUdevice dev) { return cuDevicePrimaryCtxReset_v2(dev); }
SIM_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags) {
  return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}
SIM_API CUresult cuCtxPushCurrent(CUcontext ctx) { return cuCtxPushCurrent_v2(ctx); }
SIM_API CUresult cuCtxPopCurrent(CUcontext* pctx) { return cuCtxPopCurrent_v2(pctx); }
SIM_API CUresult cuCtxDestroy(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }
SIM_API CUresult cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return create(pctx, flags, dev);
}

}  // namespace gpupool::sim
