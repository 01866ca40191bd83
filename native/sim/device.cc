// device.cc — cuInit, driver version, and the simulated devices themselves.
//
// Devices are created by the first successful cuInit from the configuration
// (config.cc: GPUPOOL_SIM_DEVICES, narrowed and renumbered by
// CUDA_VISIBLE_DEVICES as the driver does) and live for the rest of the
// process. A device keeps its physical index for what identifies the hardware
// (UUID, PCI bus id), so ordinal 0 under CUDA_VISIBLE_DEVICES=1 is the same
// "GPU" as ordinal 1 without it. A child created by fork()
// sees the driver as uninitialised (CUDA_ERROR_NOT_INITIALIZED), as with the
// real driver, whose state does not survive fork.
#include <pthread.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "sim.h"

namespace gpupool::sim {
namespace {

std::mutex g_init_mutex;
std::atomic<bool> g_initialized{false};
std::atomic<bool> g_forked_child{false};
std::vector<Device*> g_devices;  // written once under g_init_mutex, then read-only

void mark_forked_child() { g_forked_child.store(true); }

Context* make_primary(Device* d) {
  auto* ctx = new Context;
  ctx->device = d;
  ctx->primary = true;
  ctx->active.store(false);  // inactive until the first cuDevicePrimaryCtxRetain
  g_contexts.add(ctx);
  return ctx;
}

}  // namespace

bool Device::reserve(uint64_t bytes) {
  uint64_t used = used_bytes.load();
  do {
    if (bytes > total_bytes || used > total_bytes - bytes) return false;
  } while (!used_bytes.compare_exchange_weak(used, used + bytes));
  return true;
}

void Device::release(uint64_t bytes) { used_bytes.fetch_sub(bytes); }

int device_count() {
  return g_initialized.load(std::memory_order_acquire) ? static_cast<int>(g_devices.size()) : 0;
}

Device* device(int ordinal) {
  if (!g_initialized.load(std::memory_order_acquire) || g_forked_child.load()) return nullptr;
  if (ordinal < 0 || ordinal >= static_cast<int>(g_devices.size())) return nullptr;
  return g_devices[ordinal];
}

CUresult require_init() {
  if (g_forked_child.load(std::memory_order_relaxed)) return CUDA_ERROR_NOT_INITIALIZED;
  return g_initialized.load(std::memory_order_acquire) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

SIM_API CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (g_forked_child.load()) return CUDA_ERROR_NOT_INITIALIZED;
  if (g_initialized.load(std::memory_order_acquire)) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (g_initialized.load()) return CUDA_SUCCESS;
  const Config& c = config();
  if (!c.error.empty()) {
    report(c.error);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (c.visible.empty()) return CUDA_ERROR_NO_DEVICE;
  for (int i = 0; i < static_cast<int>(c.visible.size()); ++i) {
    auto* d = new Device;
    d->ordinal = i;
    d->physical = c.visible[i];
    d->name = c.name;
    d->total_bytes = c.memory_bytes;
    d->executor = new DeviceExecutor(i);
    d->primary = make_primary(d);
    g_devices.push_back(d);
  }
  pthread_atfork(nullptr, nullptr, mark_forked_child);
  g_initialized.store(true, std::memory_order_release);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetCount(int* count) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = device_count();
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGet(CUdevice* out, int ordinal) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(ordinal) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *out = ordinal;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(name, static_cast<size_t>(len), "%s", d->name.c_str());
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  device_uuid(d->name, d->physical, reinterpret_cast<unsigned char*>(uuid->bytes));
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) { return cuDeviceGetUuid_v2(uuid, dev); }

SIM_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = d->total_bytes;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *major = 9;
  *minor = 0;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (pciBusId == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(pciBusId, static_cast<size_t>(len), "%04X:%02X:00.0", 0u, pci_bus(d->physical));
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetByPCIBusId(CUdevice* dev, const char* pciBusId) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (dev == nullptr || pciBusId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  unsigned domain = 0, bus = 0, slot = 0, func = 0;
  // Accepts [domain]:[bus]:[device].[function] and [bus]:[device].[function], in hex.
  if (std::sscanf(pciBusId, "%x:%x:%x.%x", &domain, &bus, &slot, &func) != 4) {
    domain = 0;
    if (std::sscanf(pciBusId, "%x:%x.%x", &bus, &slot, &func) != 3) return CUDA_ERROR_INVALID_VALUE;
  }
  if (domain != 0 || slot != 0 || func != 0) return CUDA_ERROR_INVALID_DEVICE;
  for (int ordinal = 0; ordinal < device_count(); ++ordinal) {
    if (pci_bus(device(ordinal)->physical) == static_cast<int>(bus)) {
      *dev = ordinal;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_DEVICE;
}

SIM_API CUresult cuDeviceCanAccessPeer(int* canAccessPeer, CUdevice dev, CUdevice peerDev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (canAccessPeer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr || device(peerDev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *canAccessPeer = 0;  // the sim models devices without peer links
  return CUDA_SUCCESS;
}

SIM_API CUresult cuDeviceGetProperties(CUdevprop* prop, CUdevice dev) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *prop = CUdevprop{};
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->totalConstantMemory = 64 * 1024;
  prop->SIMDWidth = 32;
  prop->memPitch = 2147483647;
  prop->regsPerBlock = 65536;
  prop->clockRate = 1980000;
  prop->textureAlign = 512;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::sim
