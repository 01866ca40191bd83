// job_uuids.h — which of the job's devices an NVML device is.
//
// Contract
//   NVML numbers the physical GPUs and ignores CUDA_VISIBLE_DEVICES, while the
//   quota is per job device (the CUDA ordinal the job sees, quota.h). The only
//   identity both APIs share is the GPU's UUID, so the NVML hooks map a device
//   by its UUID text ("GPU-xxxxxxxx-...", nvmlDeviceGetUUID) to the CUDA
//   ordinal whose cuDeviceGetUuid has the same bytes.
//
//   The first lookup builds the table: it initialises the driver through the
//   shim's own cuInit (so the job's visible devices are applied and recorded
//   exactly as when the job itself calls cuInit: devices.h) — a process such
//   as nvidia-smi never calls cuInit itself, but must still see its quota —
//   and then asks the real driver for every ordinal's UUID. The table is built
//   once per process and never changes (the devices a process sees are fixed
//   by its first cuInit). If the driver cannot be initialised the table is
//   empty and every NVML device passes through unchanged.
//
// Threading: thread-safe. Threads racing on the first lookup each build a
// table without holding any lock across driver calls; the first to finish
// publishes it.
#pragma once

namespace gpupool::shim {

// The job's CUDA ordinal of the GPU with NVML UUID text `uuid`, or -1 (not one
// of the job's devices, a MIG or unknown UUID, or no driver).
int job_device_by_uuid(const char* uuid);

}  // namespace gpupool::shim
