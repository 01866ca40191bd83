// spin_job_device.h — what spin_job (spin_job.cc) does on the device: context,
// stream, spin kernel or graph, timed launches, the data it fills and checks.
//
// Threading: one thread (main) calls everything; the latch's host function
// runs on the driver's callback thread. A CUDA error is printed as
// "error call=... result=..." and the call returns false.
#pragma once

#include <cuda.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "spin_job_options.h"

namespace spin_job {

// Holds the stream in a host function until the host opens it (spin_job.cc
// says why). Lives as long as the program: a callback may still read it.
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
};

// One queued launch: latch, start event, work, end event.
struct Slot {
  CUevent start = nullptr;
  CUevent end = nullptr;
  Latch latch;
  bool busy = false;  // submitted, not yet retired
};

enum class Retired { kIdle, kDone, kPending, kError };

class Device {
 public:
  // Context of o.device, a stream, the spin kernel (a graph of them with
  // --graph), and with --bytes the allocation and fill_u32.
  bool open(const Options& o);
  // Writes this process's pattern into the allocation.
  bool fill();
  bool make_slot(Slot* slot);
  // Queues one timed launch in `slot` (which must be idle).
  bool submit(Slot* slot);
  // kDone (and *device_ns) when the slot's launch completed, waiting for it
  // with `wait`; kPending when it has not; kIdle when nothing was in it.
  Retired retire(Slot* slot, bool wait, uint64_t* device_ns);
  // Copies the allocation back and counts the 32-bit words that differ from
  // the pattern; then writes through the pointer with a kernel and reads it.
  bool verify(uint64_t* mismatches);

 private:
  bool check(CUresult r, const char* call);
  uint32_t expected(uint64_t word) const;

  Options o_;
  CUcontext ctx_ = nullptr;
  CUstream stream_ = nullptr;
  CUfunction spin_ = nullptr;
  CUfunction fill_ = nullptr;
  CUgraphExec graph_ = nullptr;
  CUdeviceptr data_ = 0;
  uint32_t seed_ = 0;
};

}  // namespace spin_job
