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

// ---- virtual memory management -------------------------------------------------------
// JCuda 12.0.0 binds these, but fills CUmemAllocationProp's allocFlags wrongly (usage = 1 for
// a 0 given), so the worker builds the structs here. Their layouts are cuda.h's (unchanged
// since CUDA 11); handles and addresses travel as integers.

struct MemLocation { int type; int id; };
struct MemAllocationProp {
  int type;
  int requestedHandleTypes;
  MemLocation location;
  void* win32HandleMetaData;
  struct { unsigned char compressionType, gpuDirectRDMACapable; unsigned short usage; unsigned char reserved[4]; }
      allocFlags;
};
struct MemAccessDesc { MemLocation location; int flags; };
enum { kPinned = 1, kLocationDevice = 1 };

inline MemAllocationProp device_prop(int device, int compression, int rdma, int usage) {
  MemAllocationProp p = {};
  p.type = kPinned;
  p.location.type = kLocationDevice;
  p.location.id = device;
  p.allocFlags.compressionType = (unsigned char) compression;
  p.allocFlags.gpuDirectRDMACapable = (unsigned char) (rdma != 0);
  p.allocFlags.usage = (unsigned short) usage;
  return p;
}

#define GPUPOOL_DRIVER_FN(type, name) \
  static type fn = (type) driver_symbol(name); \
  if (fn == NULL) return kNotFound

// cuMemGetAllocationGranularity: out[0] = the granularity.
inline int vmmGranularity(long long* out, int device, int compression, int rdma, int usage, int option) {
  typedef int (*Fn)(size_t*, const MemAllocationProp*, int);
  GPUPOOL_DRIVER_FN(Fn, "cuMemGetAllocationGranularity");
  if (out == NULL) return kInvalidValue;
  MemAllocationProp p = device_prop(device, compression, rdma, usage);
  size_t g = 0;
  int r = fn(&g, &p, option);
  if (r == kSuccess) out[0] = (long long) g;
  return r;
}

// cuMemCreate: handle[0] = the new allocation handle.
inline int vmmCreate(long long* handle, long long size, int device, int compression, int rdma, int usage,
                     long long flags) {
  typedef int (*Fn)(unsigned long long*, size_t, const MemAllocationProp*, unsigned long long);
  GPUPOOL_DRIVER_FN(Fn, "cuMemCreate");
  if (handle == NULL || size < 0) return kInvalidValue;
  MemAllocationProp p = device_prop(device, compression, rdma, usage);
  unsigned long long h = 0;
  int r = fn(&h, (size_t) size, &p, (unsigned long long) flags);
  if (r == kSuccess) handle[0] = (long long) h;
  return r;
}

inline int vmmRelease(long long handle) {
  typedef int (*Fn)(unsigned long long);
  GPUPOOL_DRIVER_FN(Fn, "cuMemRelease");
  return fn((unsigned long long) handle);
}

inline int vmmMap(long long ptr, long long size, long long offset, long long handle, long long flags) {
  typedef int (*Fn)(unsigned long long, size_t, size_t, unsigned long long, unsigned long long);
  GPUPOOL_DRIVER_FN(Fn, "cuMemMap");
  return fn((unsigned long long) ptr, (size_t) size, (size_t) offset, (unsigned long long) handle,
            (unsigned long long) flags);
}

// cuMemSetAccess with one descriptor: `device`'s access.
inline int vmmSetAccess(long long ptr, long long size, int device, int flags) {
  typedef int (*Fn)(unsigned long long, size_t, const MemAccessDesc*, size_t);
  GPUPOOL_DRIVER_FN(Fn, "cuMemSetAccess");
  MemAccessDesc d = {{kLocationDevice, device}, flags};
  return fn((unsigned long long) ptr, (size_t) size, &d, 1);
}

// cuMemGetAccess: out[0] = `device`'s access flags.
inline int vmmGetAccess(long long* out, int device, long long ptr) {
  typedef int (*Fn)(unsigned long long*, const MemLocation*, unsigned long long);
  GPUPOOL_DRIVER_FN(Fn, "cuMemGetAccess");
  if (out == NULL) return kInvalidValue;
  MemLocation l = {kLocationDevice, device};
  unsigned long long flags = 0;
  int r = fn(&flags, &l, (unsigned long long) ptr);
  if (r == kSuccess) out[0] = (long long) flags;
  return r;
}

// cuMemAllocAsync (JCuda 12.0.0 has cuMemFreeAsync but not this): ptr[0] = the address.
inline int memAllocAsync(long long* ptr, long long size, long long stream) {
  typedef int (*Fn)(unsigned long long*, size_t, void*);
  GPUPOOL_DRIVER_FN(Fn, "cuMemAllocAsync");
  if (ptr == NULL || size < 0) return kInvalidValue;
  unsigned long long p = 0;
  int r = fn(&p, (size_t) size, (void*) (size_t) stream);
  if (r == kSuccess) ptr[0] = (long long) p;
  return r;
}

// cuLaunchKernel with kernelParams already built by the caller (io.gpupool.remote.DirectLauncher:
// pointers into its parameter area, prepared once per function), so a launch crosses JNI with
// integers only. kernelParams 0 is NULL (a kernel without parameters).
inline int launchKernel(long long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                        int sharedBytes, long long stream, long long kernelParams) {
  typedef int (*Fn)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**,
                    void**);
  GPUPOOL_DRIVER_FN(Fn, "cuLaunchKernel");
  return fn((void*) (size_t) function, (unsigned) gridX, (unsigned) gridY, (unsigned) gridZ, (unsigned) blockX,
            (unsigned) blockY, (unsigned) blockZ, (unsigned) sharedBytes, (void*) (size_t) stream,
            (void**) (size_t) kernelParams, NULL);
}

#undef GPUPOOL_DRIVER_FN

}  // namespace gpupool_remote

#endif
