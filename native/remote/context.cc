// context.cc — the context API, emulated locally (see remote.h: every context
// maps to the session's one remote context). Follows the sim's semantics
// (native/sim/context.cc): per-thread stacks, one primary context per device
// kept for the life of the process, destroyed contexts kept so a thread that
// still has one current gets CUDA_ERROR_CONTEXT_IS_DESTROYED.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "remote.h"
#include "wait_policy.h"

namespace gpupool::remote {
namespace {

thread_local std::vector<Context*> t_stack;
std::mutex g_contexts_mutex;
std::set<Context*> g_contexts;   // every context ever made (never freed)
Context* g_primary = nullptr;    // created with the first use
std::atomic<uint64_t> g_next_id{1};
std::atomic<int> g_sticky{CUDA_SUCCESS};
std::atomic<int> g_active_contexts{0};  // CU_CTX_SCHED_AUTO's "C"

constexpr unsigned kValidFlags = CU_CTX_SCHED_MASK | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX |
                                 CU_CTX_COREDUMP_ENABLE | CU_CTX_USER_COREDUMP_ENABLE |
                                 CU_CTX_SYNC_MEMOPS;

Context* primary() {
  std::lock_guard<std::mutex> lock(g_contexts_mutex);
  if (g_primary == nullptr) {
    g_primary = new Context;
    g_primary->primary = true;
    g_contexts.insert(g_primary);
  }
  return g_primary;
}

bool known(CUcontext handle) {
  std::lock_guard<std::mutex> lock(g_contexts_mutex);
  return g_contexts.count(reinterpret_cast<Context*>(handle)) != 0;
}

CUresult check_context(CUcontext handle, Context** out) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (!known(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  auto* ctx = reinterpret_cast<Context*>(handle);
  if (!ctx->active.load()) return CUDA_ERROR_INVALID_CONTEXT;
  *out = ctx;
  return CUDA_SUCCESS;
}

void activate(Context* ctx, unsigned flags) {
  ctx->flags = flags;
  ctx->id = g_next_id.fetch_add(1);
  if (!ctx->active.exchange(true)) g_active_contexts.fetch_add(1);
}

void teardown(Context* ctx) {
  release_context_objects(ctx);
  if (ctx->active.exchange(false)) g_active_contexts.fetch_sub(1);
}

CUresult create(CUcontext* pctx, unsigned flags, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (int e = g_sticky.load(); e != CUDA_SUCCESS) return static_cast<CUresult>(e);
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  auto* ctx = new Context;
  activate(ctx, flags);
  {
    std::lock_guard<std::mutex> lock(g_contexts_mutex);
    g_contexts.insert(ctx);
  }
  t_stack.push_back(ctx);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

// Logical processors this process may run on (its affinity mask: in a
// container limited by cpusets, that is what "the system" offers it).
int processors() {
  static const int count = [] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
  }();
  return count;
}

bool unrecoverable(CUresult r) {
  switch (r) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_DEVICE_UNAVAILABLE:  // the connection is gone
      return true;
    default:
      return false;
  }
}

}  // namespace

void note_result(CUresult r) {
  if (!unrecoverable(r)) return;
  int expected = CUDA_SUCCESS;
  g_sticky.compare_exchange_strong(expected, r);
}

CUresult sticky_error() { return static_cast<CUresult>(g_sticky.load()); }

CUresult require_context(Context** out) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = t_stack.back();
  if (!ctx->active.load()) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  if (int e = g_sticky.load(); e != CUDA_SUCCESS) return static_cast<CUresult>(e);
  *out = ctx;
  return CUDA_SUCCESS;
}

WaitMode current_wait_mode() {
  if (t_stack.empty() || !t_stack.back()->active.load()) return WaitMode::kBlock;
  return wait_mode(t_stack.back()->flags, g_active_contexts.load(), processors());
}

CUresult context_or_current(CUcontext handle, Context** out) {
  if (handle == nullptr) return require_context(out);
  return check_context(handle, out);
}

}  // namespace gpupool::remote

using namespace gpupool::remote;

REMOTE_API CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return create(pctx, flags, dev);
}

REMOTE_API CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int numParams,
                                   unsigned int flags, CUdevice dev) {
  if (numParams < 0 || (numParams > 0 && params == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  return create(pctx, flags, dev);
}

REMOTE_API CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* params, unsigned int flags,
                                   CUdevice dev) {
  if (params != nullptr && (params->numExecAffinityParams < 0 ||
                            (params->numExecAffinityParams > 0 && params->execAffinityParams == nullptr)))
    return CUDA_ERROR_INVALID_VALUE;
  return create(pctx, flags, dev);
}

REMOTE_API CUresult cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return create(pctx, flags, dev);
}

REMOTE_API CUresult cuCtxDestroy_v2(CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
  teardown(ctx);
  if (!t_stack.empty() && t_stack.back() == ctx) t_stack.pop_back();
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxPushCurrent_v2(CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = check_context(handle, &ctx); r != CUDA_SUCCESS) return r;
  t_stack.push_back(ctx);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = t_stack.back();
  t_stack.pop_back();
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxSetCurrent(CUcontext handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) {
    if (!t_stack.empty()) t_stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (!known(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  auto* ctx = reinterpret_cast<Context*>(handle);
  if (!ctx->active.load() && !ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
  if (t_stack.empty()) t_stack.push_back(ctx);
  else t_stack.back() = ctx;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetCurrent(CUcontext* pctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = t_stack.empty() ? nullptr : reinterpret_cast<CUcontext>(t_stack.back());
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetDevice(CUdevice* dev) {
  if (dev == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  *dev = 0;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetDevice_v2(CUdevice* dev, CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = context_or_current(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *dev = 0;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxSynchronize() {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  wire::Reply reply;
  return conn().call(wire::kCtxSynchronize, wire::Writer(), &reply);
}

REMOTE_API CUresult cuCtxSynchronize_v2(CUcontext handle) {
  Context* ctx = nullptr;
  if (CUresult r = context_or_current(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = sticky_error(); r != CUDA_SUCCESS) return r;
  wire::Reply reply;
  return conn().call(wire::kCtxSynchronize, wire::Writer(), &reply);
}

REMOTE_API CUresult cuCtxGetFlags(unsigned int* flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxSetFlags(unsigned int flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  ctx->flags = flags;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetId(CUcontext handle, unsigned long long* id) {
  Context* ctx = nullptr;
  if (CUresult r = context_or_current(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *id = ctx->id;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  Context* ctx = nullptr;
  if (CUresult r = context_or_current(handle, &ctx); r != CUDA_SUCCESS) return r;
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = 3020;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = CU_FUNC_CACHE_PREFER_NONE;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

// ---- primary context ------------------------------------------------------------

namespace {
std::mutex g_primary_mutex;
}

REMOTE_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (CUresult r = sticky_error(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = primary();
  ctx->primary_refs++;
  if (!ctx->active.load()) activate(ctx, ctx->flags);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = primary();
  if (ctx->primary_refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--ctx->primary_refs == 0 && ctx->active.load()) teardown(ctx);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(g_primary_mutex);
  Context* ctx = primary();
  if (ctx->active.load()) teardown(ctx);
  ctx->flags = 0;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  Context* ctx = primary();
  *flags = ctx->flags;
  *active = ctx->active.load() ? 1 : 0;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if ((flags & ~kValidFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  primary()->flags = flags;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return cuDevicePrimaryCtxRelease_v2(dev); }
REMOTE_API CUresult cuDevicePrimaryCtxReset(CUdevice dev) { return cuDevicePrimaryCtxReset_v2(dev); }
REMOTE_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags) {
  return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}
REMOTE_API CUresult cuCtxPushCurrent(CUcontext ctx) { return cuCtxPushCurrent_v2(ctx); }
REMOTE_API CUresult cuCtxPopCurrent(CUcontext* pctx) { return cuCtxPopCurrent_v2(pctx); }
REMOTE_API CUresult cuCtxDestroy(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }
