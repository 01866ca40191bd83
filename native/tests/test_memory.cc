// Memory: device allocation and accounting, pitch, page-locked and registered
// host memory, managed memory, address ranges and pointer attributes.
#include <cstdlib>
#include <set>
#include <vector>

#include "driver_test.h"

namespace {

const size_t kMiB = size_t{1} << 20;

void check_alloc_free(CUdevice dev) {
  dt::section("alloc / free / cuMemGetInfo");
  size_t free0 = 0, total = 0, device_total = 0;
  CHECK_CU(cuMemGetInfo(&free0, &total), CUDA_SUCCESS);
  CHECK_CU(cuDeviceTotalMem(&device_total, dev), CUDA_SUCCESS);
  CHECK(total > 0 && total <= device_total);
  CHECK(free0 <= total);
  // Either output may be NULL (observed on an H100 with driver 580).
  CHECK_CU(cuMemGetInfo(nullptr, &total), CUDA_SUCCESS);
  CHECK_CU(cuMemGetInfo(&free0, nullptr), CUDA_SUCCESS);

  const size_t bytes = 64 * kMiB;
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, bytes), CUDA_SUCCESS);
  CHECK(p != 0);
  size_t free1 = 0;
  CHECK_CU(cuMemGetInfo(&free1, &total), CUDA_SUCCESS);
  CHECK_MSG(free0 >= free1 + bytes,
            std::to_string(free0) + " free before, " + std::to_string(free1) + " after");
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  size_t free2 = 0;
  CHECK_CU(cuMemGetInfo(&free2, &total), CUDA_SUCCESS);
  CHECK(free2 >= free1 + bytes);

  // Every allocation is aligned to at least 256 bytes and they do not overlap.
  std::vector<std::pair<CUdeviceptr, size_t>> blocks;
  for (size_t size : {1, 3, 255, 256, 257, 4096, 100000, 1 << 20}) {
    CUdeviceptr q = 0;
    CHECK_CU(cuMemAlloc(&q, size), CUDA_SUCCESS);
    CHECK_MSG(q % 256 == 0, "pointer " + dt::repr(q));
    for (auto& b : blocks) CHECK(q + size <= b.first || b.first + b.second <= q);
    blocks.push_back({q, size});
  }
  for (auto& b : blocks) CHECK_CU(cuMemFree(b.first), CUDA_SUCCESS);

  // "If bytesize is 0, cuMemAlloc() returns CUDA_ERROR_INVALID_VALUE."
  CHECK_CU(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
  // 1 PiB exceeds any device.
  CHECK_CU(cuMemAlloc(&p, size_t{1} << 50), CUDA_ERROR_OUT_OF_MEMORY);
  // Running out of memory is not sticky.
  CHECK_CU(cuMemAlloc(&p, 4096), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void check_bad_frees() {
  dt::section("frees of pointers that are not allocations [destroyed handle: double free]");
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, kMiB), CUDA_SUCCESS);
  // Only the base address returned by the allocator may be freed.
  CHECK_CU(cuMemFree(p + 256), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  // [destroyed handle] the same pointer again.
  if (!dt::skip_destroyed_handles()) CHECK_CU(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
  // The context still works.
  CHECK_CU(cuMemAlloc(&p, kMiB), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void check_address_range() {
  dt::section("cuMemGetAddressRange");
  const size_t bytes = 1000 * 1000;
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, bytes), CUDA_SUCCESS);
  CUdeviceptr base = 0;
  size_t size = 0;
  CHECK_CU(cuMemGetAddressRange(&base, &size, p + 12345), CUDA_SUCCESS);
  CHECK_EQ(base, p);
  CHECK(size >= bytes);
  dt::info("cuMemAlloc(%zu) -> cuMemGetAddressRange size %zu", bytes, size);
  base = 0;
  CHECK_CU(cuMemGetAddressRange(&base, nullptr, p + bytes - 1), CUDA_SUCCESS);
  CHECK_EQ(base, p);
  size = 0;
  CHECK_CU(cuMemGetAddressRange(nullptr, &size, p), CUDA_SUCCESS);
  CHECK(size >= bytes);

  // Memory the driver does not know.
  std::vector<char> host(4096);
  CHECK_CU(cuMemGetAddressRange(&base, &size, reinterpret_cast<CUdeviceptr>(host.data())),
           CUDA_ERROR_NOT_FOUND);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void check_pitch(CUdevice dev) {
  dt::section("cuMemAllocPitch");
  int align = 0;
  CHECK_CU(cuDeviceGetAttribute(&align, CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT, dev),
           CUDA_SUCCESS);
  for (unsigned element : {4u, 8u, 16u}) {
    CUdeviceptr p = 0;
    size_t pitch = 0;
    CHECK_CU(cuMemAllocPitch(&p, &pitch, 1000, 17, element), CUDA_SUCCESS);
    CHECK(pitch >= 1000);
    CHECK_MSG(align > 0 && pitch % static_cast<size_t>(align) == 0, "pitch " + dt::repr(pitch));
    CHECK(p % 256 == 0);
    size_t size = 0;
    CHECK_CU(cuMemGetAddressRange(nullptr, &size, p), CUDA_SUCCESS);
    CHECK(size >= pitch * 16 + 1000);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  CUdeviceptr p = 0;
  size_t pitch = 0;
  // "ElementSizeBytes may be 4, 8 or 16".
  CHECK_CU_MSG(cuMemAllocPitch(&p, &pitch, 1000, 17, 3), CUDA_ERROR_INVALID_VALUE,
               "docs: ElementSizeBytes may be 4, 8 or 16");
}

void check_pointer_attributes(CUcontext ctx, CUdevice dev) {
  dt::section("pointer attributes of device memory");
  CUdeviceptr p = 0, q = 0;
  REQUIRE_CU(cuMemAlloc(&p, kMiB), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&q, kMiB), CUDA_SUCCESS);
  CUdeviceptr inner = p + 4096;

  unsigned type = 0;
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, inner), CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_DEVICE));
  CUcontext owner = nullptr;
  CHECK_CU(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, inner), CUDA_SUCCESS);
  CHECK(owner == ctx);
  int ordinal = -1;
  CHECK_CU(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, inner),
           CUDA_SUCCESS);
  CHECK_EQ(ordinal, static_cast<int>(dev));
  CUdeviceptr dptr = 0;
  CHECK_CU(cuPointerGetAttribute(&dptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, inner), CUDA_SUCCESS);
  CHECK_EQ(dptr, inner);
  unsigned managed = 7;
  CHECK_CU(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, inner), CUDA_SUCCESS);
  CHECK_EQ(managed, 0u);
  CUdeviceptr start = 0;
  CHECK_CU(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, inner),
           CUDA_SUCCESS);
  CHECK_EQ(start, p);
  size_t range = 0;
  CHECK_CU(cuPointerGetAttribute(&range, CU_POINTER_ATTRIBUTE_RANGE_SIZE, inner), CUDA_SUCCESS);
  CHECK(range >= kMiB);
  unsigned long long id_p = 0, id_q = 0;
  CHECK_CU(cuPointerGetAttribute(&id_p, CU_POINTER_ATTRIBUTE_BUFFER_ID, p), CUDA_SUCCESS);
  CHECK_CU(cuPointerGetAttribute(&id_q, CU_POINTER_ATTRIBUTE_BUFFER_ID, q), CUDA_SUCCESS);
  CHECK(id_p != id_q);
  // Device memory has no host address the host program could use.
  void* host = nullptr;
  CHECK_CU(cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, p),
           CUDA_ERROR_INVALID_VALUE);

  // Several at once.
  CUpointer_attribute attrs[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
  unsigned type2 = 0;
  int ordinal2 = -1;
  void* data[] = {&type2, &ordinal2};
  CHECK_CU(cuPointerGetAttributes(2, attrs, data, q), CUDA_SUCCESS);
  CHECK_EQ(type2, static_cast<unsigned>(CU_MEMORYTYPE_DEVICE));
  CHECK_EQ(ordinal2, static_cast<int>(dev));

  dt::section("pointer attributes of memory CUDA does not know");
  std::vector<char> plain(4096);
  CUdeviceptr plain_ptr = reinterpret_cast<CUdeviceptr>(plain.data());
  CHECK_CU_MSG(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, plain_ptr),
               CUDA_ERROR_INVALID_VALUE, "docs: not allocated/mapped/registered by CUDA");
  // "Unlike cuPointerGetAttribute, this function will not return an error when
  // the ptr encountered is not a valid CUDA pointer."
  type2 = 12345;
  CHECK_CU(cuPointerGetAttributes(2, attrs, data, plain_ptr), CUDA_SUCCESS);
  CHECK_EQ(type2, 0u);

  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(q), CUDA_SUCCESS);
}

// CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY of device 0.
bool can_map_host_memory() {
  int can_map = -1;
  CHECK_CU(cuDeviceGetAttribute(&can_map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0), CUDA_SUCCESS);
  CHECK(can_map == 0 || can_map == 1);
  return can_map == 1;
}

void check_host_alloc(CUcontext ctx) {
  dt::section("cuMemAllocHost / cuMemHostAlloc");
  void* h = nullptr;
  REQUIRE_CU(cuMemAllocHost(&h, kMiB), CUDA_SUCCESS);
  REQUIRE(h != nullptr);
  std::memset(h, 0x5a, kMiB);  // host-accessible
  unsigned type = 0;
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 reinterpret_cast<CUdeviceptr>(h)),
           CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_HOST));
  CUcontext owner = nullptr;
  CHECK_CU(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT,
                                 reinterpret_cast<CUdeviceptr>(h)),
           CUDA_SUCCESS);
  CHECK(owner == ctx);
  // Round trip through device memory.
  CUdeviceptr d = 0;
  REQUIRE_CU(cuMemAlloc(&d, kMiB), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(d, h, kMiB), CUDA_SUCCESS);
  std::memset(h, 0, kMiB);
  CHECK_CU(cuMemcpyDtoH(h, d, kMiB), CUDA_SUCCESS);
  CHECK(static_cast<unsigned char*>(h)[kMiB - 1] == 0x5a);
  CHECK_CU(cuMemFreeHost(h), CUDA_SUCCESS);

  void* m = nullptr;
  if (!can_map_host_memory()) {
    // A device that cannot map host memory (a remote one): "The
    // CU_MEMHOSTALLOC_DEVICEMAP flag may be specified on CUDA contexts for
    // devices that do not support mapped pinned memory. The failure is deferred
    // to cuMemHostGetDevicePointer()", which "will fail ... if the function is
    // called on a GPU that does not support mapped pinned memory".
    dt::info("device 0 cannot map host memory: checking the documented failures");
    REQUIRE_CU(cuMemHostAlloc(&m, kMiB, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE),
               CUDA_SUCCESS);
    std::memset(m, 0x33, kMiB);  // host-accessible all the same
    CUdeviceptr md = 0;
    CHECK_CU(cuMemHostGetDevicePointer(&md, m, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyHtoD(d, m, kMiB), CUDA_SUCCESS);  // and usable for copies
    uint32_t word = 0;
    CHECK_CU(cuMemcpyDtoH(&word, d + kMiB - 4, 4), CUDA_SUCCESS);
    CHECK_EQ(word, 0x33333333u);
    CHECK_CU(cuMemFreeHost(m), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
    return;
  }
  // Mapped, portable: with unified addressing the device pointer is the host pointer.
  REQUIRE_CU(cuMemHostAlloc(&m, kMiB, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE),
             CUDA_SUCCESS);
  CUdeviceptr md = 0;
  CHECK_CU(cuMemHostGetDevicePointer(&md, m, 0), CUDA_SUCCESS);
  CHECK_EQ(md, reinterpret_cast<CUdeviceptr>(m));
  // "Flags provides for future releases. For now, it must be set to 0."
  CUdeviceptr ignored = 0;  // the driver may write it even when it fails
  CHECK_CU(cuMemHostGetDevicePointer(&ignored, m, 1), CUDA_ERROR_INVALID_VALUE);
  // The device writes it; the host sees it.
  std::memset(m, 0, kMiB);
  CHECK_CU(cuMemsetD32(md, 0xabcd1234u, 1024), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(static_cast<uint32_t*>(m)[1023], 0xabcd1234u);
  CHECK_EQ(static_cast<uint32_t*>(m)[1024], 0u);
  CHECK_CU(cuMemFreeHost(m), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
}

// Registered memory on a device that cannot map host memory: pinned, copied
// from and to, but without a device address.
void check_host_register_unmappable(void* h, size_t bytes) {
  dt::info("device 0 cannot map host memory: checking registration without a device address");
  REQUIRE_CU(cuMemHostRegister(h, bytes, CU_MEMHOSTREGISTER_PORTABLE), CUDA_SUCCESS);
  CHECK_CU(cuMemHostRegister(h, bytes, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  unsigned type = 0;
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 reinterpret_cast<CUdeviceptr>(h)),
           CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_HOST));
  CUdeviceptr hd = 0;
  CHECK_CU(cuMemHostGetDevicePointer(&hd, h, 0), CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr d = 0;
  REQUIRE_CU(cuMemAlloc(&d, bytes), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(d, h, bytes), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(d, 0x22, bytes / 2), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(h, d, bytes), CUDA_SUCCESS);
  CHECK_EQ(static_cast<unsigned char*>(h)[0], 0x22);
  CHECK_EQ(static_cast<unsigned char*>(h)[bytes - 1], 0x11);
  CHECK_CU(cuMemHostUnregister(h), CUDA_SUCCESS);
  CHECK_CU(cuMemHostUnregister(h), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
}

void check_host_register() {
  dt::section("cuMemHostRegister / Unregister");
  const size_t bytes = 4 * kMiB;
  void* h = std::aligned_alloc(4096, bytes);
  REQUIRE(h != nullptr);
  std::memset(h, 0x11, bytes);
  if (!can_map_host_memory()) {
    check_host_register_unmappable(h, bytes);
    std::free(h);
    return;
  }
  REQUIRE_CU(cuMemHostRegister(h, bytes, CU_MEMHOSTREGISTER_DEVICEMAP), CUDA_SUCCESS);
  CHECK_CU(cuMemHostRegister(h, bytes, CU_MEMHOSTREGISTER_DEVICEMAP),
           CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  unsigned type = 0;
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 reinterpret_cast<CUdeviceptr>(h)),
           CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_HOST));
  // The device pointer may differ from the host pointer (docs); use it as given.
  CUdeviceptr hd = 0;
  CHECK_CU(cuMemHostGetDevicePointer(&hd, h, 0), CUDA_SUCCESS);
  CHECK(hd != 0);
  CUdeviceptr d = 0;
  REQUIRE_CU(cuMemAlloc(&d, bytes), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(d, h, bytes), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(hd, 0x22, bytes), CUDA_SUCCESS);  // the device writes host memory
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(static_cast<unsigned char*>(h)[bytes - 1], 0x22);
  CHECK_CU(cuMemcpyDtoH(h, d, bytes), CUDA_SUCCESS);  // back to what was copied
  CHECK_EQ(static_cast<unsigned char*>(h)[bytes / 2], 0x11);

  CHECK_CU(cuMemHostUnregister(h), CUDA_SUCCESS);
  CHECK_CU(cuMemHostUnregister(h), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  std::vector<char> never(4096);
  CHECK_CU(cuMemHostUnregister(never.data()), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
  std::free(h);
}

void check_managed() {
  dt::section("cuMemAllocManaged");
  const size_t bytes = kMiB;
  CUdeviceptr p = 0;
  int managed_memory = -1;
  CHECK_CU(cuDeviceGetAttribute(&managed_memory, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0), CUDA_SUCCESS);
  if (managed_memory == 0) {
    // A device without managed memory (a remote one): the documented answer.
    dt::info("device 0 has no managed memory: checking CUDA_ERROR_NOT_SUPPORTED");
    CHECK_CU(cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_NOT_SUPPORTED);
    return;
  }
  CHECK_EQ(managed_memory, 1);
  REQUIRE_CU(cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
  uint32_t* host = reinterpret_cast<uint32_t*>(p);
  for (size_t i = 0; i < bytes / 4; ++i) host[i] = 7;
  unsigned managed = 0;
  CHECK_CU(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p), CUDA_SUCCESS);
  CHECK_EQ(managed, 1u);
  CHECK_CU(cuMemsetD32(p + 4096, 9, 1024), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(host[1023], 7u);
  CHECK_EQ(host[1024], 9u);
  CHECK_EQ(host[2047], 9u);
  CHECK_EQ(host[2048], 7u);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemAllocManaged(&p, 0, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_INVALID_VALUE);
}

void check_stream_ordered() {
  dt::section("cuMemAllocAsync / cuMemFreeAsync");
  const size_t n = kMiB / 4;
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  std::vector<uint32_t> host(n, 0);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAllocAsync(&p, n * 4, s), CUDA_SUCCESS);
  CHECK(p != 0);
  CHECK_CU(cuMemsetD32Async(p, 0xfeedu, n, s), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoHAsync(host.data(), p, n * 4, s), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeAsync(p, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(host[0] == 0xfeedu && host[n - 1] == 0xfeedu);
  // The legacy default stream.
  CHECK_CU(cuMemAllocAsync(&p, 4096, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8Async(p, 1, 4096, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeAsync(p, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

// NULL output pointers, last in the program: the real driver dereferences
// some without checking (cuGetErrorName, cuGetProcAddress crash), so a crash
// here loses nothing else.
void check_null_outputs() {
  dt::section("NULL output pointers");
  size_t pitch = 0;
  CHECK_CU(cuMemAlloc(nullptr, 1024), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemAllocPitch(nullptr, &pitch, 1000, 17, 4), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemAllocHost(nullptr, kMiB), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemAllocAsync(nullptr, 4096, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
}

}  // namespace

int main() {
  CUcontext ctx = nullptr;
  CUdevice dev = dt::init_primary(&ctx);
  check_alloc_free(dev);
  check_address_range();
  check_pitch(dev);
  check_pointer_attributes(ctx, dev);
  check_host_alloc(ctx);
  check_host_register();
  check_managed();
  check_stream_ordered();
  check_bad_frees();
  check_null_outputs();
  dt::release_primary(dev);
  return dt::finish();
}
