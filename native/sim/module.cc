// module.cc — module management: cuModuleLoad*, cuModuleGetFunction,
// cuModuleGetGlobal, cuModuleUnload, cuModuleGetLoadingMode (the cuFunc*
// calls are in function.cc).
//
// A module is PTX text (see ptx.h). Loading parses it, allocates its
// .global/.const variables in the current context (numeric initialisers
// copied in, the rest zero) and binds each .entry to its built-in CPU kernel
// when one matches by name and parameter sizes. Only those entries are functions: an
// entry the sim cannot run is CUDA_ERROR_NOT_FOUND, as a missing one is.
// Binary images (cubin ELF, fatbin) carry no code for the simulated GPU, which
// runs PTX only: CUDA_ERROR_NO_BINARY_FOR_GPU, as for a cubin of another arch.
// Error codes for malformed images follow driver 580: text without .version
// is CUDA_ERROR_INVALID_IMAGE, PTX that does not parse CUDA_ERROR_INVALID_PTX.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "module.h"

namespace gpupool::sim {

HandleRegistry<Module> g_modules;
HandleRegistry<Function> g_functions;

namespace {

// True when `image` starts with `magic` (compared byte by byte, so a shorter
// NUL-terminated text is never read past its end).
bool starts_with(const void* image, const unsigned char* magic, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(image);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != magic[i]) return false;
  }
  return true;
}

// Binary images: CUDA_ERROR_NO_BINARY_FOR_GPU for a cubin or fatbin (it has no
// code for the simulated GPU), CUDA_ERROR_INVALID_IMAGE for an ELF that is no
// cubin, as the driver. CUDA_SUCCESS: not a binary image.
CUresult check_binary_image(const void* image) {
  static const unsigned char kElf[] = {0x7f, 'E', 'L', 'F'};
  static const unsigned char kFatbin[] = {0x50, 0xed, 0x55, 0xba};         // 0xBA55ED50
  static const unsigned char kFatbinWrapper[] = {0xb1, 0x43, 0x62, 0x46};  // 0x466243B1
  const unsigned char* p = static_cast<const unsigned char*>(image);
  if (starts_with(image, kElf, 4)) {  // 64-bit ELF for EM_CUDA (190)?
    bool cubin = p[4] == 2 && p[18] == 190 && p[19] == 0;
    return cubin ? CUDA_ERROR_NO_BINARY_FOR_GPU : CUDA_ERROR_INVALID_IMAGE;
  }
  if (starts_with(image, kFatbin, 4)) return CUDA_ERROR_NO_BINARY_FOR_GPU;  // even an empty one
  if (starts_with(image, kFatbinWrapper, 4)) {  // {magic, version, const fatbin*, ...}
    const void* fatbin = nullptr;
    std::memcpy(&fatbin, p + 8, sizeof fatbin);
    return fatbin != nullptr && starts_with(fatbin, kFatbin, 4) ? CUDA_ERROR_NO_BINARY_FOR_GPU
                                                                 : CUDA_ERROR_INVALID_IMAGE;
  }
  return CUDA_SUCCESS;
}

// The newest PTX ISA the driver of cuda.h's version JIT-compiles (PTX ISA
// release notes), as major * 10 + minor; 0: a newer CUDA than this table.
int max_ptx_isa() {
  static const struct { int cuda, isa; } kIsa[] = {
      {12000, 80}, {12010, 81}, {12020, 82}, {12030, 83}, {12040, 84},
      {12050, 85}, {12060, 85}, {12080, 87}, {12090, 88}, {13000, 90},
  };
  int isa = 0;
  for (const auto& e : kIsa) {
    if (e.cuda <= CUDA_VERSION) isa = e.isa;
  }
  return CUDA_VERSION > kIsa[std::size(kIsa) - 1].cuda ? 0 : isa;
}

// What the driver's JIT refuses in PTX that parses: a newer ISA than it knows
// (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), a target above the device's compute
// capability (CUDA_ERROR_INVALID_PTX).
CUresult check_jit(const Context* ctx, const ptx::Module& m, std::string* error) {
  int isa = m.version_major * 10 + m.version_minor, max_isa = max_ptx_isa();
  if (max_isa != 0 && isa > max_isa) {
    *error = "PTX ISA " + std::to_string(m.version_major) + "." + std::to_string(m.version_minor) +
             " is newer than this driver supports";
    return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
  }
  int cc = compute_capability(ctx);
  if (m.target_sm > cc) {
    *error = "target sm_" + std::to_string(m.target_sm) + " is above the device's sm_" + std::to_string(cc);
    return CUDA_ERROR_INVALID_PTX;
  }
  return CUDA_SUCCESS;
}

// JIT options that return something: the logs and the wall time.
struct JitOutputs {
  char* error_log = nullptr;
  unsigned error_log_size = 0;
  int error_log_index = -1;
  char* info_log = nullptr;
  unsigned info_log_size = 0;
  int info_log_index = -1;
  int wall_time_index = -1;
};

// Writes a JIT log and reports the bytes filled, the terminating NUL included
// (as the driver does), in the option's size slot.
void write_log(char* buffer, unsigned size, const std::string& text, void** size_slot) {
  unsigned filled = 0;
  if (buffer != nullptr && size > 0) {
    size_t n = std::min<size_t>(text.size(), size - 1);
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
    filled = n > 0 ? static_cast<unsigned>(n + 1) : 0;
  }
  if (size_slot != nullptr) *size_slot = reinterpret_cast<void*>(static_cast<uintptr_t>(filled));
}

CUresult load(CUmodule* out, const void* image, unsigned num_options, CUjit_option* options,
              void** values) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (num_options > 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  JitOutputs jit;
  for (unsigned i = 0; i < num_options; ++i) {
    int option;  // read as int: an out-of-range value is not a valid enumerator
    std::memcpy(&option, &options[i], sizeof option);
    if (option < 0 || option >= CU_JIT_NUM_OPTIONS) return CUDA_ERROR_INVALID_VALUE;
    unsigned as_uint = static_cast<unsigned>(reinterpret_cast<uintptr_t>(values[i]));
    switch (option) {
      case CU_JIT_ERROR_LOG_BUFFER: jit.error_log = static_cast<char*>(values[i]); break;
      case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES: jit.error_log_size = as_uint; jit.error_log_index = int(i); break;
      case CU_JIT_INFO_LOG_BUFFER: jit.info_log = static_cast<char*>(values[i]); break;
      case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES: jit.info_log_size = as_uint; jit.info_log_index = int(i); break;
      case CU_JIT_WALL_TIME: jit.wall_time_index = int(i); break;
      default: break;  // optimisation levels, targets, caching: nothing to do
    }
  }
  Context* ctx = nullptr;
  r = require_context(&ctx);
  if (r != CUDA_SUCCESS) return r;

  std::string error;
  auto module = new Module();
  module->ctx = ctx;
  r = check_binary_image(image);
  if (r != CUDA_SUCCESS) {
    error = "the simulated GPU runs PTX only; the image is binary";
  } else {
    switch (ptx::parse(static_cast<const char*>(image), &module->ptx, &error)) {
      case ptx::ParseResult::kOk: r = check_jit(ctx, module->ptx, &error); break;
      case ptx::ParseResult::kNotPtx: r = CUDA_ERROR_INVALID_IMAGE; break;
      case ptx::ParseResult::kInvalid: r = CUDA_ERROR_INVALID_PTX; break;
    }
  }
  for (const ptx::Variable& v : module->ptx.variables) {
    if (r != CUDA_SUCCESS) break;
    Module::Global g{v.name, 0, v.size};
    r = device_alloc(ctx, v.size, &g.ptr);
    if (r != CUDA_SUCCESS) break;
    // Device memory is host memory (sim.h): the initialiser is copied in place.
    if (!v.init.empty()) std::memcpy(reinterpret_cast<void*>(g.ptr), v.init.data(), std::min(v.init.size(), v.size));
    module->globals.push_back(g);
  }
  auto slot = [&](int index) { return index >= 0 ? &values[index] : nullptr; };
  write_log(jit.error_log, jit.error_log_size, r == CUDA_SUCCESS ? "" : "gpupool sim: " + error,
            slot(jit.error_log_index));
  write_log(jit.info_log, jit.info_log_size, "", slot(jit.info_log_index));
  if (jit.wall_time_index >= 0) {
    float zero = 0.0f;
    std::memcpy(&values[jit.wall_time_index], &zero, sizeof zero);
  }
  if (r != CUDA_SUCCESS) {
    for (const Module::Global& g : module->globals) device_free(ctx, g.ptr);
    delete module;
    return r;
  }
  for (const ptx::Entry& e : module->ptx.entries) {
    std::vector<size_t> sizes;
    for (const ptx::Param& p : e.params) sizes.push_back(p.size);
    if (const BuiltinKernel* k = find_builtin_kernel(e.name.c_str(), sizes)) {
      auto f = new Function();
      f->module = module;
      f->entry = &e;
      f->kernel = k;
      module->functions.push_back(f);
    }
  }
  for (Function* f : module->functions) g_functions.add(f);
  g_modules.add(module);
  *out = reinterpret_cast<CUmodule>(module);
  return CUDA_SUCCESS;
}

void unregister(Module* m) {
  for (Function* f : m->functions) g_functions.remove(f);
  g_modules.remove(m);
}

CUresult check_module(CUmodule handle, Module** out) {
  if (!g_modules.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<Module*>(handle);
  return CUDA_SUCCESS;
}

}  // namespace

CUresult check_function(CUfunction handle, Function** out) {
  if (!g_functions.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<Function*>(handle);
  return CUDA_SUCCESS;
}

// A device attribute of `ctx`'s device, or `fallback` when the device layer
// cannot say.
int device_attribute(const Context* ctx, CUdevice_attribute attribute, int fallback) {
  int value = 0;
  if (cuDeviceGetAttribute(&value, attribute, ctx->device->ordinal) != CUDA_SUCCESS) return fallback;
  return value;
}

int compute_capability(const Context* ctx) {
  return device_attribute(ctx, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9) * 10 +
         device_attribute(ctx, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0);
}

unsigned max_threads_per_block(const Function* f) {
  unsigned bound = f->entry->max_threads;
  return bound != 0 && bound < 1024 ? bound : 1024;
}

void modules_release_context(Context* ctx) {
  // The variables' memory belongs to the context and goes with it (memory.cc).
  for (Module* m : g_modules.all()) {
    if (m->ctx == ctx) unregister(m);
  }
}

}  // namespace gpupool::sim

using namespace gpupool::sim;

SIM_API CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  return load(module, image, 0, nullptr, nullptr);
}

SIM_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                    CUjit_option* options, void** optionValues) {
  return load(module, image, numOptions, options, optionValues);
}

SIM_API CUresult cuModuleLoad(CUmodule* module, const char* fname) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  if (module == nullptr || fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::ifstream in(fname, std::ios::binary);
  if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return CUDA_ERROR_FILE_NOT_FOUND;
  data.append(64, '\0');  // NUL-terminated text; a truncated ELF header reads as zeros
  return load(module, data.data(), 0, nullptr, nullptr);
}

SIM_API CUresult cuModuleUnload(CUmodule hmod) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  Module* m = nullptr;
  r = check_module(hmod, &m);
  if (r != CUDA_SUCCESS) return r;
  unregister(m);
  for (const Module::Global& g : m->globals) device_free(m->ctx, g.ptr);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  Module* m = nullptr;
  r = check_module(hmod, &m);  // the handle first, as the driver
  if (r != CUDA_SUCCESS) return r;
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (Function* f : m->functions) {
    if (f->entry->name == name) {
      *hfunc = reinterpret_cast<CUfunction>(f);
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_NOT_FOUND;  // no such entry, or one the sim cannot run
}

SIM_API CUresult cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod, const char* name) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  Module* m = nullptr;
  r = check_module(hmod, &m);
  if (r != CUDA_SUCCESS) return r;
  if (name == nullptr || (dptr == nullptr && bytes == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  for (const Module::Global& g : m->globals) {
    if (g.name == name) {
      if (dptr != nullptr) *dptr = g.ptr;
      if (bytes != nullptr) *bytes = g.size;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_NOT_FOUND;
}

SIM_API CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const char* env = std::getenv("CUDA_MODULE_LOADING");  // the driver's own switch
  *mode = env != nullptr && std::strcmp(env, "EAGER") == 0 ? CU_MODULE_EAGER_LOADING
                                                            : CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}
