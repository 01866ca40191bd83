// swap_stream.h — the stream swap copies run on.
//
// Contract: a SwapStream is a private CU_STREAM_NON_BLOCKING stream of the
// context current when it is opened, destroyed with the object. Swap copies
// must not use the legacy stream: it waits for every blocking stream of the
// context, and a job's stream may hold work queued behind a host function
// that waits for the very thread that is swapping (e.g. one that releases the
// stream when a launch call returns) — a deadlock. Gated work has drained
// before eviction (in_flight 0), so nothing on the job's streams touches the
// memory being copied.
//
// Threading: one object per copy batch, used by the thread that opened it.
#ifndef GPUPOOL_SHIM_SWAP_STREAM_H_
#define GPUPOOL_SHIM_SWAP_STREAM_H_

#include <cuda.h>

#include <cstddef>

namespace gpupool::shim {

class SwapStream {
 public:
  SwapStream() = default;
  ~SwapStream();
  SwapStream(const SwapStream&) = delete;
  SwapStream& operator=(const SwapStream&) = delete;

  // Creates the stream in the current context if not done yet.
  CUresult open();
  // Synchronous copies on the private stream: complete when they return.
  CUresult to_host(void* host, CUdeviceptr device, size_t bytes);
  CUresult to_device(CUdeviceptr device, const void* host, size_t bytes);
  // Drops the stream (before switching contexts).
  void close();

 private:
  CUstream stream_ = nullptr;
};

}  // namespace gpupool::shim

#endif  // GPUPOOL_SHIM_SWAP_STREAM_H_
