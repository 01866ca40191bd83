// agent_table.h — the node agent's table (gpupool/node_table.h), as a job reads it.
//
// Contract
//   A job started by the agent (`gpupool run`) finds GPUPOOL_AGENT_TABLE (the
//   table file), GPUPOOL_AGENT_ENTRY (its index in jobs[]) and GPUPOOL_JOB (its
//   key) in its environment (parsed by shim_config.cc). Its memory limits then
//   come from jobs[entry].limit_bytes[], not from GPUPOOL_MEMORY_LIMIT*: the
//   quota engine (quota.cc) asks agent_table_limit() at every charge, so the
//   agent may change a limit while the job runs. Usage is still accounted in
//   the job's own region (region.h); the table holds grants only.
//
//   agent_table_attach() opens the file O_RDONLY|O_NOFOLLOW and maps it
//   PROT_READ, MAP_SHARED: nothing in the job can write it through the shim's
//   mapping. It accepts the table only as node_table.h says a reader must
//   (regular file of exactly sizeof(gpupool_node_table) bytes; magic,
//   layout_version, header_size, table_size, max_devices, max_jobs as this
//   build's header; owner_uid == the file's owner) and, in addition, only if
//   group and others cannot write it. It accepts the entry only while its state
//   is RUNNING, its key is GPUPOOL_JOB and its uid is this process's effective
//   uid, and remembers the entry's generation.
//
//   From then on the entry is the job's while its state is RUNNING, its
//   generation is the one seen at attach and its key is still GPUPOOL_JOB. The
//   first time it is not (the agent released or reused it), the job loses it
//   for good: agent_table_limit() returns false from then on (the quota engine
//   refuses every new charge; frees still work), and one warning is written on
//   stderr whatever GPUPOOL_LOG says, because allocations start failing.
//
// Devices
//   limit_bytes[] is indexed by physical ordinal (the node's driver ordinals,
//   as GPUPOOL_VISIBLE_DEVICES numbers devices); the quota engine by the job's
//   ordinal (the driver's, inside CUDA_VISIBLE_DEVICES). Job device d is
//   physical device physical_ordinals(CUDA_VISIBLE_DEVICES)[d], for the value
//   the driver initialised with (devices.cc, which writes CUDA_VISIBLE_DEVICES
//   from GPUPOOL_VISIBLE_DEVICES, reports it after the first successful
//   cuInit); until then, for the value at attach. A job device whose physical
//   ordinal is unknown (named by UUID) or has no limit slot (>= 16) gets 0.
//
// Threading / ownership
//   agent_table_attach() runs once per process image, under quota.cc's mutex.
//   agent_table_limit() and agent_table_attached() are lock-free from any
//   thread: atomic loads and a key compare, no allocation, no syscall (but the
//   one warning). The mapping is never unmapped (hooks may still run during
//   exit) and is inherited across fork; the file descriptor is closed at once.
//
// Failure
//   agent_table_attach() returns false with *why naming the field or check that
//   failed, in one phrase without the path; the caller refuses the quota (fails
//   closed, quota.h Failure) and prints it once.
#pragma once

#include <cstdint>
#include <string>

#include "gpupool/node_table.h"
#include "quota.h"

namespace gpupool::shim {

// Maps the table at `path` and checks it and jobs[entry] for the job `job`
// (see Contract). True: this process is attached (also on a second call).
bool agent_table_attach(const char* path, int entry, const char* job, std::string* why);

// Whether agent_table_attach() succeeded in this process image.
bool agent_table_attached();

// The table's limit on job device `device` (0..kMaxDevices-1), read now.
// False when not attached or the entry is no longer the job's (see Contract).
bool agent_table_limit(int device, uint64_t* limit);

// The CUDA_VISIBLE_DEVICES (nullptr: unset) the driver initialised with. The
// first call wins: the driver reads it once.
void agent_table_note_visible(const char* cuda_visible);

// ---- time slices (gate.h) ----------------------------------------------------------
// All lock-free and without system calls unless noted; false/-1/nullptr when
// not attached.

// jobs[] index of this job's entry; -1 when not attached. The slice holder
// that lets this job submit is entry + 1.
int agent_table_entry();

// Whether the entry is still this job's: RUNNING with the generation seen at
// attach (two atomic loads; no warning, unlike agent_table_limit()).
bool agent_table_entry_ours();

// slices[physical] of the table, read-only; nullptr when not attached or
// physical is outside 0..GPUPOOL_NODE_MAX_DEVICES-1.
const gpupool_node_slice* agent_table_slice(int physical);

// The physical ordinal of job device `device` (see Devices); -1 if unknown.
int agent_table_physical(int device);

// Whether the agent that last opened the table (header agent_pid and
// agent_start_time) is alive. Reads /proc: system calls, slow paths only.
bool agent_table_agent_alive();

// ---- pure helper ----------------------------------------------------------------

// physical[d] := the physical ordinal of job device d under CUDA_VISIBLE_DEVICES
// `cuda_visible` (nullptr: unset, all devices in order), for d < kMaxDevices;
// -1 where unknown. The driver's rule: the list ends at the first entry that is
// not a non-negative number or repeats one; a UUID shows a device whose ordinal
// is unknown here, and so does every entry after it.
void physical_ordinals(const char* cuda_visible, int* physical);

}  // namespace gpupool::shim
