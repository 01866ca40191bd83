// module_launch.cc — modules, functions and launches. A module's image goes to
// the worker whole (a frame holds up to MAX_FRAME_BYTES); each function's
// parameter layout comes back with cuModuleGetFunction (FunctionInfo, from
// the worker's cuFuncGetParamInfo) and is what cuLaunchKernel packs
// kernelParams with and what cuFuncGetParamInfo answers locally. Launches are
// pipelined; their configuration is checked locally against the device's
// limits so those errors stay synchronous.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "remote.h"

using namespace gpupool::remote;

namespace {

Module* find_module(CUmodule m) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto* mod = reinterpret_cast<Module*>(m);
  return objects().modules.count(mod) ? mod : nullptr;
}

Function* find_function(CUfunction f) {
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto* fn = reinterpret_cast<Function*>(f);
  return objects().functions.count(fn) ? fn : nullptr;
}

// The image's size: PTX is NUL-terminated text; an ELF cubin says its size in
// its header; a fatbin in its header too.
size_t image_size(const void* image) {
  const unsigned char* p = static_cast<const unsigned char*>(image);
  if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
    uint64_t shoff, phoff;
    uint16_t shentsize, shnum;
    std::memcpy(&shoff, p + 0x28, 8);
    std::memcpy(&phoff, p + 0x20, 8);
    std::memcpy(&shentsize, p + 0x3a, 2);
    std::memcpy(&shnum, p + 0x3c, 2);
    return shoff + uint64_t{shentsize} * shnum;
  }
  uint32_t magic;
  std::memcpy(&magic, p, 4);
  if (magic == 0xba55ed50u) {  // fatbin: 16-byte header, then `size` bytes
    uint64_t size;
    std::memcpy(&size, p + 8, 8);
    return 16 + size;
  }
  return std::strlen(reinterpret_cast<const char*>(image)) + 1;
}

void ptx_versions(const char* text, size_t n, Module* m) {
  std::string s(text, strnlen(text, n));
  size_t v = s.find(".version");
  int major = 0, minor = 0;
  if (v != std::string::npos && std::sscanf(s.c_str() + v, ".version %d.%d", &major, &minor) == 2)
    m->ptx_version = major * 10 + minor;
  size_t t = s.find(".target sm_");
  int sm = 0;
  if (t != std::string::npos && std::sscanf(s.c_str() + t, ".target sm_%d", &sm) == 1) m->binary_version = sm;
}

CUresult load(CUmodule* out, const void* image) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  size_t n = image_size(image);
  if (n + 64 > wire::kMaxFrameBytes) return CUDA_ERROR_NOT_SUPPORTED;  // too big for one frame
  wire::Writer w;
  w.bytes(1, image, n);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kModuleLoadData, w, &reply); r != CUDA_SUCCESS) return r;
  auto* m = new Module;
  m->remote = reply.handle;
  m->ctx = ctx;
  ptx_versions(static_cast<const char*>(image), n, m);
  if (m->binary_version == 0)
    m->binary_version = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10 +
                        attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  if (m->ptx_version == 0) m->ptx_version = m->binary_version;
  std::lock_guard<std::mutex> lock(objects().mutex);
  objects().modules.insert(m);
  *out = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

}  // namespace

REMOTE_API CUresult cuModuleLoadData(CUmodule* module, const void* image) { return load(module, image); }

REMOTE_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                       CUjit_option* options, void** optionValues) {
  if (numOptions > 0 && (options == nullptr || optionValues == nullptr)) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  // JIT options (log buffers, ...) are the worker's business; logs stay empty.
  for (unsigned i = 0; i < numOptions; ++i) {
    if (options[i] == CU_JIT_INFO_LOG_BUFFER || options[i] == CU_JIT_ERROR_LOG_BUFFER) {
      if (optionValues[i] != nullptr) static_cast<char*>(optionValues[i])[0] = 0;
    }
  }
  return load(module, image);
}

REMOTE_API CUresult cuModuleLoadFatBinary(CUmodule* module, const void* image) { return load(module, image); }

REMOTE_API CUresult cuModuleLoad(CUmodule* module, const char* path) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (module == nullptr || path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return CUDA_ERROR_FILE_NOT_FOUND;
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  std::fclose(f);
  data.push_back('\0');
  return load(module, data.data());
}

REMOTE_API CUresult cuModuleUnload(CUmodule hmod) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  uint64_t remote = 0;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto* m = reinterpret_cast<Module*>(hmod);
    if (objects().modules.erase(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
    for (auto& f : m->functions) objects().functions.erase(f.second);
    for (CUdeviceptr g : m->globals) objects().allocations.erase(g);
    remote = m->remote;
  }
  wire::Writer w;
  w.u64(1, remote);
  return conn().post(wire::kModuleUnload, w);
}

REMOTE_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Module* m = find_module(hmod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    auto it = m->functions.find(name);
    if (it != m->functions.end()) {
      *hfunc = reinterpret_cast<CUfunction>(it->second);
      return CUDA_SUCCESS;
    }
  }
  wire::Writer w;
  w.u64(1, m->remote);
  w.str(2, name);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kModuleGetFunction, w, &reply); r != CUDA_SUCCESS) return r;
  auto* f = new Function;
  f->remote = reply.function_handle;
  f->module = m;
  f->name = name;
  f->params = reply.params;
  std::lock_guard<std::mutex> lock(objects().mutex);
  auto [it, inserted] = m->functions.emplace(name, f);
  if (!inserted) {  // another thread got there first
    delete f;
    f = it->second;
  }
  objects().functions.insert(f);
  *hfunc = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod, const char* name) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Module* m = find_module(hmod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (name == nullptr || (dptr == nullptr && bytes == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  wire::Writer w;
  w.u64(1, m->remote);
  w.str(2, name);
  wire::Reply reply;
  if (CUresult r = conn().call(wire::kModuleGetGlobal, w, &reply); r != CUDA_SUCCESS) return r;
  {
    std::lock_guard<std::mutex> lock(objects().mutex);
    if (objects().allocations.count(reply.global_dptr) == 0) {
      objects().allocations[reply.global_dptr] = Allocation{reply.global_bytes, m->ctx, false};
      m->globals.push_back(reply.global_dptr);
    }
  }
  if (dptr != nullptr) *dptr = reply.global_dptr;
  if (bytes != nullptr) *bytes = reply.global_bytes;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset,
                                       size_t* paramSize) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (paramOffset == nullptr || paramIndex >= f->params.size()) return CUDA_ERROR_INVALID_VALUE;
  *paramOffset = f->params[paramIndex].offset;
  if (paramSize != nullptr) *paramSize = f->params[paramIndex].size;
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuFuncGetName(const char** name, CUfunction func) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *name = f->name.c_str();
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuFuncGetModule(CUmodule* hmod, CUfunction func) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (hmod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *hmod = reinterpret_cast<CUmodule>(f->module);
  return CUDA_SUCCESS;
}

// Attributes the protocol does not carry are answered with the values a
// simple kernel has; MAX_DYNAMIC_SHARED_SIZE_BYTES and the carveout are kept.
REMOTE_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction func) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = f->module->ptx_version; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = f->module->binary_version; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic_shared; break;
    default:
      if (attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX || attrib >= 16) return CUDA_ERROR_INVALID_VALUE;
      *pi = f->attributes[attrib];
  }
  return CUDA_SUCCESS;
}

REMOTE_API CUresult cuFuncSetAttribute(CUfunction func, CUfunction_attribute attrib, int value) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    int limit = attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    if (value < 0 || value > limit) return CUDA_ERROR_INVALID_VALUE;
    f->max_dynamic_shared = value;
    return CUDA_SUCCESS;
  }
  if (attrib == CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT ||
      attrib == CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH ||
      attrib == CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT ||
      attrib == CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH ||
      attrib == CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED ||
      attrib == CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE) {
    f->attributes[attrib] = value;
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}

REMOTE_API CUresult cuFuncSetCacheConfig(CUfunction func, CUfunc_cache) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  return find_function(func) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// ---- launches -------------------------------------------------------------------------

namespace {

// The device's launch limits, read once (the worker's Welcome does not change).
struct LaunchLimits {
  uint64_t grid[3], block[3], threads, shared;
  LaunchLimits() {
    auto a = [](CUdevice_attribute x) { return static_cast<uint64_t>(attribute(x)); };
    grid[0] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
    grid[1] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
    grid[2] = a(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
    block[0] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
    block[1] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
    block[2] = a(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
    threads = a(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    shared = a(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
  }
};

CUresult launch(CUfunction func, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                unsigned bz, unsigned shared, CUstream s, void** params, void** extra) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  Function* f = find_function(func);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  static const LaunchLimits limits;  // after require_context: the connection is up
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return CUDA_ERROR_INVALID_VALUE;
  if (gx > limits.grid[0] || gy > limits.grid[1] || gz > limits.grid[2] || bx > limits.block[0] ||
      by > limits.block[1] || bz > limits.block[2] || uint64_t{bx} * by * bz > limits.threads)
    return CUDA_ERROR_INVALID_VALUE;
  if (shared > std::max<uint64_t>(limits.shared, static_cast<uint64_t>(f->max_dynamic_shared)))
    return CUDA_ERROR_INVALID_VALUE;
  wire::LaunchHead head;
  if (CUresult r = remote_stream(s, &head.stream); r != CUDA_SUCCESS) return r;
  head.function = f->remote;
  head.grid[0] = gx, head.grid[1] = gy, head.grid[2] = gz;
  head.block[0] = bx, head.block[1] = by, head.block[2] = bz;
  head.shared_bytes = shared;

  // The body is encoded in place, the parameter buffer (kernelParams packed per FunctionInfo,
  // or `extra`'s buffer) straight into its `params` field.
  size_t total = 0;
  for (const auto& p : f->params) total = std::max<size_t>(total, size_t{p.offset} + p.size);
  if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  const void* extra_buffer = nullptr;
  if (extra != nullptr) {
    const size_t* size = nullptr;
    for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
      if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) extra_buffer = extra[i + 1];
      else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) size = static_cast<const size_t*>(extra[i + 1]);
      else return CUDA_ERROR_INVALID_VALUE;
    }
    if (extra_buffer == nullptr || size == nullptr || *size < total) return CUDA_ERROR_INVALID_VALUE;
  } else if (params == nullptr && !f->params.empty()) {
    return CUDA_ERROR_INVALID_VALUE;
  } else {
    for (size_t i = 0; i < f->params.size(); ++i)
      if (params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
  }
  char small[wire::kLaunchHeadMaxBytes + 256];
  std::vector<char> large;
  char* body = small;
  if (total > 256) {
    large.resize(wire::kLaunchHeadMaxBytes + total);
    body = large.data();
  }
  size_t body_size = 0;
  char* packed = wire::encode_launch_kernel(body, head, total, &body_size);
  if (extra_buffer != nullptr) {
    std::memcpy(packed, extra_buffer, total);
  } else {
    std::memset(packed, 0, total);
    for (size_t i = 0; i < f->params.size(); ++i)
      std::memcpy(packed + f->params[i].offset, params[i], f->params[i].size);
  }
  return conn().post(wire::kLaunchKernel, body, body_size);
}

CUresult launch_ex(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  if (config == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  // Attributes (clusters, priorities, ...) are hints the worker does not get.
  return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                config->blockDimY, config->blockDimZ, config->sharedMemBytes, config->hStream, params, extra);
}

}  // namespace

REMOTE_API CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                   unsigned by, unsigned bz, unsigned shared, CUstream s, void** params,
                                   void** extra) {
  return launch(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}

REMOTE_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                        unsigned by, unsigned bz, unsigned shared, CUstream s, void** params,
                                        void** extra) {
  return launch(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}

REMOTE_API CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  return launch_ex(config, f, params, extra);
}

REMOTE_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                                          void** extra) {
  return launch_ex(config, f, params, extra);
}
