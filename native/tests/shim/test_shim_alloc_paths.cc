// Every allocation path is charged against the quota, and every free or
// release gives it back:
//   cuMemAlloc, cuMemAllocPitch, cuMemAllocManaged, cuMemCreate (VMM),
//   cuMemAllocAsync, cuMemAllocFromPoolAsync; with argument `arrays`:
//   cuArrayCreate, cuArray3DCreate, cuMipmappedArrayCreate.
// For each: over the quota -> CUDA_ERROR_OUT_OF_MEMORY and nothing allocated
// (the whole quota is still there afterwards); a failure of the driver itself
// charges nothing; alloc-free cycles of the full quota succeed; page-locked host
// memory is not device memory and is not charged.
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB (a multiple of the VMM granularity).
#include "shim_test.h"

namespace {

size_t g_quota = 0;
CUdevice g_dev = 0;
constexpr size_t kStep = 2 * st::kMiB;  // more than any rounding of the driver's

// The whole quota is free (cuMemGetInfo) and can be allocated in one piece.
void check_quota_intact(const char* after) {
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_MSG(m.free == g_quota, std::string("after ") + after + ": free " + st::mib(m.free) +
                                   ", quota " + st::mib(g_quota));
  CUdeviceptr p = 0;
  CUresult r = cuMemAlloc(&p, g_quota);
  CHECK_MSG(r == CUDA_SUCCESS, std::string("after ") + after + ": cuMemAlloc(quota) -> " + dt::result_name(r));
  if (r == CUDA_SUCCESS) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void check_linear() {
  dt::section("cuMemAlloc");
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, g_quota + kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&p, SIZE_MAX / 2), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAlloc(&p, g_quota), CUDA_SUCCESS);
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc(&q, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  // The driver's own errors pass through and charge nothing.
  CHECK_CU(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemAlloc(nullptr, kStep), CUDA_ERROR_INVALID_VALUE);
  // A free that fails gives nothing back; nor does a second free.
  CHECK_CU(cuMemAlloc(&p, g_quota), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p + 256), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  if (!dt::skip_destroyed_handles()) {
    CHECK_CU(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);  // [destroyed handle]
    CHECK_CU(cuMemAlloc(&p, g_quota), CUDA_SUCCESS);
    CHECK_CU_MSG(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY, "a double free must not give the quota back twice");
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  // Many small ones up to the quota, then freed.
  std::vector<CUdeviceptr> ps;
  for (size_t used = 0; used + kStep <= g_quota; used += kStep) {
    CUdeviceptr x = 0;
    if (!CHECK_CU(cuMemAlloc(&x, kStep), CUDA_SUCCESS)) break;
    ps.push_back(x);
  }
  CHECK_EQ(ps.size(), g_quota / kStep);
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  for (CUdeviceptr x : ps) CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  check_quota_intact("cuMemAlloc/cuMemFree");
}

void check_pitch() {
  dt::section("cuMemAllocPitch");
  const size_t width = 8192;  // every pitch alignment divides it
  const size_t rows = g_quota / width;
  CUdeviceptr p = 0, q = 0;
  size_t pitch = 0;
  CHECK_CU(cuMemAllocPitch(&p, &pitch, width, rows + kStep / width, 4), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAllocPitch(&p, &pitch, width, rows, 4), CUDA_SUCCESS);
    CHECK_EQ(pitch, width);
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAllocPitch(&q, &pitch, width, kStep / width, 4), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  CHECK_CU(cuMemAllocPitch(&p, &pitch, width, rows, 3), CUDA_ERROR_INVALID_VALUE);  // bad element size
  check_quota_intact("cuMemAllocPitch");

  // Rows of 4 bytes: the driver pads each to its pitch, and the padding is device
  // memory the job holds.
  dt::section("cuMemAllocPitch: the pitch, not the width, is charged");
  const size_t narrow_rows = 16384;
  if (CHECK_CU(cuMemAllocPitch(&p, &pitch, 4, narrow_rows, 4), CUDA_SUCCESS)) {
    dt::info("pitch of a 4-byte row: %zu", pitch);
    const size_t held = pitch * narrow_rows;
    st::MemInfo m = st::mem_info();
    CHECK_MSG(m.free == g_quota - held, "free " + st::mib(m.free) + ", expected quota - pitch * rows = " +
                                            st::mib(g_quota - held));
    if (held + kStep <= g_quota) {
      CHECK_CU_MSG(cuMemAlloc(&q, g_quota - held + kStep), CUDA_ERROR_OUT_OF_MEMORY, "pitch * rows is in use");
    }
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  check_quota_intact("narrow cuMemAllocPitch");
}

void check_managed() {
  dt::section("cuMemAllocManaged");
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAllocManaged(&p, g_quota + kStep, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAllocManaged(&p, g_quota, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
    CHECK_CU(cuMemAllocManaged(&q, kStep, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  CHECK_CU(cuMemAllocManaged(&p, kStep, 0x80), CUDA_ERROR_INVALID_VALUE);  // bad flags
  check_quota_intact("cuMemAllocManaged");
}

void check_vmm() {
  dt::section("cuMemCreate (VMM)");
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = g_dev;
  size_t gran = 0;
  REQUIRE_CU(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
  REQUIRE(gran > 0 && g_quota % gran == 0);
  CUmemGenericAllocationHandle h = 0, h2 = 0;
  CHECK_CU(cuMemCreate(&h, g_quota + gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemCreate(&h, g_quota, &prop, 0), CUDA_SUCCESS);
    CHECK_CU(cuMemCreate(&h2, gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CUdeviceptr q = 0;
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  }
  CHECK_CU(cuMemCreate(&h, gran + 1, &prop, 0), CUDA_ERROR_INVALID_VALUE);  // not a granule multiple
  check_quota_intact("cuMemCreate/cuMemRelease");

  // Released while mapped: the memory lives until the unmap (as the driver
  // documents), so it is still the job's until then.
  dt::section("cuMemCreate released while mapped");
  CUdeviceptr va = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, g_quota, 0, 0, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemCreate(&h, g_quota, &prop, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(va, g_quota, 0, h, 0), CUDA_SUCCESS);
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CHECK_CU(cuMemSetAccess(va, g_quota, &access, 1), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(va, 0x5a, g_quota), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);  // the memset is done before the unmap below
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  CHECK_CU_MSG(cuMemCreate(&h2, gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY,
               "released but still mapped: the memory is still in use");
  CHECK_CU(cuMemUnmap(va, g_quota), CUDA_SUCCESS);
  CHECK_CU(cuMemAddressFree(va, g_quota), CUDA_SUCCESS);
  check_quota_intact("cuMemRelease while mapped + cuMemUnmap");

  dt::section("cuMemCreate: one handle mapped twice, retained once more");
  CUdeviceptr va2 = 0;
  REQUIRE_CU(cuMemAddressReserve(&va, g_quota, 0, 0, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAddressReserve(&va2, g_quota, 0, 0, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuMemCreate(&h, g_quota, &prop, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(va, g_quota, 0, h, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemMap(va2, g_quota, 0, h, 0), CUDA_SUCCESS);
  st::MemInfo m = st::mem_info();
  CHECK_MSG(m.free == 0, "one allocation mapped twice: free " + st::mib(m.free));
  CUmemGenericAllocationHandle retained = 0;
  CHECK_CU(cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(va2)), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  CHECK_CU(cuMemUnmap(va, g_quota), CUDA_SUCCESS);
  CHECK_CU(cuMemUnmap(va2, g_quota), CUDA_SUCCESS);
  CHECK_CU_MSG(cuMemCreate(&h2, gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY,
               "unmapped, but a handle from cuMemRetainAllocationHandle still holds the memory");
  CHECK_CU(cuMemRelease(retained), CUDA_SUCCESS);
  CHECK_CU(cuMemAddressFree(va, g_quota), CUDA_SUCCESS);
  CHECK_CU(cuMemAddressFree(va2, g_quota), CUDA_SUCCESS);
  check_quota_intact("retained handle released");
}

void check_async() {
  dt::section("cuMemAllocAsync");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAllocAsync(&p, g_quota + kStep, s), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAllocAsync(&p, g_quota, s), CUDA_SUCCESS);
    CHECK_CU(cuMemAllocAsync(&q, kStep, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFreeAsync(p, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  }
  check_quota_intact("cuMemAllocAsync/cuMemFreeAsync");
  // Freed with cuMemFree instead (allowed for stream-ordered memory).
  CHECK_CU(cuMemAllocAsync(&p, g_quota, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  check_quota_intact("cuMemAllocAsync/cuMemFree");
  // On the legacy default stream.
  CHECK_CU(cuMemAllocAsync(&p, g_quota, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuMemAllocAsync(&q, kStep, nullptr), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFreeAsync(p, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  check_quota_intact("cuMemAllocAsync on stream 0");
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_pool() {
  dt::section("cuMemAllocFromPoolAsync (the device's default pool)");
  CUmemoryPool pool = nullptr;
  REQUIRE_CU(cuDeviceGetDefaultMemPool(&pool, g_dev), CUDA_SUCCESS);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAllocFromPoolAsync(&p, g_quota + kStep, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAllocFromPoolAsync(&p, g_quota, pool, s), CUDA_SUCCESS);
    CHECK_CU(cuMemAllocFromPoolAsync(&q, kStep, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAllocAsync(&q, kStep, s), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemFreeAsync(p, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  }
  check_quota_intact("cuMemAllocFromPoolAsync/cuMemFreeAsync");

  // A pool that keeps what is freed (release threshold: everything): reusing
  // it is within the quota; trimming it gives the quota back to other paths.
  dt::section("pool with a release threshold that keeps freed memory");
  cuuint64_t keep = ~cuuint64_t{0};
  CHECK_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep), CUDA_SUCCESS);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK_CU(cuMemAllocFromPoolAsync(&p, g_quota, pool, s), CUDA_SUCCESS);
    CHECK_CU(cuMemFreeAsync(p, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  }
  CUresult r = cuMemAlloc(&q, kStep);
  dt::info("cuMemAlloc beside a pool keeping %s freed: %s (OUT_OF_MEMORY if the shim counts what pools keep)",
           st::mib(g_quota).c_str(), dt::result_name(r).c_str());
  if (r == CUDA_SUCCESS) cuMemFree(q);
  CHECK_CU(cuMemPoolTrimTo(pool, 0), CUDA_SUCCESS);
  cuuint64_t zero = 0;
  CHECK_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &zero), CUDA_SUCCESS);
  check_quota_intact("cuMemPoolTrimTo");
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

// Destroying a context frees what was allocated in it (the driver documents
// it): the job's usage goes with it. Each case runs in a child process with a
// job of its own, so that a leak in one does not spoil the next.
CUresult array_2d(CUarray* a, size_t w, size_t h);

int teardown_case(const std::string& which) {
  g_dev = dt::init_primary();
  CUcontext primary = nullptr;
  CHECK_CU(cuCtxGetCurrent(&primary), CUDA_SUCCESS);
  CUdeviceptr p = 0, q = 0;
  if (which == "destroy" || which == "destroy-array") {
    std::string title = "cuCtxDestroy frees the context's " +
                        std::string(which == "destroy" ? "allocations" : "array") + ", and their quota";
    dt::section(title.c_str());
    CUcontext ctx = nullptr;
    CUctxCreateParams params{};
    REQUIRE_CU(cuCtxCreate(&ctx, &params, 0, g_dev), CUDA_SUCCESS);  // pushed: current now
    if (which == "destroy") {
      CHECK_CU(cuMemAlloc(&p, g_quota / 2), CUDA_SUCCESS);
      CHECK_CU(cuMemAllocManaged(&q, g_quota / 2, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
    } else {
      CUarray a = nullptr;
      CHECK_CU(array_2d(&a, 8192, g_quota / 8192), CUDA_SUCCESS);
    }
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuCtxDestroy(ctx), CUDA_SUCCESS);
    CHECK_CU(cuCtxSetCurrent(primary), CUDA_SUCCESS);
    check_quota_intact("cuCtxDestroy with memory still allocated in it");
  } else if (which == "reset") {
    dt::section("cuDevicePrimaryCtxReset frees the primary context's allocations, and their quota");
    CHECK_CU(cuMemAlloc(&p, g_quota), CUDA_SUCCESS);
    CHECK_CU(cuDevicePrimaryCtxReset(g_dev), CUDA_SUCCESS);
    CUcontext again = nullptr;  // retained: the reset context becomes active again
    REQUIRE_CU(cuDevicePrimaryCtxRetain(&again, g_dev), CUDA_SUCCESS);
    REQUIRE_CU(cuCtxSetCurrent(again), CUDA_SUCCESS);
    check_quota_intact("cuDevicePrimaryCtxReset with memory still allocated");
    CHECK_CU(cuDevicePrimaryCtxRelease(g_dev), CUDA_SUCCESS);
  }
  dt::release_primary(g_dev);
  return dt::finish();
}

void run_teardown_case(const std::string& which) {
  st::SpawnOptions o;
  o.env.put("GPUPOOL_JOB", st::job() + "-" + which);
  o.capture_stdout = true;
  st::Child c = st::spawn_self("teardown", {which}, o);
  std::string out = st::read_all(c.out_fd);
  int rc = st::wait_child(c.pid);
  std::printf("%s", out.c_str());
  CHECK_MSG(rc == 0, "teardown case " + which + " failed");
  st::unlink_regions(st::job() + "-" + which);
}

void check_context_teardown() {
  run_teardown_case("destroy");
  run_teardown_case("reset");
}

void check_host_memory_not_charged() {
  dt::section("page-locked host memory is not charged");
  void* h = nullptr;
  void* h2 = nullptr;
  CHECK_CU(cuMemAllocHost(&h, g_quota + kStep), CUDA_SUCCESS);
  CHECK_CU(cuMemHostAlloc(&h2, g_quota, CU_MEMHOSTALLOC_DEVICEMAP), CUDA_SUCCESS);
  check_quota_intact("cuMemAllocHost + cuMemHostAlloc (held)");
  if (h) CHECK_CU(cuMemFreeHost(h), CUDA_SUCCESS);
  if (h2) CHECK_CU(cuMemFreeHost(h2), CUDA_SUCCESS);
}

void check_mixed() {
  dt::section("a quarter of the quota through each of four paths");
  const size_t part = g_quota / 4;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = g_dev;
  CUdeviceptr a = 0, b = 0, c = 0, q = 0;
  CUmemGenericAllocationHandle h = 0, h2 = 0;
  size_t pitch = 0;
  CHECK_CU(cuMemAlloc(&a, part), CUDA_SUCCESS);
  CHECK_CU(cuMemAllocPitch(&b, &pitch, 8192, part / 8192, 4), CUDA_SUCCESS);
  CHECK_CU(cuMemAllocManaged(&c, part, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(cuMemCreate(&h, part, &prop, 0), CUDA_SUCCESS);
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.free, size_t{0});
  CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAllocManaged(&q, kStep, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemCreate(&h2, kStep, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAllocAsync(&q, kStep, nullptr), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.free, part);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(c), CUDA_SUCCESS);
  CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  check_quota_intact("four paths freed");
}

// ---- arrays --------------------------------------------------------------------

CUresult array_2d(CUarray* a, size_t w, size_t h) {
  CUDA_ARRAY_DESCRIPTOR d{};
  d.Width = w;
  d.Height = h;
  d.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  d.NumChannels = 1;
  return cuArrayCreate(a, &d);
}

CUresult array_3d(CUarray* a, size_t w, size_t h, size_t depth) {
  CUDA_ARRAY3D_DESCRIPTOR d{};
  d.Width = w;
  d.Height = h;
  d.Depth = depth;
  d.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  d.NumChannels = 1;
  return cuArray3DCreate(a, &d);
}

CUresult mipmapped(CUmipmappedArray* a, size_t w, size_t h, unsigned levels) {
  CUDA_ARRAY3D_DESCRIPTOR d{};
  d.Width = w;
  d.Height = h;
  d.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  d.NumChannels = 1;
  return cuMipmappedArrayCreate(a, &d, levels);
}

void check_arrays() {
  // 8-bit single-channel arrays 8192 wide: quota / 8192 rows fill the quota.
  const size_t w = 8192, rows = g_quota / w, step_rows = kStep / w;
  CUarray a = nullptr, b = nullptr;
  dt::section("cuArrayCreate");
  CHECK_CU(array_2d(&a, w, rows + step_rows), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    if (!CHECK_CU(array_2d(&a, w, rows), CUDA_SUCCESS)) break;
    CHECK_CU(array_2d(&b, w, step_rows), CUDA_ERROR_OUT_OF_MEMORY);
    CUdeviceptr q = 0;
    CHECK_CU(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
  }
  check_quota_intact("cuArrayCreate/cuArrayDestroy");

  dt::section("cuArray3DCreate");
  const size_t side = 1024, depth = g_quota / (side * side), step_depth = kStep / (side * side);
  CHECK_CU(array_3d(&a, side, side, depth + step_depth), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    if (!CHECK_CU(array_3d(&a, side, side, depth), CUDA_SUCCESS)) break;
    CHECK_CU(array_3d(&b, side, side, step_depth), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(array_2d(&b, w, step_rows), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
  }
  check_quota_intact("cuArray3DCreate/cuArrayDestroy");

  dt::section("cuMipmappedArrayCreate");
  CUmipmappedArray m = nullptr, m2 = nullptr;
  // Level 0 alone is the quota; a second level puts it over.
  CHECK_CU(mipmapped(&m, w, rows, 2), CUDA_ERROR_OUT_OF_MEMORY);
  for (int cycle = 0; cycle < 3; ++cycle) {
    if (!CHECK_CU(mipmapped(&m, w, rows, 1), CUDA_SUCCESS)) break;
    CHECK_CU(mipmapped(&m2, w, step_rows, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(array_2d(&b, w, step_rows), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMipmappedArrayDestroy(m), CUDA_SUCCESS);
  }
  check_quota_intact("cuMipmappedArrayCreate/cuMipmappedArrayDestroy");

  dt::section("arrays: format and channels are charged (float x4, and 1D)");
  {
    CUDA_ARRAY_DESCRIPTOR d{};
    d.Width = 2048;
    d.Height = g_quota / (2048 * 16);
    d.Format = CU_AD_FORMAT_FLOAT;
    d.NumChannels = 4;
    if (CHECK_CU(cuArrayCreate(&a, &d), CUDA_SUCCESS)) {
      CUdeviceptr q = 0;
      CHECK_CU_MSG(cuMemAlloc(&q, kStep), CUDA_ERROR_OUT_OF_MEMORY, "2048 x rows x 16 bytes fill the quota");
      CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
    }
    d.Height = 0;  // 1D
    d.Width = 65536;  // x 16 bytes = 1 MiB
    CUarray ones[64];
    int made = 0;
    for (; made < 64; ++made)
      if (cuArrayCreate(&ones[made], &d) != CUDA_SUCCESS) break;
    CHECK_MSG(static_cast<size_t>(made) == std::min<size_t>(64, g_quota / st::kMiB),
              "1 MiB 1D arrays made: " + std::to_string(made));
    for (int i = 0; i < made; ++i) CHECK_CU(cuArrayDestroy(ones[i]), CUDA_SUCCESS);
  }
  check_quota_intact("float x4 and 1D arrays");

  dt::section("an array and linear memory share the quota");
  CUdeviceptr p = 0;
  CHECK_CU(array_2d(&a, w, rows / 2), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&p, g_quota / 2 + kStep), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&p, g_quota / 2), CUDA_SUCCESS);
  CHECK_CU(array_2d(&b, w, step_rows), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  check_quota_intact("array + linear");
  run_teardown_case("destroy-array");
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  g_quota = st::configured_quota();
  REQUIRE(g_quota >= 16 * st::kMiB && g_quota % (8 * st::kMiB) == 0);
  if (argc > 2 && std::string(argv[1]) == "teardown") return teardown_case(argv[2]);
  g_dev = dt::init_primary();
  check_quota_intact("start");

  if (argc > 1 && std::string(argv[1]) == "arrays") {
    check_arrays();
  } else {
    check_linear();
    check_pitch();
    check_managed();
    check_vmm();
    check_async();
    check_pool();
    check_host_memory_not_charged();
    check_mixed();
    check_context_teardown();
  }
  dt::release_primary(g_dev);
  return dt::finish();
}
