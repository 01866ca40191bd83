// remote.h — the forwarding driver's internal object model.
//
// Contract
//   libcuda.so.1 for machines without a GPU: every cu* entry point either is
//   answered locally (device properties from the worker's Welcome, contexts,
//   error names, cuGetProcAddress) or forwarded to the session's worker over
//   the Connection (connection.h). Entry points live in the .cc file of their
//   group (init_device.cc, context.cc, memory.cc, copy.cc, module_launch.cc,
//   stream_event.cc); the rest of cuda.h is generated weak stubs returning
//   CUDA_ERROR_NOT_SUPPORTED (native/sim/gen_driver_api.py).
//
// Contexts
//   The worker gives a session one context. Locally the library emulates the
//   context API (primary and created contexts, per-thread stacks) as the sim
//   does; every context maps to the session's remote context, and owns the
//   remote objects made while it was current, which are freed when it is
//   destroyed or reset.
//
// Handles
//   Device pointers are the worker's addresses. Streams, events, modules and
//   functions are pointers to the structs below, checked against the live
//   sets before use (stale or foreign handles: CUDA_ERROR_INVALID_HANDLE);
//   destroyed objects are never freed, so a stale handle cannot alias a new
//   object. Arguments are validated locally where the driver would fail
//   synchronously (allocation ranges, launch dimensions, handles).
//
// Errors
//   A failure of device work (illegal address, ...) is sticky for the whole
//   process, as the driver's is: note_result() records it and every later call
//   needing a context returns it.
//
// Threading
//   All functions are thread-safe; g_objects guards the object tables.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "connection.h"
#include "wire.h"

#define REMOTE_API extern "C" __attribute__((visibility("default")))

namespace gpupool::remote {

// ---- init (init_device.cc) ---------------------------------------------------
CUresult require_init();   // CUDA_ERROR_NOT_INITIALIZED until cuInit succeeded
Connection& conn();        // only after require_init() succeeded
int attribute(CUdevice_attribute a);  // the worker's value, 0 if unknown

// ---- contexts (context.cc) ---------------------------------------------------
struct Context {
  uint64_t id = 0;
  std::atomic<unsigned> flags{0};  // read by the context's threads while cuCtxSetFlags may change it
  bool primary = false;
  std::atomic<bool> active{false};
  int primary_refs = 0;
};

// The current context of this thread: usable, else the reason.
CUresult require_context(Context** out);
// `handle`, or the current context when handle is NULL.
CUresult context_or_current(CUcontext handle, Context** out);
// Records a call's result; sticky device faults poison the process.
void note_result(CUresult r);
CUresult sticky_error();

// ---- objects -------------------------------------------------------------------
struct Allocation {
  uint64_t bytes = 0;
  Context* ctx = nullptr;
  bool freeable = true;   // false: a module global or a mapping
  bool mapping = false;   // a range mapped into a reservation (vmm.cc)
  uint64_t vmm_handle = 0;  // a mapping's allocation handle
};

struct Stream {
  uint64_t remote = 0;
  Context* ctx = nullptr;
  unsigned flags = 0;
  int priority = 0;
  uint64_t id = 0;
};

struct Event {
  uint64_t remote = 0;
  Context* ctx = nullptr;
  unsigned flags = 0;
};

struct Module;
struct Function {
  uint64_t remote = 0;
  Module* module = nullptr;
  std::string name;
  std::vector<wire::ParamInfo> params;
  int max_dynamic_shared = 0;
  int attributes[16] = {};  // settable attributes (cuFuncSetAttribute)
};

struct Module {
  uint64_t remote = 0;
  Context* ctx = nullptr;
  int ptx_version = 0;     // from ".version X.Y": 10*X+Y
  int binary_version = 0;  // from ".target sm_XY": XY
  std::map<std::string, Function*> functions;
  std::vector<CUdeviceptr> globals;
};

struct Objects {
  std::mutex mutex;
  std::map<CUdeviceptr, Allocation> allocations;  // by start address
  std::set<Stream*> streams;
  std::set<Event*> events;
  std::set<Module*> modules;
  std::set<Function*> functions;
};
Objects& objects();

// The allocation containing [p, p + bytes), or null; the range may also run
// on through mappings that follow each other without a gap (*base, the
// result: the first one). Caller holds the mutex.
const Allocation* find_range_locked(CUdeviceptr p, uint64_t bytes, CUdeviceptr* base = nullptr);
// INVALID_VALUE unless [p, p + bytes) lies in one allocation (bytes 0: p in one).
CUresult check_range(CUdeviceptr p, uint64_t bytes);
// The worker's stream handle for `s` (NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD: 0).
CUresult remote_stream(CUstream s, uint64_t* out);

// Releases (locally and on the worker) everything `ctx` owns.
void release_context_objects(Context* ctx);

}  // namespace gpupool::remote
