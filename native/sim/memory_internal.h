// memory_internal.h — what the sim's memory files share with each other.
//
// memory.cc, memory_arena.cc, host_memory.cc, vmm.cc, vmm_region.cc, mempool.cc,
// copy.cc, copy2d.cc, memset.cc and pointer.cc all need the same answer: "which allocation holds this address,
// and may the device of this context touch it?". Linear allocations (cuMemAlloc*,
// cuMemAllocManaged, cuMemAllocAsync, cuMemHostAlloc, cuMemHostRegister) live in
// one address-ordered registry in memory.cc; virtual-memory mappings live in
// vmm.cc. find_range() and range_accessible() consult both, so a copy, a memset,
// a launch and a pointer-attribute query can never disagree about a pointer.
//
// Not part of sim.h: nothing outside these files needs it.
#pragma once

#include <memory>

#include "sim.h"

namespace gpupool::sim {

enum class RangeType { kDevice, kManaged, kHostAlloc, kHostRegistered, kVmm };

// A snapshot of one allocation (for kVmm: one mapping, with its reservation).
struct RangeInfo {
  RangeType type = RangeType::kDevice;
  uintptr_t base = 0;
  size_t size = 0;              // as requested
  Context* ctx = nullptr;       // allocating/registering context; null for kVmm
  int device = -1;              // device the memory belongs to (host memory: ctx's)
  unsigned flags = 0;           // host alloc/register flags, managed attach flags
  uint64_t buffer_id = 0;       // CU_POINTER_ATTRIBUTE_BUFFER_ID / MEMORY_BLOCK_ID
  bool sync_memops = false;
  CUmemoryPool pool = nullptr;  // stream-ordered allocations only
  // kVmm only.
  uintptr_t reserve_base = 0;
  size_t reserve_size = 0;
  CUmemGenericAllocationHandle handle = 0;
  unsigned long long handle_types = 0;
  unsigned access = 0;          // CUmemAccess_flags of the device asked about
};

constexpr size_t kVmmGranularity = 2ull << 20;
constexpr size_t kLinearAlign = 512;  // size rounding and alignment of linear allocations

inline size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
// Rounded allocation size, or 0 when rounding overflows.
inline size_t rounded_size(size_t bytes) {
  return bytes > SIZE_MAX - kLinearAlign ? 0 : round_up(bytes, kLinearAlign);
}
size_t host_page_size();

// ---- linear registry (memory_arena.cc) ---------------------------------------
// Allocates `bytes` from `dev`'s arena, charged to its capacity, and registers
// it (type kDevice or kManaged). OUT_OF_MEMORY when full: nothing allocated.
CUresult linear_alloc(Context* ctx, Device* dev, size_t bytes, RangeType type, unsigned flags,
                      CUmemoryPool pool, CUdeviceptr* out);
// Adds a host range (kHostAlloc / kHostRegistered); false when it overlaps a
// known range (then *hit describes that range) — nothing added.
bool linear_insert(const RangeInfo& info, RangeInfo* hit);
// Removes the range based exactly at `base` if its type is one of `types`
// (bit mask of 1u << RangeType); the memory itself is untouched.
bool linear_detach(uintptr_t base, unsigned types, RangeInfo* out);
// Gives a detached kDevice/kManaged range back to its arena and capacity, or
// unmaps a detached kHostAlloc range. Never blocks on device work.
void linear_release(const RangeInfo& info);
bool linear_find(uintptr_t p, RangeInfo* out);
bool linear_set_sync_memops(uintptr_t p, bool value);
// Every range allocated or registered by `ctx` (for its teardown).
std::vector<RangeInfo> linear_owned_by(Context* ctx);
inline unsigned type_bit(RangeType t) { return 1u << static_cast<unsigned>(t); }

// A buffer id for a new allocation, unique for the life of the process.
uint64_t next_buffer_id();

// ---- virtual memory management (vmm.cc) ------------------------------------
// The mapping holding `p`, with `access` for `device`. Reserved but unmapped
// addresses are not found: the driver does not know them either.
bool vmm_find(uintptr_t p, int device, RangeInfo* out);
// [p, p+n) lies in contiguous mappings `device` may read (and write); with
// device < 0 only the mappings are checked, not the access.
bool vmm_accessible(int device, uintptr_t p, size_t n, bool write);

// ---- VMM address space (vmm_region.cc) -------------------------------------
// A free range of `span` bytes aligned to `align` (at `hint` when that is free
// and aligned); 0 when the region is exhausted or cannot be reserved.
uintptr_t vmm_region_take(size_t span, size_t align, uintptr_t hint);
void vmm_region_give(uintptr_t start, size_t span);
// `p` lies in the region the sim reserves VMM address ranges from.
bool vmm_region_contains(uintptr_t p);

// ---- stream-ordered pools (mempool.cc) -------------------------------------
// Accounts `delta` bytes allocated from (positive) or returned to `pool`.
void pool_account(CUmemoryPool pool, long long delta);

// `p` lies in memory the sim manages (a device arena or the VMM region), so it
// must not be touched unless it is inside a live allocation.
bool in_sim_address_space(uintptr_t p);

// ---- shared queries (memory.cc) --------------------------------------------
// Linear range first, then VMM mapping or reservation.
bool find_range(uintptr_t p, int device, RangeInfo* out);
// [p, p+n) lies inside one allocation (or contiguous VMM mappings) the device of
// `ctx` may read, or read and write when `write`. n == 0: p inside one.
bool range_accessible(Context* ctx, uintptr_t p, size_t n, bool write);
// Waits for all device work queued so far on every device.
void wait_all_devices();

// How a host-side pointer of a copy is reached.
enum class HostSide {
  kPageable,    // ordinary host memory: staged / waited for like the driver does
  kAccessible,  // pinned or device-accessible: truly asynchronous
  kInvalid,     // null, or sim-managed address space outside a live allocation
};
HostSide classify_host(Context* ctx, uintptr_t p, size_t n, bool write);

// ---- copies (copy.cc) ------------------------------------------------------
// `rows` rows of `width` bytes, row i from src + i*src_pitch to dst + i*dst_pitch.
// Both sides already validated; the *_pageable flags say which side is
// ordinary host memory.
struct CopyPlan {
  uintptr_t dst = 0, src = 0;
  size_t width = 0, rows = 1, dst_pitch = 0, src_pitch = 0;
  bool dst_pageable = false, src_pageable = false;
};
// Queues the copy on `stream` with the driver's synchronisation rules: a
// synchronous copy returns when it is done; an asynchronous one snapshots a
// pageable source at call time and waits for a pageable destination; between
// pinned/device memory it returns at once.
// Synchronous copies are "potentially unsafe" during stream capture
// (capture_check_unsafe); a captured asynchronous copy becomes a memcpy node.
CUresult enqueue_copy(Stream* stream, const CopyPlan& plan, bool async);
// The device work of a validated plan; `keep_alive` holds a staging buffer.
std::function<CUresult()> copy_work(const CopyPlan& plan, std::shared_ptr<char[]> keep_alive = nullptr);
// A buffer of at least `bytes` to stage a pageable source in (staging.cc); null when out of memory.
std::shared_ptr<char[]> staging_buffer(size_t bytes);

// ---- pitched copies (copy2d.cc) --------------------------------------------
// One side of a CUDA_MEMCPY2D/3D: memory type, base, (x, y) origin, pitch.
struct CopySide {
  CUmemorytype type;
  uintptr_t base;
  size_t x, y, pitch;
};
// Validates one side of a `width` x `height` copy (arrays: NOT_SUPPORTED;
// anything outside an allocation: INVALID_VALUE); returns its first byte in
// *start and whether it is pageable host memory.
CUresult check_copy_side(Context* ctx, const CopySide& side, size_t width, size_t height, bool write,
                         uintptr_t* start, bool* pageable);

}  // namespace gpupool::sim
