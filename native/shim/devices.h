// devices.h — the devices a job may see (GPUPOOL_VISIBLE_DEVICES).
//
// Contract
//   GPUPOOL_VISIBLE_DEVICES=2,3 (parsed by shim_config.cc) shows the job only
//   physical devices 2 and 3, renumbered 0 and 1. The shim does not renumber
//   devices itself: it hands the list to the driver's own mechanism,
//   CUDA_VISIBLE_DEVICES, before the driver initialises. So every driver call,
//   hooked or not, and every child process sees the same devices, and device
//   ordinals in the shim (quota devices) are the driver's ordinals.
//
//   A CUDA_VISIBLE_DEVICES the job sets itself is read inside the job's view:
//   it indexes the GPUPOOL_VISIBLE_DEVICES list (2,3 with CUDA_VISIBLE_DEVICES=1
//   -> physical 3), with the driver's rule that the list ends at the first
//   entry that is not a valid, unrepeated index. The job cannot widen its view.
//   Device UUIDs (GPU-..., MIG-...) cannot be checked against the job's
//   devices before the driver starts, so they are refused.
//
//   The value the shim writes is also exported as
//   GPUPOOL_APPLIED_CUDA_VISIBLE_DEVICES, so a child process under the shim
//   does not translate it a second time; a CUDA_VISIBLE_DEVICES changed since
//   (torchrun, a Python os.environ assignment before importing torch) is
//   translated again — in the library constructor of a child, and by every
//   cuInit of this process.
//
// Failure (fail closed)
//   An invalid GPUPOOL_VISIBLE_DEVICES, or a CUDA_VISIBLE_DEVICES that cannot
//   be read inside it, is reported once on stderr; CUDA_VISIBLE_DEVICES is
//   then set to "" (no device) and cuInit returns CUDA_ERROR_INVALID_VALUE, as
//   the driver does for a configuration it cannot honour.
//
// Threading: devices_apply() runs in the constructor; devices_before_init() is
// thread-safe (serialised on its own mutex; getenv/setenv of other threads
// are the program's business, as for any setenv).
#pragma once

#include <cuda.h>

#include <string>

namespace gpupool::shim {

// Translates GPUPOOL_VISIBLE_DEVICES into CUDA_VISIBLE_DEVICES. Library
// constructor, before any driver initialisation.
void devices_apply();

// Called by the cuInit hook before the real cuInit: re-translates a
// CUDA_VISIBLE_DEVICES changed since; CUDA_ERROR_INVALID_VALUE if the job's
// devices cannot be honoured, else CUDA_SUCCESS.
CUresult devices_before_init();

// Called by the cuInit hook after the real cuInit succeeded: tells the quota's
// agent table (agent_table.h) which physical device each job ordinal is, from
// the CUDA_VISIBLE_DEVICES the driver initialised with. Thread-safe.
void devices_after_init();

// ---- pure helper -------------------------------------------------------------

// The CUDA_VISIBLE_DEVICES value showing `cuda_visible` (nullptr: unset) inside
// the physical list `job` (n entries). False, with *error, when cuda_visible
// holds a device UUID.
bool compose_visible(const int* job, int n, const char* cuda_visible, std::string* out, std::string* error);

}  // namespace gpupool::shim
