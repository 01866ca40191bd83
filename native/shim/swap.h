// swap.h — swappable device memory on oversubscribed devices (issue 6 item 3;
// node_table.h "Time slices": evict, GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED;
// control_region.h "Gates": evicted_seq, resident_bytes, swapped_*_bytes).
//
// Contract
//   While slices[p].flags has GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED, the job's
//   cuMemAlloc_v2 and cuMemAllocPitch_v2 on (job device d -> physical p) are
//   backed with the VMM API instead of the driver's cuMemAlloc: an address
//   reservation of the size rounded up to the allocation granularity, physical
//   memory of that size (cuMemCreate), mapped there with read/write access for
//   the device. The pointer handed out is the reservation's start, so it stays
//   the same for the allocation's life while the physical memory under it
//   comes and goes. Each allocation is rounded up on its own, no slabs: a slab
//   shared by several allocations could be swapped back only whole, and the
//   frameworks that allocate many small buffers (PyTorch, JAX, TensorFlow)
//   already carve them from large blocks of their own (PyTorch: 2 MiB and
//   >= 20 MiB), so rounding wastes little where it matters. The waste is up
//   to one granularity (2 MiB here) per allocation.
//   The quota charges the bytes asked for (hooks_memory.cc), as before; the
//   gate row's resident_bytes counts the physical (rounded) bytes of this
//   process's swappable memory that is resident.
//
//   Not swappable (allocated as before): the legacy 32-bit cuMemAlloc and
//   cuMemAllocPitch (a VMM address does not fit 32 bits), managed memory (the
//   driver pages it itself), host memory, stream-ordered pool memory
//   (cuMemAllocAsync: the pool owns its physical memory), the job's own VMM
//   allocations (cuMemCreate: the job owns the handles and mappings), arrays
//   (opaque layouts, no VMM form), and memory allocated while the device was
//   not oversubscribed. Memory shared with cuIpcGetMemHandle must be a
//   cuMemAlloc allocation, so IPC export of a swappable pointer fails; a job
//   that needs IPC must not run on an oversubscribed device.
//
//   Eviction: the gate thread (gate_thread.cc) calls swap_poll_evictions()
//   every poll, and every 1 ms while idle and some device is oversubscribed.
//   When slices[p].evict names this job with a sequence newer than this
//   process's evicted_seq on p, it waits until no thread of this process is
//   inside a submission or allocation on p (swap_enter/swap_leave) and its
//   in_flight on p is 0, copies each resident swappable allocation of p to
//   host memory, unmaps and releases its physical memory (the reservation
//   stays), lowers resident_bytes, adds the copied bytes to swapped_out_bytes,
//   then stores evicted_seq. A process without such memory just stores it.
//
//   Swap-in: swap_enter(), called by the gate for every operation about to
//   run on p and by a swappable allocation, brings p's memory back first:
//   new physical memory mapped at the same addresses, the bytes copied back,
//   swapped_in_bytes and resident_bytes raised. The gate calls it after
//   admission, so it happens under this job's slice (or with the gate open);
//   an allocation waits for the slice first (gate_hold()).
//
// Threading
//   One process-wide mutex guards the records and each device's state; it is
//   held for map operations only, never across a driver call (LESSONS #5).
//   A device's memory is moved by one thread at a time (the device state says
//   who: the gate thread evicting, or one application thread swapping in);
//   frees and context teardown of that device wait until it is done. An
//   application thread inside swap_enter/swap_leave is counted (a Dekker pair
//   with the evicting thread's state store), so eviction never runs under a
//   submission, and a submission never runs under eviction.
#pragma once

#include <cuda.h>

#include <cstdint>

struct gpupool_region_gate;

namespace gpupool::shim {

// Whether a new cuMemAlloc_v2/cuMemAllocPitch_v2 on job device `device` is to
// be swappable; *physical is its physical ordinal then.
bool swap_backs(int device, int* physical);

// A swappable allocation of `bytes` (> 0) on job device `device` in the
// current context; the driver's result (OUT_OF_MEMORY when physical memory
// or address space is short). Waits for this job's slice first when memory
// of the device is swapped out.
CUresult swap_alloc(int device, int physical, uint64_t bytes, CUdeviceptr* out);

// Frees `ptr` if it is a swappable allocation's start: true, *result the
// outcome. False: not one of them, the caller frees it as usual.
bool swap_free(CUdeviceptr ptr, CUresult* result);

// After a context is gone: its swappable allocations go with it, as the
// driver's own allocations do.
void swap_context_gone(CUcontext ctx);

// ---- the gate ---------------------------------------------------------------------
enum class SwapEntry {
  kUntracked,   // no swappable memory was ever made on the device: run, no swap_leave
  kEntered,     // resident, the caller is counted: run, then swap_leave()
  kSwappedOut,  // memory is out and !may_swap_in: get the slice, retry with it
  kEvicting,    // being evicted: give up any in_flight count, swap_await_eviction(), retry
  kFailed,      // swap-in failed (*error): the operation fails with it
};
// Before an operation (or allocation) runs on `physical`: brings swapped
// memory back when `may_swap_in` (the caller holds the slice, or the gate is
// open), copying in `ctx` (pushed around the copies when `push`).
SwapEntry swap_enter(int physical, CUcontext ctx, bool push, bool may_swap_in, CUresult* error);
void swap_leave(int physical);
void swap_await_eviction(int physical);

// A process that joined the job's region (charged memory, or asked about it:
// it has a slot the agent waits for) answers eviction requests from now on:
// starts the gate thread where the gate is active. Call after cuInit.
void swap_answer_requests();

// ---- the gate thread ----------------------------------------------------------------
// Serves eviction requests addressed to this job (see Contract).
void swap_poll_evictions();
// Whether some device of the table is oversubscribed (the idle gate thread
// then keeps polling).
bool swap_watching();

// ---- pointer queries (hooks_pointer.cc) -------------------------------------------------
struct SwapRange {
  CUdeviceptr base = 0;
  uint64_t bytes = 0;  // as asked for (pitch * height for a pitched one)
  int device = -1;     // job ordinal
  CUcontext ctx = nullptr;
  bool resident = false;
};
// The swappable allocation holding `p`, if any.
bool swap_find(CUdeviceptr p, SwapRange* out);

}  // namespace gpupool::shim
