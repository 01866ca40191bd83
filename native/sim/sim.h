// sim.h — the simulated CUDA driver's internal object model.
//
// Contract
//   The sim is a libcuda.so.1 that implements the driver API on the CPU. Each
//   cu* entry point lives in the .cc file of its group (context.cc, memory.cc,
//   stream.cc, module.cc, ...) and talks to the rest only through this header.
//   Nothing here is exported: the version script exports cu* symbols alone.
//
// Handles
//   CUcontext, CUstream, CUevent, CUmodule and CUfunction are pointers to the
//   structs below, reinterpret_cast'ed. Every handle that comes in from a caller
//   is checked against a HandleRegistry before it is dereferenced, so a stale or
//   foreign handle yields CUDA_ERROR_INVALID_HANDLE (or INVALID_CONTEXT), never
//   a crash. Destroyed objects are kept (not freed) so a stale handle can never
//   alias a newer object.
//
// Execution
//   Each device has one DeviceExecutor: a thread that runs the device work of
//   all streams of all contexts on that device in submission order. That is a
//   legal CUDA schedule (in order within a stream, legacy-stream and
//   cross-stream event dependencies trivially satisfied) and keeps the sim
//   deterministic. Device work is a closure returning CUresult; a failure is an
//   asynchronous error and becomes the context's sticky error, which every later
//   call in that context returns, as the driver does after e.g. an illegal
//   address.
//
// Device memory
//   Device pointers are host virtual addresses (unified addressing), so kernels
//   run on them directly. Capacity is accounted per device (Device::reserve);
//   pages are committed by the OS only when touched (MAP_NORESERVE).
//
// Threading
//   Every function here is thread-safe unless it says otherwise.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace gpupool::sim {

// ---- configuration (config.cc) ---------------------------------------------

struct Config {
  int device_count = 1;                    // GPUPOOL_SIM_DEVICES: the "physical" devices
  // CUDA_VISIBLE_DEVICES, as the driver applies it: the physical devices the
  // process sees, in that order (visible[i] is physical index of ordinal i).
  // Unset: all of them. Comma-separated indices; the list ends at the first
  // entry that is not a valid, unrepeated index (UUIDs included: not
  // simulated); "" shows none.
  std::vector<int> visible;
  uint64_t memory_bytes = 16ull << 30;     // GPUPOOL_SIM_MEMORY, per device
  std::string name = "gpupool simulated GPU";  // GPUPOOL_SIM_NAME
  std::string error;                       // non-empty: the environment was invalid
};

// Parsed once from the environment, on first use.
const Config& config();

// Parses "16GiB", "512MiB", "1.5GB", "4096" (bytes). Returns false on anything
// else, including overflow and trailing garbage.
bool parse_size(const std::string& text, uint64_t* bytes);

// ---- handle registry ---------------------------------------------------------

template <typename T>
class HandleRegistry {
 public:
  void add(T* object) {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.insert(object);
  }
  void remove(T* object) {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(object);
  }
  bool contains(const void* object) const {
    if (object == nullptr) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    return live_.count(static_cast<T*>(const_cast<void*>(object))) != 0;
  }
  // Snapshot, for teardown walks (e.g. everything owned by a context).
  std::vector<T*> all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::vector<T*>(live_.begin(), live_.end());
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<T*> live_;
};

// ---- devices and their executors (device.cc, executor.cc) -------------------

// Runs device work for one device on its own thread, in submission order.
class DeviceExecutor {
 public:
  explicit DeviceExecutor(int ordinal);
  ~DeviceExecutor();
  DeviceExecutor(const DeviceExecutor&) = delete;
  DeviceExecutor& operator=(const DeviceExecutor&) = delete;

  // Queues `work`; returns its sequence number (1, 2, ...). `on_error` is the
  // context whose sticky error a failure sets (may be null: error dropped).
  uint64_t submit(struct Context* ctx, std::function<CUresult()> work);
  // Blocks until work `seq` (and everything before it) has run.
  void wait(uint64_t seq);
  bool done(uint64_t seq) const { return completed_.load(std::memory_order_acquire) >= seq; }
  uint64_t last_submitted() const;

 private:
  struct Impl;
  Impl* impl_;
  std::atomic<uint64_t> completed_{0};
  friend struct Impl;
};

struct Device {
  int ordinal = 0;   // as the process numbers it (after CUDA_VISIBLE_DEVICES)
  int physical = 0;  // index among the GPUPOOL_SIM_DEVICES devices: UUID, PCI bus id
  std::string name;
  uint64_t total_bytes = 0;
  std::atomic<uint64_t> used_bytes{0};
  DeviceExecutor* executor = nullptr;
  struct Context* primary = nullptr;  // created with the device, never freed

  // Capacity accounting: true and `bytes` charged, or false (out of memory)
  // and nothing charged. Never overshoots under concurrency.
  bool reserve(uint64_t bytes);
  void release(uint64_t bytes);
};

// Number of simulated devices (0 before a successful cuInit).
int device_count();
// Null when `ordinal` is out of range or cuInit has not succeeded.
Device* device(int ordinal);

// ---- contexts (context.cc) ---------------------------------------------------

struct Context {
  Device* device = nullptr;
  unsigned flags = 0;
  bool primary = false;
  std::atomic<bool> active{true};       // false after cuCtxDestroy / primary release to 0
  std::atomic<int> primary_refs{0};     // primary only
  std::atomic<int> sticky_error{CUDA_SUCCESS};
  uint64_t id = 0;                      // cuCtxGetId
  size_t limits[16] = {};               // cuCtxSetLimit/GetLimit, by CUlimit
};

extern HandleRegistry<Context> g_contexts;

// CUDA_ERROR_NOT_INITIALIZED unless cuInit succeeded.
CUresult require_init();
// The calling thread's current context, checked: NOT_INITIALIZED, INVALID_CONTEXT
// (none current), CONTEXT_IS_DESTROYED (destroyed while current elsewhere), or
// the context's sticky error.
CUresult require_context(Context** out);
// Validates a caller-supplied CUcontext (INVALID_CONTEXT when unknown/destroyed).
CUresult check_context(CUcontext handle, Context** out);

// A fault of device work (e.g. an illegal address) is unrecoverable for the
// whole process, as on a GPU: besides the context's sticky error, no context
// can be created or retained afterwards, not even after a primary reset.
// The executor calls this; context creation checks it.
void note_unrecoverable(CUresult error);

// Called while a context is torn down (destroy, primary reset/last release),
// after its device work has drained: each releases what it owns for `ctx`.
void memory_release_context(Context* ctx);    // memory.cc
void modules_release_context(Context* ctx);   // module.cc
void streams_release_context(Context* ctx);   // stream.cc
void events_release_context(Context* ctx);    // event.cc
void arrays_release_context(Context* ctx);    // array.cc

// ---- streams (stream.cc) -----------------------------------------------------

struct Stream {
  Context* ctx = nullptr;
  unsigned flags = 0;   // CU_STREAM_DEFAULT / CU_STREAM_NON_BLOCKING
  int priority = 0;
  bool builtin = false;  // legacy or per-thread default stream: cannot be destroyed
  bool legacy = false;   // the context's legacy default stream (never capturable)
  uint64_t id = 0;
  std::atomic<uint64_t> last_seq{0};  // sequence of the last work queued on it
  std::atomic<bool> destroyed{false};
  // Stream capture (capture.cc), both guarded by graph_lock(): the capture
  // sequence this stream takes part in, and the nodes its next captured work
  // depends on.
  struct Capture* capture = nullptr;
  std::vector<struct GraphNode*> capture_deps;
};

extern HandleRegistry<Stream> g_streams;

// Resolves a caller's CUstream in the current context `ctx`:
//   NULL          -> legacy default stream, or the per-thread default stream
//                    when `per_thread_api` (the _ptsz/_ptds entry points);
//   CU_STREAM_LEGACY / CU_STREAM_PER_THREAD -> those streams;
//   otherwise a live stream (of any context: its work runs on its own
//   context's device), else CUDA_ERROR_INVALID_HANDLE.
CUresult resolve_stream(Context* ctx, CUstream handle, bool per_thread_api, Stream** out);

// Queues device work on `stream`. Returns its sequence number.
uint64_t submit(Stream* stream, std::function<CUresult()> work);

// Blocks until `stream`'s queued work has run; returns the context's sticky
// error (CUDA_SUCCESS when none).
CUresult synchronize(Stream* stream);

// Blocks until all work queued so far on `ctx`'s device has run; returns the
// sticky error. (cuCtxSynchronize, and the synchronous memcpy/memset variants.)
CUresult synchronize_context(Context* ctx);

// ---- stream capture (capture.cc) ---------------------------------------------
// Every entry point that puts device work on a stream goes through
// enqueue_work, so that stream capture sees all of it.

// Queues `work` on `stream`, or, while the stream is being captured, records it
// as a graph node of `type` instead (nothing runs). Errors, as the driver's:
//   STREAM_CAPTURE_IMPLICIT      the legacy stream while a blocking stream of
//                                its context captures (that capture is invalidated);
//   STREAM_CAPTURE_INVALIDATED   the stream's capture was invalidated earlier;
//   STREAM_CAPTURE_UNSUPPORTED   `synchronous` work on a capturing stream
//                                (the capture is invalidated).
CUresult enqueue_work(Stream* stream, CUgraphNodeType type, std::function<CUresult()> work, bool synchronous);
// The stream takes part in a capture sequence (active or invalidated).
bool stream_capturing(const Stream* stream);
// Invalidates the capture `stream` takes part in, if any.
void capture_invalidate(Stream* stream);
// Guards of calls that would break a capture; CUDA_SUCCESS when the call may go on.
//   capture_check_unsafe: a "potentially unsafe" call (cuMemAlloc, cuMemFree, a
//     synchronous copy or memset, cuCtxSynchronize) by a thread the capture modes
//     prohibit it for (see cuThreadExchangeStreamCaptureMode): UNSUPPORTED, and the
//     prohibiting captures are invalidated.
//   capture_check_stream_sync: cuStreamSynchronize/Query of a capturing stream
//     (UNSUPPORTED) or of the legacy stream beside a blocking capture (IMPLICIT).
//   capture_check_context_sync: cuCtxSynchronize while a stream of `ctx` captures.
CUresult capture_check_unsafe();
CUresult capture_check_stream_sync(Stream* stream);
CUresult capture_check_context_sync(Context* ctx);

// ---- device memory (memory.cc, vmm.cc) ---------------------------------------

// Allocates `bytes` of device memory on `ctx` (capacity-checked, 256-byte
// aligned, zero-filled as fresh pages are). OUT_OF_MEMORY when the device is
// full; INVALID_VALUE when bytes == 0.
CUresult device_alloc(Context* ctx, size_t bytes, CUdeviceptr* out);
// Frees a pointer returned by device_alloc (exact base only): INVALID_VALUE otherwise.
CUresult device_free(Context* ctx, CUdeviceptr ptr);

// True when [ptr, ptr+bytes) lies inside one allocation that device code of
// `ctx` may access: device allocations, managed memory, mapped VMM ranges with
// read-write access, and page-locked host memory (unified addressing).
// `bytes` == 0 is valid when ptr is inside such an allocation.
bool device_accessible(Context* ctx, CUdeviceptr ptr, size_t bytes);

// Kind of memory a host-side pointer refers to, for the unified cuMemcpy and
// pointer attributes.
enum class MemoryKind { kUnknown, kDevice, kHostPinned, kManaged };
MemoryKind memory_kind(uintptr_t ptr, size_t bytes);

// ---- hardware identity (device_identity.cc) ----------------------------------
// What identifies a simulated GPU, shared with the simulated NVML (nvml/), which
// must report the same devices: both derive it from (name, physical index).

// The 16-byte UUID of physical device `physical` named `name` (cuDeviceGetUuid),
// shaped as a version-4 UUID and stable across processes.
void device_uuid(const std::string& name, int physical, unsigned char out[16]);
// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lower-case hex), as NVML and
// nvidia-smi print the same 16 bytes.
std::string uuid_text(const unsigned char bytes[16]);
// PCI bus number of physical device `physical` (domain 0, device 0, function 0).
inline int pci_bus(int physical) { return physical + 1; }

// ---- logging -----------------------------------------------------------------

// Writes "gpupool sim: <message>" to stderr. Used only for configuration errors
// a person must fix; the sim is otherwise silent, as the driver is.
void report(const std::string& message);

}  // namespace gpupool::sim

// Entry points are defined with C linkage and default visibility; everything
// else in the library is hidden (-fvisibility=hidden plus the version script).
#define SIM_API extern "C" __attribute__((visibility("default")))
