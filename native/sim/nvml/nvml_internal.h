// nvml_internal.h — the simulated NVML's state, shared by its entry points.
//
// Contract
//   libnvidia-ml.so.1 built from here is the NVML of the simulated driver: it
//   reports the same devices as the sim's libcuda.so.1 (GPUPOOL_SIM_DEVICES,
//   GPUPOOL_SIM_NAME, GPUPOOL_SIM_MEMORY, read by the sim's own config.cc) with
//   the same UUIDs and PCI bus ids (device_identity.cc). As real NVML, it
//   numbers the physical devices and ignores CUDA_VISIBLE_DEVICES.
//
//   One process's view: a real NVML counts the memory and processes of every
//   process on the GPU; the simulated GPU exists only inside each process, so
//   "used" is what this process has allocated through the sim's libcuda.so.1
//   (nvml_bridge.cc) and the process list holds at most this process.
//
// Lifetime and threading
//   nvmlInit* / nvmlShutdown are reference counted (g_init_count). Devices are
//   created by the first successful init and never freed, so a handle kept
//   past nvmlShutdown is still memory-safe (calls then return
//   NVML_ERROR_UNINITIALIZED). Every entry point is thread-safe.
#pragma once

#include <gpupool/nvml_abi.h>

#include <cstdint>
#include <string>

struct nvmlDevice_st {
  unsigned index = 0;           // NVML index == the sim's physical index
  std::string name;
  unsigned char uuid[16] = {};  // cuDeviceGetUuid's bytes
  std::string uuid_text;        // "GPU-..."
  uint64_t total_bytes = 0;
};

#define NVML_SIM_API extern "C" __attribute__((visibility("default")))

namespace gpupool::sim_nvml {

// NVML_ERROR_UNINITIALIZED unless an nvmlInit* is outstanding.
nvmlReturn_t require_init();

// Number of devices (valid after a successful init).
unsigned device_count();
// Device by NVML index; nullptr when out of range.
nvmlDevice_st* device_at(unsigned index);

// Checks init and that `handle` is one of ours: NVML_SUCCESS and *out, or
// NVML_ERROR_UNINITIALIZED / NVML_ERROR_INVALID_ARGUMENT.
nvmlReturn_t checked(nvmlDevice_t handle, nvmlDevice_st** out);

// This process's usage of `device` as the sim's driver knows it: bytes
// allocated and active contexts; both 0 when the driver is not loaded or not
// initialised (nvml_bridge.cc).
void device_usage(const nvmlDevice_st* device, uint64_t* used, int* contexts);

// Copies `text` with its terminator into buf[length]; INSUFFICIENT_SIZE when it
// does not fit, INVALID_ARGUMENT for a null buffer.
nvmlReturn_t copy_text(const std::string& text, char* buf, unsigned length);

}  // namespace gpupool::sim_nvml
