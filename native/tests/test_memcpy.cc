// Copies and memsets: synchronous and asynchronous 1D copies, the unified
// cuMemcpy, 2D copies with pitch, memset D8/D16/D32 and their 2D forms, and
// the argument errors. Checks that could leave a real context unusable come
// last, followed by a round trip showing the context still works.
#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "driver_test.h"

namespace {

std::vector<uint8_t> pattern(size_t n, unsigned seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return v;
}

void check_sync_1d() {
  dt::section("synchronous HtoD / DtoH / DtoD");
  const size_t n = (size_t{1} << 20) + 77;
  auto src = pattern(n, 1);
  std::vector<uint8_t> dst(n, 0);
  CUdeviceptr a = 0, b = 0;
  REQUIRE_CU(cuMemAlloc(&a, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&b, n), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(a, src.data(), n), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoD(b, a, n), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(dst.data(), b, n), CUDA_SUCCESS);
  CHECK(dst == src);

  // Offsets inside allocations.
  std::vector<uint8_t> part(1002, 0);
  CHECK_CU(cuMemcpyDtoH(part.data(), a + 5000, 1000), CUDA_SUCCESS);
  CHECK(std::equal(part.begin(), part.begin() + 1000, src.begin() + 5000));
  CHECK_CU(cuMemcpyDtoD(b + 3, a + 1001, 999), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(part.data(), b, 1002), CUDA_SUCCESS);
  CHECK(std::equal(part.begin(), part.begin() + 3, src.begin()));
  CHECK(std::equal(part.begin() + 3, part.begin() + 1002, src.begin() + 1001));

  // Zero bytes: nothing to do, and no error.
  CHECK_CU(cuMemcpyHtoD(a, src.data(), 0), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(dst.data(), a, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoD(b, a, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
}

void check_async_1d() {
  dt::section("asynchronous copies on a stream, pinned and pageable");
  const size_t n = 4 << 20;
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  void* pin_in = nullptr;
  void* pin_out = nullptr;
  REQUIRE_CU(cuMemAllocHost(&pin_in, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAllocHost(&pin_out, n), CUDA_SUCCESS);
  auto src = pattern(n, 2);
  std::memcpy(pin_in, src.data(), n);
  std::memset(pin_out, 0, n);
  CUdeviceptr a = 0, b = 0;
  REQUIRE_CU(cuMemAlloc(&a, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&b, n), CUDA_SUCCESS);
  // In stream order: HtoD, DtoD, DtoH, without waiting in between.
  CHECK_CU(cuMemcpyHtoDAsync(a, pin_in, n, s), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoDAsync(b, a, n, s), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoHAsync(pin_out, b, n, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(std::memcmp(pin_out, src.data(), n) == 0);

  // Pageable host memory and the legacy default stream.
  std::vector<uint8_t> out(n, 0);
  CHECK_CU(cuMemsetD8Async(b, 0x3c, n, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoHAsync(out.data(), b, n, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  CHECK(out[0] == 0x3c && out[n - 1] == 0x3c);

  CHECK_CU(cuMemcpyHtoDAsync(a, pin_in, 0, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeHost(pin_in), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeHost(pin_out), CUDA_SUCCESS);
}

// Asynchronous copies from pageable memory take their source when called: the
// caller may overwrite it at once, also while earlier copies still wait in the
// stream (the sim stages such sources in buffers it reuses: staging.cc).
void check_async_pageable_source() {
  dt::section("asynchronous copies from pageable memory take the source at the call");
  const size_t n = 2 << 20;
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr a = 0, b = 0, c = 0;
  REQUIRE_CU(cuMemAlloc(&a, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&b, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&c, n), CUDA_SUCCESS);
  // The copies queue behind a host function that holds the stream for 50 ms
  // (it needs nothing from this thread, so a driver that waits cannot hang).
  CHECK_CU(cuLaunchHostFunc(s, [](void*) { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }, nullptr),
           CUDA_SUCCESS);
  std::vector<uint8_t> src = pattern(n, 7);
  const std::vector<uint8_t> first = src;
  CHECK_CU(cuMemcpyHtoDAsync(a, src.data(), n, s), CUDA_SUCCESS);
  src = pattern(n, 8);
  const std::vector<uint8_t> second = src;
  CHECK_CU(cuMemcpyHtoDAsync(b, src.data(), n, s), CUDA_SUCCESS);
  std::fill(src.begin(), src.end(), 0);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  // Once those are done, a third (the sim takes a staging buffer they gave back).
  src = pattern(n / 2, 9);
  const std::vector<uint8_t> third = src;
  CHECK_CU(cuMemcpyHtoDAsync(c, src.data(), n / 2, s), CUDA_SUCCESS);
  std::fill(src.begin(), src.end(), 0);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  std::vector<uint8_t> out(n);
  CHECK_CU(cuMemcpyDtoH(out.data(), a, n), CUDA_SUCCESS);
  CHECK(out == first);
  CHECK_CU(cuMemcpyDtoH(out.data(), b, n), CUDA_SUCCESS);
  CHECK(out == second);
  out.resize(n / 2);
  CHECK_CU(cuMemcpyDtoH(out.data(), c, n / 2), CUDA_SUCCESS);
  CHECK(out == third);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(c), CUDA_SUCCESS);
}

void check_unified() {
  dt::section("cuMemcpy infers the direction");
  const size_t n = 300000;
  auto src = pattern(n, 3);
  std::vector<uint8_t> dst(n, 0), dst2(n, 0);
  CUdeviceptr a = 0, b = 0;
  REQUIRE_CU(cuMemAlloc(&a, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&b, n), CUDA_SUCCESS);
  auto addr = [](const void* p) { return reinterpret_cast<CUdeviceptr>(p); };
  CHECK_CU(cuMemcpy(a, addr(src.data()), n), CUDA_SUCCESS);        // host -> device
  CHECK_CU(cuMemcpy(b, a, n), CUDA_SUCCESS);                        // device -> device
  CHECK_CU(cuMemcpy(addr(dst.data()), b, n), CUDA_SUCCESS);        // device -> host
  CHECK(dst == src);
  CHECK_CU(cuMemcpy(addr(dst2.data()), addr(dst.data()), n), CUDA_SUCCESS);  // host -> host
  CHECK(dst2 == src);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_DEFAULT), CUDA_SUCCESS);
  std::fill(dst.begin(), dst.end(), 0);
  CHECK_CU(cuMemcpyAsync(addr(dst.data()), a, n, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(dst == src);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
}

void check_2d() {
  dt::section("cuMemcpy2D with pitch");
  const size_t width = 100, height = 7, host_pitch = 128;
  CUdeviceptr d = 0;
  size_t pitch = 0;
  REQUIRE_CU(cuMemAllocPitch(&d, &pitch, width, height, 4), CUDA_SUCCESS);
  REQUIRE(pitch >= width);
  CHECK_CU(cuMemsetD8(d, 0xee, pitch * height), CUDA_SUCCESS);  // marks the padding

  auto src = pattern(host_pitch * height, 4);
  CUDA_MEMCPY2D up;
  std::memset(&up, 0, sizeof up);
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = src.data();
  up.srcPitch = host_pitch;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = d;
  up.dstPitch = pitch;
  up.WidthInBytes = width;
  up.Height = height;
  CHECK_CU(cuMemcpy2D(&up), CUDA_SUCCESS);

  // Down with a dense pitch, as one linear block.
  std::vector<uint8_t> whole(pitch * height, 0);
  CHECK_CU(cuMemcpyDtoH(whole.data(), d, whole.size()), CUDA_SUCCESS);
  bool rows_ok = true, padding_ok = true;
  for (size_t y = 0; y < height; ++y)
    for (size_t x = 0; x < pitch; ++x) {
      uint8_t got = whole[y * pitch + x];
      if (x < width) rows_ok &= got == src[y * host_pitch + x];
      else padding_ok &= got == 0xee;
    }
  CHECK(rows_ok);
  CHECK_MSG(padding_ok, "bytes between width and pitch were written");

  // A sub-rectangle: 10 bytes x 3 rows at (x=5, y=2) of the device rows, to
  // (x=1, y=1) of a 16-byte-pitch host buffer.
  std::vector<uint8_t> sub(16 * 5, 0x77);
  CUDA_MEMCPY2D down;
  std::memset(&down, 0, sizeof down);
  down.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  down.srcDevice = d;
  down.srcPitch = pitch;
  down.srcXInBytes = 5;
  down.srcY = 2;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = sub.data();
  down.dstPitch = 16;
  down.dstXInBytes = 1;
  down.dstY = 1;
  down.WidthInBytes = 10;
  down.Height = 3;
  CHECK_CU(cuMemcpy2D(&down), CUDA_SUCCESS);
  bool sub_ok = true;
  for (size_t y = 0; y < 5; ++y)
    for (size_t x = 0; x < 16; ++x) {
      bool inside = y >= 1 && y < 4 && x >= 1 && x < 11;
      uint8_t want = inside ? src[(y - 1 + 2) * host_pitch + (x - 1 + 5)] : 0x77;
      sub_ok &= sub[y * 16 + x] == want;
    }
  CHECK(sub_ok);

  // Unified memory type, async, device to device.
  CUdeviceptr d2 = 0;
  size_t pitch2 = 0;
  REQUIRE_CU(cuMemAllocPitch(&d2, &pitch2, width, height, 4), CUDA_SUCCESS);
  CUDA_MEMCPY2D dd;
  std::memset(&dd, 0, sizeof dd);
  dd.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
  dd.srcDevice = d;
  dd.srcPitch = pitch;
  dd.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
  dd.dstDevice = d2;
  dd.dstPitch = pitch2;
  dd.WidthInBytes = width;
  dd.Height = height;
  CHECK_CU(cuMemcpy2DAsync(&dd, nullptr), CUDA_SUCCESS);
  std::vector<uint8_t> row(width);
  CHECK_CU(cuMemcpyDtoH(row.data(), d2 + pitch2 * (height - 1), width), CUDA_SUCCESS);
  CHECK(std::equal(row.begin(), row.end(), src.begin() + host_pitch * (height - 1)));

  // "srcPitch must be greater than or equal to WidthInBytes + srcXInBytes".
  CUDA_MEMCPY2D bad = up;
  bad.srcPitch = width - 1;
  CHECK_CU(cuMemcpy2D(&bad), CUDA_ERROR_INVALID_VALUE);
  bad = up;
  bad.dstPitch = width - 1;
  CHECK_CU(cuMemcpy2D(&bad), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(d2), CUDA_SUCCESS);
}

void check_memset() {
  dt::section("memset D8 / D16 / D32");
  const size_t n = 4096;
  CUdeviceptr d = 0;
  REQUIRE_CU(cuMemAlloc(&d, n), CUDA_SUCCESS);
  std::vector<uint8_t> h(n);

  CHECK_CU(cuMemsetD8(d, 0x00, n), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8(d + 1, 0xab, 999), CUDA_SUCCESS);  // unaligned start is fine for D8
  CHECK_CU(cuMemcpyDtoH(h.data(), d, n), CUDA_SUCCESS);
  CHECK_EQ(h[0], 0);
  CHECK_EQ(h[1], 0xab);
  CHECK_EQ(h[999], 0xab);
  CHECK_EQ(h[1000], 0);

  CHECK_CU(cuMemsetD16(d + 2, 0x1234, 10), CUDA_SUCCESS);
  std::vector<uint16_t> h16(n / 2);
  CHECK_CU(cuMemcpyDtoH(h16.data(), d, n), CUDA_SUCCESS);
  CHECK_EQ(h16[1], 0x1234);
  CHECK_EQ(h16[10], 0x1234);
  CHECK_EQ(h16[11], 0xabab);

  CHECK_CU(cuMemsetD32(d, 0xdeadbeefu, n / 4), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(d + 4 * 100, 0x01020304u, 50), CUDA_SUCCESS);
  std::vector<uint32_t> h32(n / 4);
  CHECK_CU(cuMemcpyDtoH(h32.data(), d, n), CUDA_SUCCESS);
  CHECK_EQ(h32[99], 0xdeadbeefu);
  CHECK_EQ(h32[100], 0x01020304u);
  CHECK_EQ(h32[149], 0x01020304u);
  CHECK_EQ(h32[150], 0xdeadbeefu);
  CHECK_EQ(h32[n / 4 - 1], 0xdeadbeefu);

  // Zero elements.
  CHECK_CU(cuMemsetD8(d, 1, 0), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(d, 1, 0), CUDA_SUCCESS);

  dt::section("async memset on a stream");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32Async(d, 5, n / 4, s), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD16Async(d, 6, 2, s), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD8Async(d, 7, 1, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(h.data(), d, n), CUDA_SUCCESS);
  CHECK(h[0] == 7 && h[1] == 0 && h[2] == 6 && h[3] == 0 && h[4] == 5 && h[n - 4] == 5);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
}

void check_memset_2d() {
  dt::section("memset 2D");
  const size_t height = 5;
  CUdeviceptr d = 0;
  size_t pitch = 0;
  REQUIRE_CU(cuMemAllocPitch(&d, &pitch, 64, height, 4), CUDA_SUCCESS);
  std::vector<uint8_t> h(pitch * height);
  auto fetch = [&] { CHECK_CU(cuMemcpyDtoH(h.data(), d, h.size()), CUDA_SUCCESS); };
  auto rect_ok = [&](size_t width_bytes, size_t elem, uint32_t value, uint8_t pad) {
    bool ok = true;
    for (size_t y = 0; y < height; ++y)
      for (size_t x = 0; x < pitch; ++x) {
        uint8_t got = h[y * pitch + x];
        uint8_t want = x < width_bytes ? static_cast<uint8_t>(value >> (8 * (x % elem))) : pad;
        ok &= got == want;
      }
    return ok;
  };
  CHECK_CU(cuMemsetD8(d, 0xee, pitch * height), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD2D8(d, pitch, 0x42, 50, height), CUDA_SUCCESS);
  fetch();
  CHECK(rect_ok(50, 1, 0x42, 0xee));

  CHECK_CU(cuMemsetD8(d, 0xee, pitch * height), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD2D16(d, pitch, 0xbeef, 20, height), CUDA_SUCCESS);
  fetch();
  CHECK(rect_ok(40, 2, 0xbeef, 0xee));

  CHECK_CU(cuMemsetD8(d, 0xee, pitch * height), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD2D32(d, pitch, 0xcafef00du, 12, height), CUDA_SUCCESS);
  fetch();
  CHECK(rect_ok(48, 4, 0xcafef00du, 0xee));

  CHECK_CU(cuMemsetD2D32Async(d, pitch, 0x01010101u, 16, height, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  fetch();
  CHECK(rect_ok(64, 4, 0x01010101u, 0xee));
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
}

void check_errors() {
  dt::section("argument errors");
  const size_t n = 4096;
  CUdeviceptr d = 0, e = 0;
  REQUIRE_CU(cuMemAlloc(&d, n), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&e, n), CUDA_SUCCESS);
  std::vector<uint8_t> h(2 * n, 1);

  // "The dstDevice pointer must be four byte aligned" (D32), two-byte (D16).
  CHECK_CU(cuMemsetD32(d + 1, 0, 4), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemsetD32(d + 2, 0, 4), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemsetD16(d + 1, 0, 4), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuMemsetD32Async(d + 1, 0, 4, nullptr), CUDA_ERROR_INVALID_VALUE);
  // "The dstDevice pointer and dstPitch offset must be four byte aligned."
  CHECK_CU(cuMemsetD2D32(d, 6, 0, 1, 2), CUDA_ERROR_INVALID_VALUE);

  // Copies that do not fit in the allocation they touch.
  CHECK_CU_MSG(cuMemcpyHtoD(d, h.data(), n + 1), CUDA_ERROR_INVALID_VALUE,
               "range check against the allocation");
  CHECK_CU_MSG(cuMemcpyHtoD(d + n - 16, h.data(), 32), CUDA_ERROR_INVALID_VALUE,
               "range check against the allocation");
  CHECK_CU_MSG(cuMemcpyDtoH(h.data(), d, n + 1), CUDA_ERROR_INVALID_VALUE,
               "range check against the allocation");
  CHECK_CU_MSG(cuMemcpyDtoD(e, d + 1, n), CUDA_ERROR_INVALID_VALUE,
               "range check against the allocation");
  CHECK_CU_MSG(cuMemsetD8(d + 1, 0, n), CUDA_ERROR_INVALID_VALUE,
               "range check against the allocation");
  CHECK_CU_MSG(cuMemcpyHtoD(0, h.data(), 16), CUDA_ERROR_INVALID_VALUE, "NULL device pointer");
  CHECK_CU_MSG(cuMemcpyDtoH(h.data(), 0, 16), CUDA_ERROR_INVALID_VALUE, "NULL device pointer");

  dt::section("the context survived the argument errors");
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  std::vector<uint8_t> back(n, 0);
  std::fill(h.begin(), h.end(), 0x99);
  CHECK_CU(cuMemcpyHtoD(d, h.data(), n), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(back.data(), d, n), CUDA_SUCCESS);
  CHECK(back[0] == 0x99 && back[n - 1] == 0x99);
  CHECK_CU(cuMemFree(d), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(e), CUDA_SUCCESS);

  // Last: a NULL parameter block (see the other programs' NULL-pointer sections).
  dt::section("NULL parameter block");
  CHECK_CU(cuMemcpy2D(nullptr), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  check_sync_1d();
  check_async_1d();
  check_async_pageable_source();
  check_unified();
  check_2d();
  check_memset();
  check_memset_2d();
  check_errors();
  dt::release_primary(dev);
  return dt::finish();
}
