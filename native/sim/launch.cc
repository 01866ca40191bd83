// launch.cc — kernel launches: cuLaunchKernel, cuLaunchKernelEx,
// cuLaunchCooperativeKernel and their per-thread-stream (_ptsz) forms.
//
// A launch is validated as the driver does it (function handle, context,
// grid and block limits, dynamic shared memory, parameters), the parameter
// values are copied at launch time (the caller may reuse its buffers at once,
// as with the driver), and the built-in CPU kernel is queued on the stream
// (or recorded as a graph node while the stream is captured). It runs later on
// the device executor; an illegal address it detects becomes the context's
// sticky error there. prepare_kernel is the part graph kernel nodes share.
#include <cstring>
#include <memory>

#include "graph.h"
#include "module.h"

namespace gpupool::sim {
namespace {

constexpr unsigned kMaxGridX = 0x7fffffffu, kMaxGridYZ = 65535;
constexpr unsigned kMaxBlockXY = 1024, kMaxBlockZ = 64, kMaxThreads = 1024;
constexpr int kMaxExtraEntries = 64;  // an unterminated `extra` is not read forever

struct Launch {
  CUfunction f;
  LaunchGeometry geometry;
  CUstream stream;
  void** kernel_params;
  void** extra;
  bool per_thread;  // the _ptsz entry point: NULL is the per-thread stream
};

// The parameter buffer, laid out at the PTX offsets, from either form, into
// `buffer` (entry.param_bytes bytes).
CUresult copy_params(const ptx::Entry& entry, void** kernel_params, void** extra, uint8_t* buffer) {
  if (kernel_params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (entry.param_bytes > 0) std::memset(buffer, 0, entry.param_bytes);
  if (entry.params.empty()) return CUDA_SUCCESS;
  if (kernel_params != nullptr) {
    for (size_t i = 0; i < entry.params.size(); ++i) {
      if (kernel_params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(buffer + entry.params[i].offset, kernel_params[i], entry.params[i].size);
    }
    return CUDA_SUCCESS;
  }
  if (extra == nullptr) return CUDA_ERROR_INVALID_VALUE;  // parameters, but none given
  const void* data = nullptr;
  const size_t* size = nullptr;
  for (int i = 0;; i += 2) {
    if (i >= kMaxExtraEntries) return CUDA_ERROR_INVALID_VALUE;
    void* key = extra[i];
    if (key == CU_LAUNCH_PARAM_END) break;
    if (key == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      data = extra[i + 1];
    } else if (key == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      size = static_cast<const size_t*>(extra[i + 1]);
    } else {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  if (data == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // As driver 580: a buffer larger than the parameters is refused, a smaller
  // one is taken as far as it goes (the rest reads as zero here, garbage there).
  if (*size > entry.param_bytes) return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  std::memcpy(buffer, data, *size);
  return CUDA_SUCCESS;
}

// The queued kernel of a launch whose parameters fit inline (nearly all): the
// closure carries them itself, so a launch costs the one allocation of the
// std::function and nothing else. Submitter and executor are different
// threads, and every allocation made on one and freed on the other costs
// both a trip through malloc's shared arena: that was the bulk of a launch.
struct InlineKernel {
  static constexpr size_t kBytes = 64, kParams = 8;
  Context* ctx;
  KernelFn run;
  LaunchGeometry geometry;
  uint32_t count;
  uint16_t offsets[kParams];
  alignas(16) uint8_t bytes[kBytes];

  CUresult operator()() const {
    const uint8_t* params[kParams];
    for (uint32_t i = 0; i < count; ++i) params[i] = bytes + offsets[i];
    return run(ctx, geometry, params);
  }
};

// Any other launch: the parameters on the heap.
struct HeapKernel {
  Context* ctx;
  KernelFn run;
  LaunchGeometry geometry;
  std::shared_ptr<const std::vector<uint8_t>> bytes;
  std::shared_ptr<const std::vector<size_t>> offsets;

  CUresult operator()() const {
    std::vector<const uint8_t*> params;
    for (size_t offset : *offsets) params.push_back(bytes->data() + offset);
    return run(ctx, geometry, params.data());
  }
};

}  // namespace

CUresult prepare_kernel(Context* ctx, CUfunction handle, const unsigned grid[3], const unsigned block[3],
                        unsigned shared_bytes, void** kernel_params, void** extra,
                        std::function<CUresult()>* work) {
  Function* f = nullptr;
  CUresult r = check_function(handle, &f);
  if (r != CUDA_SUCCESS) return r;
  if (ctx == nullptr) ctx = f->module->ctx;
  if (f->module->ctx != ctx) return CUDA_ERROR_INVALID_HANDLE;  // functions are per context

  for (int i = 0; i < 3; ++i) {
    if (grid[i] == 0 || block[i] == 0) return CUDA_ERROR_INVALID_VALUE;
  }
  if (grid[0] > kMaxGridX || grid[1] > kMaxGridYZ || grid[2] > kMaxGridYZ) return CUDA_ERROR_INVALID_VALUE;
  if (block[0] > kMaxBlockXY || block[1] > kMaxBlockXY || block[2] > kMaxBlockZ) return CUDA_ERROR_INVALID_VALUE;
  uint64_t threads = uint64_t{block[0]} * block[1] * block[2];
  if (threads > kMaxThreads) return CUDA_ERROR_INVALID_VALUE;
  if (threads > max_threads_per_block(f)) return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  const unsigned* req = f->entry->reqntid;
  if (req[0] != 0 && (block[0] != req[0] || block[1] != (req[1] ? req[1] : 1) ||
                      block[2] != (req[2] ? req[2] : 1))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (shared_bytes > static_cast<unsigned>(f->max_dynamic_shared.load())) return CUDA_ERROR_INVALID_VALUE;

  const ptx::Entry& entry = *f->entry;
  LaunchGeometry geometry{{grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, shared_bytes};
  if (entry.param_bytes <= InlineKernel::kBytes && entry.params.size() <= InlineKernel::kParams) {
    InlineKernel k{ctx, f->kernel->run, geometry, static_cast<uint32_t>(entry.params.size()), {}, {}};
    r = copy_params(entry, kernel_params, extra, k.bytes);
    if (r != CUDA_SUCCESS) return r;
    for (size_t i = 0; i < entry.params.size(); ++i) k.offsets[i] = static_cast<uint16_t>(entry.params[i].offset);
    *work = k;
    return CUDA_SUCCESS;
  }
  auto bytes = std::make_shared<std::vector<uint8_t>>(entry.param_bytes);
  r = copy_params(entry, kernel_params, extra, bytes->data());
  if (r != CUDA_SUCCESS) return r;
  auto offsets = std::make_shared<std::vector<size_t>>();
  for (const ptx::Param& p : entry.params) offsets->push_back(p.offset);
  *work = HeapKernel{ctx, f->kernel->run, geometry, std::move(bytes), std::move(offsets)};
  return CUDA_SUCCESS;
}

namespace {

CUresult launch(const Launch& l) {
  Context* ctx = nullptr;
  CUresult r = require_context(&ctx);
  if (r != CUDA_SUCCESS) return r;
  std::function<CUresult()> work;
  r = prepare_kernel(ctx, l.f, l.geometry.grid, l.geometry.block, l.geometry.shared_bytes, l.kernel_params,
                     l.extra, &work);
  if (r != CUDA_SUCCESS) return r;
  Stream* stream = nullptr;
  r = resolve_stream(ctx, l.stream, l.per_thread, &stream);
  if (r != CUDA_SUCCESS) return r;
  return enqueue_work(stream, CU_GRAPH_NODE_TYPE_KERNEL, std::move(work), false);
}

CUresult launch_kernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned shared, CUstream stream, void** params, void** extra,
                       bool per_thread) {
  Launch l{f, {{gx, gy, gz}, {bx, by, bz}, shared}, stream, params, extra, per_thread};
  return launch(l);
}

// cuLaunchKernelEx: attributes are accepted and ignored (the sim runs one
// kernel at a time; cooperation, clusters and priorities change nothing).
CUresult launch_kernel_ex(const CUlaunchConfig* config, CUfunction f, void** params, void** extra,
                          bool per_thread) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (config->numAttrs > 0 && config->attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Launch l{f,
           {{config->gridDimX, config->gridDimY, config->gridDimZ},
            {config->blockDimX, config->blockDimY, config->blockDimZ},
            config->sharedMemBytes},
           config->hStream, params, extra, per_thread};
  return launch(l);
}

}  // namespace
}  // namespace gpupool::sim

using gpupool::sim::launch_kernel;
using gpupool::sim::launch_kernel_ex;

SIM_API CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                void** kernelParams, void** extra) {
  return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                       sharedMemBytes, hStream, kernelParams, extra, false);
}

SIM_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                     unsigned int gridDimZ, unsigned int blockDimX,
                                     unsigned int blockDimY, unsigned int blockDimZ,
                                     unsigned int sharedMemBytes, CUstream hStream,
                                     void** kernelParams, void** extra) {
  return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                       sharedMemBytes, hStream, kernelParams, extra, true);
}

SIM_API CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                  void** extra) {
  return launch_kernel_ex(config, f, kernelParams, extra, false);
}

SIM_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f,
                                       void** kernelParams, void** extra) {
  return launch_kernel_ex(config, f, kernelParams, extra, true);
}

// Cooperative launches: every block of the grid is co-resident on the sim's
// one executor thread, so grid-wide synchronisation would hold trivially.
SIM_API CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                           unsigned int gridDimZ, unsigned int blockDimX,
                                           unsigned int blockDimY, unsigned int blockDimZ,
                                           unsigned int sharedMemBytes, CUstream hStream,
                                           void** kernelParams) {
  return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                       sharedMemBytes, hStream, kernelParams, nullptr, false);
}

SIM_API CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                                unsigned int gridDimY, unsigned int gridDimZ,
                                                unsigned int blockDimX, unsigned int blockDimY,
                                                unsigned int blockDimZ, unsigned int sharedMemBytes,
                                                CUstream hStream, void** kernelParams) {
  return launch_kernel(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                       sharedMemBytes, hStream, kernelParams, nullptr, true);
}
