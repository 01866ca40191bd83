// swap_stream.cc — SwapStream (swap_stream.h).
#include "swap_stream.h"

#include "hook_table.h"
#include "real_driver.h"

namespace gpupool::shim {

SwapStream::~SwapStream() { close(); }

CUresult SwapStream::open() {
  if (stream_ != nullptr) return CUDA_SUCCESS;
  auto create = SHIM_REAL(cuStreamCreate);
  if (create == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return create(&stream_, CU_STREAM_NON_BLOCKING);
}

CUresult SwapStream::to_host(void* host, CUdeviceptr device, size_t bytes) {
  auto copy = SHIM_REAL(cuMemcpyDtoHAsync_v2);
  auto sync = SHIM_REAL(cuStreamSynchronize);
  if (copy == nullptr || sync == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (CUresult r = open(); r != CUDA_SUCCESS) return r;
  if (CUresult r = copy(host, device, bytes, stream_); r != CUDA_SUCCESS) return r;
  return sync(stream_);
}

CUresult SwapStream::to_device(CUdeviceptr device, const void* host, size_t bytes) {
  auto copy = SHIM_REAL(cuMemcpyHtoDAsync_v2);
  auto sync = SHIM_REAL(cuStreamSynchronize);
  if (copy == nullptr || sync == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (CUresult r = open(); r != CUDA_SUCCESS) return r;
  if (CUresult r = copy(device, host, bytes, stream_); r != CUDA_SUCCESS) return r;
  return sync(stream_);
}

void SwapStream::close() {
  if (stream_ == nullptr) return;
  if (auto destroy = SHIM_REAL(cuStreamDestroy_v2)) destroy(stream_);
  stream_ = nullptr;
}

}  // namespace gpupool::shim
