// nvml_test.h — a header-only harness for the NVML test programs.
//
// The NVML tests must not link the CUDA driver (a program that uses only NVML,
// like nvidia-smi, never loads it), so they cannot use driver_test.h, whose
// messages ask the driver for error names. Same style, NT_ prefix:
//
//   NT_CHECK_NVML(nvmlDeviceGetCount_v2(&n), NVML_SUCCESS);
//   NT_CHECK(cond);  NT_CHECK_EQ(a, b);    (integers or strings)
//   return nt::finish();                  "N checks, M failed" -> exit status
//
// CudaApi opens libcuda.so.1 at run time (dlopen) for the tests that compare
// NVML with the driver or allocate through it; under the shim, dlsym on the
// driver's handle hands out the shim's hooks, so allocations are charged.
//
// Threading: single-threaded test programs.
#pragma once

#include <cuda.h>
#include <dlfcn.h>
#include <gpupool/nvml_abi.h>
#include <gpupool/nvml_uuid.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace nt {

inline int& checks() {
  static int n = 0;
  return n;
}
inline int& failures() {
  static int n = 0;
  return n;
}

inline bool check(const char* file, int line, const char* expr, bool ok, const std::string& detail) {
  ++checks();
  if (ok) return true;
  ++failures();
  std::printf("%s:%d: CHECK(%s) failed%s%s\n", file, line, expr, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stdout);
  return false;
}

inline std::string text(unsigned long long v) { return std::to_string(v); }
inline std::string text(const std::string& v) { return "\"" + v + "\""; }

inline int finish() {
  std::printf("%d checks, %d failed\n", checks(), failures());
  return failures() == 0 ? 0 : 1;
}

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML prints a CUuuid.
inline std::string uuid_text(const CUuuid& u) {
  char s[GPUPOOL_NVML_UUID_TEXT_SIZE];
  gpupool_nvml_uuid_text(reinterpret_cast<const unsigned char*>(u.bytes), s);
  return s;
}

struct CudaApi {
  void* handle = nullptr;
  decltype(&::cuInit) init = nullptr;
  decltype(&::cuDeviceGetCount) device_count = nullptr;
  decltype(&::cuDeviceGetName) device_name = nullptr;
  CUresult (*device_uuid)(CUuuid*, CUdevice) = nullptr;
  CUresult (*total_mem)(size_t*, CUdevice) = nullptr;
  decltype(&::cuDeviceGetPCIBusId) pci_bus_id = nullptr;
  decltype(&::cuDevicePrimaryCtxRetain) primary_retain = nullptr;
  CUresult (*primary_release)(CUdevice) = nullptr;
  decltype(&::cuCtxSetCurrent) set_current = nullptr;
  CUresult (*mem_alloc)(CUdeviceptr*, size_t) = nullptr;
  CUresult (*mem_free)(CUdeviceptr) = nullptr;
  CUresult (*mem_get_info)(size_t*, size_t*) = nullptr;

  // Opens the driver and resolves every entry point (the _v2 names are what
  // cuda.h's macros call); false, with a message, when anything is missing.
  bool open() {
    handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      std::printf("cannot open libcuda.so.1: %s\n", dlerror());
      return false;
    }
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      if (fn == nullptr) {
        std::printf("libcuda.so.1 lacks %s\n", name);
        ok = false;
      }
    };
    get(init, "cuInit");
    get(device_count, "cuDeviceGetCount");
    get(device_name, "cuDeviceGetName");
    get(device_uuid, "cuDeviceGetUuid_v2");
    get(total_mem, "cuDeviceTotalMem_v2");
    get(pci_bus_id, "cuDeviceGetPCIBusId");
    get(primary_retain, "cuDevicePrimaryCtxRetain");
    get(primary_release, "cuDevicePrimaryCtxRelease_v2");
    get(set_current, "cuCtxSetCurrent");
    get(mem_alloc, "cuMemAlloc_v2");
    get(mem_free, "cuMemFree_v2");
    get(mem_get_info, "cuMemGetInfo_v2");
    return ok;
  }
};

}  // namespace nt

#define NT_CHECK(cond) ::nt::check(__FILE__, __LINE__, #cond, static_cast<bool>(cond), "")
#define NT_CHECK_EQ(a, b)                                                                              \
  do {                                                                                                 \
    auto nt_a_ = (a);                                                                                  \
    auto nt_b_ = (b);                                                                                  \
    ::nt::check(__FILE__, __LINE__, #a " == " #b, nt_a_ == nt_b_,                                      \
                ::nt::text(nt_a_) + " vs " + ::nt::text(nt_b_));                                       \
  } while (0)
#define NT_CHECK_NVML(call, expected)                                                                  \
  do {                                                                                                 \
    nvmlReturn_t nt_r_ = (call);                                                                       \
    ::nt::check(__FILE__, __LINE__, #call " == " #expected, nt_r_ == (expected),                       \
                "got " + std::to_string(static_cast<int>(nt_r_)) + " (expected " +                     \
                    std::to_string(static_cast<int>(expected)) + ")");                                 \
  } while (0)
