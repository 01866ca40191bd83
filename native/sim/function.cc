// function.cc — the cuFunc* calls: attributes (cuFuncGetAttribute,
// cuFuncSetAttribute, cuFuncSetCacheConfig), parameter layout
// (cuFuncGetParamInfo), name, module and loading state.
//
// Values a real driver derives from the compiled SASS are fixed plausible ones
// (32 registers, no static shared or local memory); those the PTX states
// (launch bounds, target architecture, parameter offsets) come from it.
// Settable attributes are range-checked as the driver does and are honoured
// by launches where they matter (the dynamic shared memory limit).
#include "module.h"

using namespace gpupool::sim;

SIM_API CUresult cuFuncGetModule(CUmodule* hmod, CUfunction hfunc) {
  if (hmod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  CUresult r = check_function(hfunc, &f);
  if (r != CUDA_SUCCESS) return r;
  *hmod = reinterpret_cast<CUmodule>(f->module);
  return CUDA_SUCCESS;
}

// cuFuncGetName and cuFuncGetParamInfo document (and driver 580 returns)
// CUDA_ERROR_INVALID_VALUE for a bad function handle too.
SIM_API CUresult cuFuncGetName(const char** name, CUfunction hfunc) {
  Function* f = nullptr;
  if (name == nullptr || check_function(hfunc, &f) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
  *name = f->entry->name.c_str();
  return CUDA_SUCCESS;
}

SIM_API CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset,
                                    size_t* paramSize) {
  Function* f = nullptr;
  if (paramOffset == nullptr || check_function(func, &f) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
  if (paramIndex >= f->entry->params.size()) return CUDA_ERROR_INVALID_VALUE;
  *paramOffset = f->entry->params[paramIndex].offset;
  if (paramSize != nullptr) *paramSize = f->entry->params[paramIndex].size;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction function) {
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  CUresult r = check_function(function, &f);
  if (r != CUDA_SUCCESS) return r;
  *state = CU_FUNCTION_LOADING_STATE_LOADED;  // nothing is loaded lazily
  return CUDA_SUCCESS;
}

SIM_API CUresult cuFuncLoad(CUfunction function) {
  Function* f = nullptr;
  return check_function(function, &f);
}

SIM_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  r = check_function(hfunc, &f);
  if (r != CUDA_SUCCESS) return r;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = int(max_threads_per_block(f)); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; break;  // no static shared memory
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: {
      size_t bytes = 0;
      for (const ptx::Variable& v : f->module->ptx.variables) bytes += v.constant ? v.size : 0;
      *pi = int(bytes);
      break;
    }
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;  // a plausible allocation
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = f->module->ptx.target_sm; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: {
      *pi = compute_capability(f->module->ctx);
      break;
    }
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic_shared; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH: *pi = f->cluster[0]; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT: *pi = f->cluster[1]; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *pi = f->cluster[2]; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = f->non_portable_cluster; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = f->cluster_policy; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

SIM_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  Function* f = nullptr;
  r = check_function(hfunc, &f);
  if (r != CUDA_SUCCESS) return r;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
      int optin = device_attribute(f->module->ctx, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 232448);
      if (value < 0 || value > optin) return CUDA_ERROR_INVALID_VALUE;
      f->max_dynamic_shared = value;
      return CUDA_SUCCESS;
    }
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
      f->carveout = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
      if (value < 0) return CUDA_ERROR_INVALID_VALUE;
      f->cluster[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
      if (value != 0 && value != 1) return CUDA_ERROR_INVALID_VALUE;
      f->non_portable_cluster = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      if (value < CU_CLUSTER_SCHEDULING_POLICY_DEFAULT || value > CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING) {
        return CUDA_ERROR_INVALID_VALUE;
      }
      f->cluster_policy = value;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_INVALID_VALUE;  // read-only or unknown
  }
}

SIM_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
  CUresult r = require_init();
  if (r != CUDA_SUCCESS) return r;
  Function* f = nullptr;
  r = check_function(hfunc, &f);
  if (r != CUDA_SUCCESS) return r;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL) return CUDA_ERROR_INVALID_VALUE;
  f->cache_config = config;
  return CUDA_SUCCESS;
}
