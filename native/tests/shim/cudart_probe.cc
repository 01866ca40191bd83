// cudart_probe.cc -> libcudart_gpupool_probe.so: stands in for cudart.
//
// cudart (and with it PyTorch, JAX, TensorFlow) opens the driver itself and
// looks up cuGetProcAddress_v2 with dlsym on the driver's handle. The library's
// file name starts with "libcudart", which also starts with "libcuda": on an
// H100 the shim once took such a caller for the driver and answered it with
// the real entry points, so PyTorch saw the whole GPU under a 4 GiB quota.
// This library makes that caller reproducible without cudart.
#include <dlfcn.h>

extern "C" __attribute__((visibility("default"))) void* gpupool_probe_driver_symbol(const char* name) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) return nullptr;
  void* entry = dlsym(driver, name);
  // Not a tail call: dlsym's return address must lie in this library, as in
  // cudart, not in the program that called us.
  asm volatile("" : "+r"(entry));
  return entry;
}
