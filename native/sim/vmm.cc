// vmm.cc — the virtual memory management API: address reservations, physical
// allocations, mappings and access rights (cuMemAddressReserve, cuMemCreate,
// cuMemMap, cuMemSetAccess, cuMemUnmap, cuMemRelease, ...).
//
// This is what the project later uses to swap device memory out and back at the
// same virtual address, so the sim implements it with the real mechanism:
//   - address space: reservations are carved from one process-wide PROT_NONE,
//     MAP_NORESERVE region (vmm_region.cc), separate from the device arenas,
//     and cost nothing;
//   - physical memory: one memfd per cuMemCreate, sized but not committed until
//     touched, charged against the device's capacity;
//   - mapping: mmap(MAP_FIXED | MAP_SHARED) of that memfd, PROT_NONE until
//     cuMemSetAccess grants access (mprotect). The same handle mapped at two
//     addresses therefore shows the same bytes, as on a GPU;
//   - unmapping puts an anonymous PROT_NONE mapping back: the range is a bare
//     reservation again.
// A physical allocation lives while its handle is unreleased or it is mapped
// (cuMemRelease of a mapped handle is legal).
//
// A GPU's memory exists whether it is allocated or not, so creating physical
// memory costs the driver no page faults. A fresh memfd costs the host a fault
// and a zeroed page per 4 KiB on first touch, several times the cost of the copy
// that touches it (about 0.7 s per GiB on a small VM), which made swapping on
// the sim (which creates and releases physical memory at every slice) mostly
// page faults. So a freed allocation's memfd is kept as a spare, up to the
// device's capacity, and the next cuMemCreate of the same size on the same
// device takes it, bytes and all: the driver documents no initial contents.
//
// Access is kept per device; the host protection is the union over devices,
// since every simulated device reaches memory through the same host mapping.
// device_accessible()/range_accessible() use the per-device rights, so a kernel
// or copy on a device without access fails cleanly instead of faulting.
//
// These calls need cuInit but no current context, as in the driver. Unmapping
// and lowering access wait for queued device work first (\note_sync).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "memory_internal.h"

namespace gpupool::sim {
namespace {

struct Phys {
  int fd = -1;
  size_t size = 0;
  int device = 0;
  CUmemAllocationProp prop{};
  int handle_refs = 1;  // cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease
  int map_refs = 0;
  uint64_t block_id = 0;
};

struct Mapping {
  size_t size = 0;
  uint64_t handle = 0;
  std::vector<unsigned> access;  // CUmemAccess_flags by device ordinal
};

struct Reservation {
  size_t size = 0;  // a granularity multiple
};

std::mutex g_mutex;  // guards everything below
std::map<uintptr_t, Reservation> g_reservations;
std::map<uintptr_t, Mapping> g_mappings;
std::map<uint64_t, Phys> g_phys;
uint64_t g_next_handle = 1;

struct Spare {
  int fd;
  size_t size;
  int device;
};
std::vector<Spare> g_spares;  // memfds of freed physical allocations (see the file comment)

// A spare memfd of exactly `size` bytes for `device`, or -1.
int take_spare(int device, size_t size) {
  for (auto it = g_spares.begin(); it != g_spares.end(); ++it) {
    if (it->device == device && it->size == size) {
      int fd = it->fd;
      g_spares.erase(it);
      return fd;
    }
  }
  return -1;
}

// Keeps `fd` as a spare while the device's spares stay within its capacity; else closes it.
void keep_spare(int fd, size_t size, int device) {
  uint64_t kept = size;
  for (const Spare& s : g_spares) kept += s.device == device ? s.size : 0;
  Device* d = gpupool::sim::device(device);
  if (d != nullptr && kept <= d->total_bytes) g_spares.push_back({fd, size, device});
  else close(fd);
}

std::map<uintptr_t, Mapping>::iterator mapping_at(uintptr_t p) {
  auto it = g_mappings.upper_bound(p);
  if (it == g_mappings.begin()) return g_mappings.end();
  --it;
  return p - it->first < it->second.size ? it : g_mappings.end();
}

std::map<uintptr_t, Reservation>::iterator reservation_at(uintptr_t p) {
  auto it = g_reservations.upper_bound(p);
  if (it == g_reservations.begin()) return g_reservations.end();
  --it;
  return p - it->first < it->second.size ? it : g_reservations.end();
}

unsigned access_of(const Mapping& m, int dev) {
  return dev >= 0 && static_cast<size_t>(dev) < m.access.size() ? m.access[dev] : 0;
}

// Frees the physical memory once nothing refers to it.
void phys_maybe_free(std::map<uint64_t, Phys>::iterator it) {
  if (it->second.handle_refs > 0 || it->second.map_refs > 0) return;
  keep_spare(it->second.fd, it->second.size, it->second.device);
  if (Device* d = device(it->second.device)) d->release(it->second.size);
  g_phys.erase(it);
}

// Puts a bare reservation back over a mapping and drops its reference.
void unmap_one(std::map<uintptr_t, Mapping>::iterator m) {
  mmap(reinterpret_cast<void*>(m->first), m->second.size, PROT_NONE,
       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  auto p = g_phys.find(m->second.handle);
  g_mappings.erase(m);
  if (p != g_phys.end()) {
    --p->second.map_refs;
    phys_maybe_free(p);
  }
}

// The mappings exactly covering [ptr, ptr+size), whole and contiguous.
bool whole_mappings(uintptr_t ptr, size_t size, std::vector<std::map<uintptr_t, Mapping>::iterator>* out) {
  auto it = g_mappings.find(ptr);
  uintptr_t at = ptr, end = ptr + size;
  if (size == 0 || end < ptr) return false;
  while (it != g_mappings.end() && it->first == at && at < end) {
    out->push_back(it);
    at += it->second.size;
    ++it;
  }
  return at == end;
}

CUresult check_location(const CUmemLocation& loc, int* dev) {
  switch (loc.type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
      if (device(loc.id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
      *dev = loc.id;
      return CUDA_SUCCESS;
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
      return CUDA_ERROR_NOT_SUPPORTED;  // host-resident VMM memory is not simulated
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult check_prop(const CUmemAllocationProp* prop, int* dev) {
  if (prop == nullptr || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_location(prop->location, dev); r != CUDA_SUCCESS) return r;
  unsigned types = static_cast<unsigned>(prop->requestedHandleTypes);
  if ((types & ~0xFu) != 0 || prop->win32HandleMetaData != nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Fabric handles need an IMEX channel, which a simulated machine never has
  // (the driver then says NOT_PERMITTED); Win32 handles do not exist on Linux.
  if (types & CU_MEM_HANDLE_TYPE_FABRIC) return CUDA_ERROR_NOT_PERMITTED;
  if ((types & ~static_cast<unsigned>(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) != 0)
    return CUDA_ERROR_NOT_SUPPORTED;
  if (prop->allocFlags.usage != 0) return CUDA_ERROR_NOT_SUPPORTED;  // tile pools, decompression
  return CUDA_SUCCESS;
}

}  // namespace

bool vmm_find(uintptr_t p, int dev, RangeInfo* out) {
  if (!vmm_region_contains(p)) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  // A reserved but unmapped address is unknown to the driver (every pointer
  // attribute of it is CUDA_ERROR_INVALID_VALUE on a real GPU).
  auto m = mapping_at(p);
  if (m == g_mappings.end()) return false;
  auto res = reservation_at(p);
  RangeInfo info;
  info.type = RangeType::kVmm;
  info.reserve_base = res->first;
  info.reserve_size = res->second.size;
  const Phys& phys = g_phys.at(m->second.handle);
  info.base = m->first;
  info.size = m->second.size;
  info.device = phys.device;
  info.handle = m->second.handle;
  info.buffer_id = phys.block_id;
  info.handle_types = static_cast<unsigned long long>(phys.prop.requestedHandleTypes);
  info.access = access_of(m->second, dev);
  *out = info;
  return true;
}

bool vmm_accessible(int dev, uintptr_t p, size_t n, bool write) {
  if (!vmm_region_contains(p) || p + n < p) return false;
  const unsigned need = write ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_READ;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto m = mapping_at(p);
  for (;;) {
    if (m == g_mappings.end()) return false;
    if (dev >= 0 && (access_of(m->second, dev) & need) != need) return false;
    uintptr_t end = m->first + m->second.size;
    if (p + n <= end) return true;
    auto next = std::next(m);
    if (next == g_mappings.end() || next->first != end) return false;
    m = next;
  }
}

}  // namespace gpupool::sim

// ---- entry points -------------------------------------------------------------

using namespace gpupool::sim;

SIM_API CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                               CUmemAllocationGranularity_flags option) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
    return CUDA_ERROR_INVALID_VALUE;
  // The driver answers without validating the rest of `prop` (an unknown
  // device or allocation type still gets an answer on an H100); cuMemCreate
  // is where a bad property is refused.
  *granularity = kVmmGranularity;  // minimum and recommended, as on current GPUs
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                     unsigned long long flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  // The reference asks for multiples of the host page size; the driver in fact
  // refuses sizes that are not multiples of the granularity (observed on an H100).
  if (ptr == nullptr || size == 0 || size % kVmmGranularity != 0 || flags != 0 ||
      addr % host_page_size() != 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (alignment & (alignment - 1)) return CUDA_ERROR_INVALID_VALUE;  // power of two, or 0 = default
  size_t align = alignment > kVmmGranularity ? alignment : kVmmGranularity;
  uintptr_t base = vmm_region_take(size, align, static_cast<uintptr_t>(addr));
  if (base == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_reservations.emplace(base, Reservation{size});
  *ptr = static_cast<CUdeviceptr>(base);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto res = g_reservations.find(static_cast<uintptr_t>(ptr));
  if (res == g_reservations.end() || res->second.size != size) return CUDA_ERROR_INVALID_VALUE;
  uintptr_t base = res->first, end = base + res->second.size;
  // A reservation with mappings left in it cannot be freed (observed on an H100).
  auto m = g_mappings.lower_bound(base);
  if (m != g_mappings.end() && m->first < end) return CUDA_ERROR_INVALID_VALUE;
  vmm_region_give(base, res->second.size);
  g_reservations.erase(res);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                             unsigned long long flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  int dev = 0;
  if (CUresult r = check_prop(prop, &dev); r != CUDA_SUCCESS) return r;
  if (size == 0 || size % kVmmGranularity != 0) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (!d->reserve(size)) return CUDA_ERROR_OUT_OF_MEMORY;
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    fd = take_spare(dev, size);
  }
  if (fd < 0) fd = memfd_create("gpupool-sim-vmm", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (fd >= 0) close(fd);
    d->release(size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  Phys phys;
  phys.fd = fd;
  phys.size = size;
  phys.device = dev;
  phys.prop = *prop;
  phys.prop.allocFlags.compressionType = CU_MEM_ALLOCATION_COMP_NONE;  // never compressible here
  phys.prop.allocFlags.gpuDirectRDMACapable = 0;
  phys.block_id = next_buffer_id();
  std::lock_guard<std::mutex> lock(g_mutex);
  uint64_t id = g_next_handle++;
  g_phys.emplace(id, phys);
  *handle = id;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_phys.find(handle);
  if (it == g_phys.end() || it->second.handle_refs <= 0) return CUDA_ERROR_INVALID_VALUE;
  --it->second.handle_refs;
  phys_maybe_free(it);  // stays alive while mapped
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                          unsigned long long flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  uintptr_t p = static_cast<uintptr_t>(ptr);
  if (flags != 0 || size == 0 || p + size < p) return CUDA_ERROR_INVALID_VALUE;
  // The reference says offset "currently must be zero"; like misaligned
  // addresses and sizes, the driver answers NOT_SUPPORTED (observed on an H100).
  if (offset != 0 || p % kVmmGranularity != 0 || size % kVmmGranularity != 0) return CUDA_ERROR_NOT_SUPPORTED;
  std::lock_guard<std::mutex> lock(g_mutex);
  // A released handle whose memory is still mapped elsewhere can still be
  // mapped, as on the driver; one whose memory is gone is invalid.
  auto phys = g_phys.find(handle);
  if (phys == g_phys.end()) return CUDA_ERROR_INVALID_VALUE;
  // The whole allocation is mapped at once: with offset 0, a partial mapping is
  // refused like an oversized one (observed on an H100).
  if (size != phys->second.size) return CUDA_ERROR_NOT_SUPPORTED;
  auto res = reservation_at(p);
  if (res == g_reservations.end() || p + size > res->first + res->second.size) return CUDA_ERROR_INVALID_VALUE;
  // Only unmapped parts of a reservation can be mapped.
  auto next = g_mappings.lower_bound(p);
  if (next != g_mappings.end() && next->first < p + size) return CUDA_ERROR_INVALID_VALUE;
  if (mapping_at(p) != g_mappings.end()) return CUDA_ERROR_INVALID_VALUE;
  void* got = mmap(reinterpret_cast<void*>(p), size, PROT_NONE, MAP_SHARED | MAP_FIXED, phys->second.fd, 0);
  if (got == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  Mapping m;
  m.size = size;
  m.handle = handle;
  m.access.assign(static_cast<size_t>(device_count()), 0);  // no access until cuMemSetAccess
  g_mappings.emplace(p, std::move(m));
  ++phys->second.map_refs;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  wait_all_devices();  // queued work may still use the range
  uintptr_t start = static_cast<uintptr_t>(ptr), end = start + size;
  if (size == 0 || end < start) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mutex);
  // Every mapping the range touches must lie wholly inside it: a sub-range of a
  // mapping cannot be unmapped. Unmapped parts are fine (an H100 returns
  // success for a range with no mapping at all).
  std::vector<std::map<uintptr_t, Mapping>::iterator> inside;
  auto m = mapping_at(start);
  if (m == g_mappings.end()) m = g_mappings.lower_bound(start);
  for (; m != g_mappings.end() && m->first < end; ++m) {
    if (m->first < start || m->first + m->second.size > end) return CUDA_ERROR_INVALID_VALUE;
    inside.push_back(m);
  }
  for (auto it : inside) unmap_one(it);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (desc == nullptr || count == 0 || size == 0) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::pair<int, unsigned>> grants;
  for (size_t i = 0; i < count; ++i) {
    int dev = 0;
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_location(desc[i].location, &dev); r != CUDA_SUCCESS) return r;
    unsigned f = static_cast<unsigned>(desc[i].flags);
    if (f != CU_MEM_ACCESS_FLAGS_PROT_NONE && f != CU_MEM_ACCESS_FLAGS_PROT_READ &&
        f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
      return CUDA_ERROR_INVALID_VALUE;
    grants.emplace_back(dev, f);
  }
  wait_all_devices();  // access may be lowered under queued work
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<std::map<uintptr_t, Mapping>::iterator> covered;
  if (!whole_mappings(static_cast<uintptr_t>(ptr), size, &covered)) return CUDA_ERROR_INVALID_VALUE;
  for (auto m : covered) {
    for (auto [dev, f] : grants) {
      if (static_cast<size_t>(dev) >= m->second.access.size()) m->second.access.resize(dev + 1, 0);
      m->second.access[dev] = f;
    }
    unsigned any = 0;
    for (unsigned f : m->second.access) any |= f;
    int prot = any == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ? PROT_READ | PROT_WRITE
               : any != 0                                ? PROT_READ
                                                         : PROT_NONE;
    if (mprotect(reinterpret_cast<void*>(m->first), m->second.size, prot) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  }
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location, CUdeviceptr ptr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  int dev = 0;
  if (CUresult r = check_location(*location, &dev); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto m = mapping_at(static_cast<uintptr_t>(ptr));
  if (m == g_mappings.end()) return CUDA_ERROR_INVALID_VALUE;
  *flags = access_of(m->second, dev);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                        CUmemGenericAllocationHandle handle) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_phys.find(handle);  // like cuMemMap: valid while the memory lives
  if (it == g_phys.end()) return CUDA_ERROR_INVALID_VALUE;
  *prop = it->second.prop;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto m = mapping_at(reinterpret_cast<uintptr_t>(addr));
  if (m == g_mappings.end()) return CUDA_ERROR_INVALID_VALUE;
  ++g_phys.at(m->second.handle).handle_refs;
  *handle = m->second.handle;
  return CUDA_SUCCESS;
}
