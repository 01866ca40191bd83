// Driver entry points the worker needs and JCuda 12.0.0 does not bind, called through
// io.gpupool.remote.DriverFunctions (JavaCPP generates the JNI code around these).
//
// Each is looked up with dlsym in the libcuda.so.1 the process has already loaded
// (JCuda's JNI library links it; dlopen of the same soname returns that very library,
// so handles JCuda created are valid here). Nothing is linked against libcuda and
// cuda.h is not included: an older driver (or older cuda.h, e.g. CUDA 11.8 headers)
// without the symbol makes the call return CUDA_ERROR_NOT_FOUND instead of failing
// to build or load.
#ifndef GPUPOOL_DRIVER_FUNCTIONS_H
#define GPUPOOL_DRIVER_FUNCTIONS_H

#include <dlfcn.h>
#include <stddef.h>

namespace gpupool_remote {

// CUresult values (cuda.h) used here.
enum { kSuccess = 0, kInvalidValue = 1, kNotFound = 500 };

// CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset, size_t* paramSize)
typedef int (*FuncGetParamInfo)(void* func, size_t paramIndex, size_t* paramOffset, size_t* paramSize);

inline void* driver_symbol(const char* name) {
  static void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  return driver == NULL ? NULL : dlsym(driver, name);
}

// offsetAndSize[0] = the parameter's offset, offsetAndSize[1] = its size.
inline int cuFuncGetParamInfo(long long function, long long index, long long* offsetAndSize) {
  static FuncGetParamInfo fn = (FuncGetParamInfo) driver_symbol("cuFuncGetParamInfo");
  if (fn == NULL) return kNotFound;
  if (offsetAndSize == NULL || function == 0 || index < 0) return kInvalidValue;
  size_t offset = 0, size = 0;
  int r = fn((void*) (size_t) function, (size_t) index, &offset, &size);
  if (r == kSuccess) {
    offsetAndSize[0] = (long long) offset;
    offsetAndSize[1] = (long long) size;
  }
  return r;
}

}  // namespace gpupool_remote

#endif
