// swap_internal.h — how the parts of swapping (swap.h) fit together.
//
//   swap_registry.cc  the records of swappable allocations and each device's
//                     state; frees and context teardown
//   swap_backing.cc   the VMM calls: granularity, reserve, back, unback
//   swap_alloc.cc     which allocations are swappable, and making one
//   swap_in.cc        swap_enter/swap_leave: bringing memory back
//   swap_out.cc       eviction requests, served by the gate thread
//   swap_host.cc      the host buffers that hold swapped-out bytes
//
// A device's state says who may move its memory. Only the thread that moved
// it from kResident/kOut to kEvicting/kSwappingIn touches the records of that
// device's memory (handle, host) until it settles the device again; a record
// lives in a std::map node, so the pointer it got stays valid meanwhile (no
// one can free a record of a busy device).
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "quota.h"
#include "real_driver.h"
#include "swap.h"

namespace gpupool::shim {

struct SwapRecord {
  CUdeviceptr base = 0;  // the reservation's start: the pointer handed out
  uint64_t bytes = 0;    // as asked for: what is copied out and back
  uint64_t span = 0;     // reserved and physical bytes (a granularity multiple)
  int device = -1;       // job ordinal: the physical memory's location
  int physical = -1;
  CUcontext ctx = nullptr;  // the allocating context: copies run in it; dies with it
  CUmemGenericAllocationHandle handle = 0;  // the physical memory; 0 while swapped out
  void* host = nullptr;   // the bytes while swapped out (swap_host.h)
  void* spare = nullptr;  // while resident: the host buffer kept for the next swap-out
};

enum DeviceState : int {
  kNever = 0,   // no swappable allocation made on the device yet
  kResident,    // every swappable allocation is resident
  kOut,         // some are swapped out
  kEvicting,    // the gate thread is swapping out
  kSwappingIn,  // an application thread is swapping in
};

// ---- swap_registry.cc -----------------------------------------------------------------
extern std::atomic<int> g_swap_state[kMaxDevices];  // DeviceState, by physical ordinal
extern std::atomic<int> g_swap_users[kMaxDevices];  // threads inside swap_enter/leave
// kNever -> kResident: from now on submissions on `physical` are counted.
void registry_track(int physical);
// Adds a new resident allocation (its device is tracked, the caller entered).
void registry_add(const SwapRecord& r);
// If the device's state is `from_a` or `from_b`, makes it `to` and returns
// the device's records that are resident (`resident`) or swapped out;
// otherwise false and *now the state found.
bool registry_claim(int physical, DeviceState from_a, DeviceState from_b, DeviceState to, bool resident,
                    std::vector<SwapRecord*>* records, int* now);
// Ends a claim: kOut if any record of the device is swapped out, else kResident.
void registry_settle(int physical);

// ---- swap_backing.cc --------------------------------------------------------------------
// The allocation granularity of job device `device` (0: unknown).
uint64_t backing_granularity(int device);
// Physical memory of `r.span` bytes on r.device, mapped at r.base with
// read/write access for it: r.handle. Nothing is left behind on failure.
CUresult backing_map(SwapRecord* r);
// Unmaps and releases r's physical memory (r.handle becomes 0).
CUresult backing_unmap(SwapRecord* r);

// The calling thread in relaxed stream-capture mode for its lifetime, so the
// swap's copies and synchronisation never invalidate another thread's capture.
class RelaxedCapture {
 public:
  RelaxedCapture() {
    auto exchange = SHIM_REAL(cuThreadExchangeStreamCaptureMode);
    mode_ = CU_STREAM_CAPTURE_MODE_RELAXED;
    set_ = exchange != nullptr && exchange(&mode_) == CUDA_SUCCESS;
  }
  ~RelaxedCapture() {
    if (set_) SHIM_REAL(cuThreadExchangeStreamCaptureMode)(&mode_);
  }
  RelaxedCapture(const RelaxedCapture&) = delete;
  RelaxedCapture& operator=(const RelaxedCapture&) = delete;

 private:
  CUstreamCaptureMode mode_;
  bool set_ = false;
};

// ---- gate.cc ---------------------------------------------------------------------------
// This process's gate row for `physical`, or nullptr (no region).
gpupool_region_gate* gate_row(int physical);
// Waits for this job's slice on `physical` and holds it (one in_flight count)
// until gate_unhold(): true. False: the gate is open, nothing held. Sets
// *refused when the agent released the job's entry.
bool gate_hold(int physical, bool* refused);
void gate_unhold(int physical);

}  // namespace gpupool::shim
