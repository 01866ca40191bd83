// allocations.h — what this process has charged to the quota, by allocation.
//
// Contract
//   Each successful allocation hook records its result (a device pointer, a
//   VMM handle, an array) with the device and the bytes it charged; the
//   matching free takes the record back and uncharges exactly that. A free of
//   something never recorded (allocated before the shim could see it, or
//   memory the shim does not charge) passes through uncharged.
//
//   Frees take the record out *before* calling the driver, and put it back if
//   the driver refuses: the moment the driver frees, it may hand the same
//   pointer or handle to another thread's allocation, whose record must not
//   collide with a stale one. An allocation whose key is still recorded (the
//   driver reused it after a free the shim never saw, e.g. a context
//   destroyed with memory in it) replaces the stale record, and the caller
//   uncharges what the stale one held.
//
//   VMM handles count references: cuMemCreate, cuMemRetainAllocationHandle
//   and every cuMemMap of the handle take one; cuMemRelease and the cuMemUnmap
//   of a mapping drop one. The memory lives until both its handle is released
//   and it is unmapped, as the driver documents, and the charge goes with the
//   last reference.
//
//   Memory made in a context (linear, managed, stream-ordered, arrays) is
//   released by the driver when that context is destroyed (cuCtxDestroy, a
//   primary context's reset or last release), without a free the shim could
//   see: allocations_take_context() hands those records back for uncharging.
//
//   Pools created with cuMemPoolCreate are remembered with their device (-1:
//   not device memory), so stream-ordered allocations from them are charged
//   to the right device.
//
// Threading
//   One mutex around a hash map, held only for the map operation itself —
//   never across a driver or quota call (LESSONS #5). pthread_atfork handlers
//   hold it over fork(), so a child never inherits it locked.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <vector>

namespace gpupool::shim {

enum class Resource : uint8_t { kDevicePointer, kVmmHandle, kArray, kMipmappedArray };

struct Allocation {
  int device = -1;
  uint64_t bytes = 0;
  int refs = 1;
  uint64_t context = 0;  // the CUcontext it lives and dies with; 0: none (VMM)
};

// Registers the fork handlers. Idempotent; called by the library constructor.
void allocations_init();

// Records a new allocation. If `key` was still recorded, the stale record is
// replaced and returned in *stale (true returned): uncharge it.
bool allocation_add(Resource kind, uint64_t key, int device, uint64_t bytes, uint64_t context,
                    Allocation* stale);

// Removes and returns the record of `key`; false if there is none.
bool allocation_take(Resource kind, uint64_t key, Allocation* out);

// Puts back a record taken by allocation_take (the driver refused the free).
void allocation_restore(Resource kind, uint64_t key, const Allocation& a);

// One more reference to a recorded key; false if not recorded.
bool allocation_retain(Resource kind, uint64_t key);

// Drops one reference. *last: it was the last one (the record is then removed
// and returned in *out). False if not recorded.
bool allocation_release(Resource kind, uint64_t key, bool* last, Allocation* out);

// Undoes allocation_release (the driver refused the release).
void allocation_unrelease(Resource kind, uint64_t key, bool was_last, const Allocation& a);

// Removes and returns every record of `context` (0: none).
struct Recorded {
  Resource kind;
  uint64_t key;
  Allocation allocation;
};
std::vector<Recorded> allocations_take_context(uint64_t context);

// Primary context handles seen by cuDevicePrimaryCtxRetain, by device.
void primary_remember(int device, uint64_t context);
// 0 if none was seen for `device`.
uint64_t primary_context(int device);

// VMM mappings of recorded handles, by address.
struct Mapping {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t handle = 0;
};
void mapping_add(const Mapping& m);
// Removes and returns the mappings starting inside [address, address + size).
std::vector<Mapping> mappings_take(uint64_t address, uint64_t size);
void mappings_restore(const std::vector<Mapping>& mappings);

// Pools of cuMemPoolCreate.
void pool_remember(CUmemoryPool pool, int device);
// False if `pool` was not created through the shim (e.g. a device's default pool).
bool pool_device(CUmemoryPool pool, int* device);
void pool_forget(CUmemoryPool pool);

}  // namespace gpupool::shim
