// SIM ONLY. CUDA arrays and mipmapped arrays, run by ctest with
// GPUPOOL_SIM_MEMORY=64MiB: handles are validated, descriptors read back, and
// the memory an array takes (width * height * depth * element size, rounded
// up to 512 bytes; a mipmapped array the sum of its levels) is charged against
// the device's capacity, so a device that is full says OUT_OF_MEMORY.
#include "driver_test.h"

namespace {

const size_t kMiB = size_t{1} << 20;

size_t free_bytes() {
  size_t free = 0, total = 0;
  CHECK_CU(cuMemGetInfo(&free, &total), CUDA_SUCCESS);
  return free;
}

CUDA_ARRAY3D_DESCRIPTOR desc3d(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch, unsigned flags = 0) {
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  desc.Width = w;
  desc.Height = h;
  desc.Depth = d;
  desc.Format = f;
  desc.NumChannels = ch;
  desc.Flags = flags;
  return desc;
}

void check_2d() {
  dt::section("cuArrayCreate: footprint, descriptor, destroy");
  size_t before = free_bytes();
  CUDA_ARRAY_DESCRIPTOR d{};
  d.Width = 1000;
  d.Height = 1000;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 4;
  CUarray a = nullptr;
  REQUIRE_CU(cuArrayCreate(&a, &d), CUDA_SUCCESS);
  CHECK_EQ(before - free_bytes(), size_t{16000000});  // 16e6 is a multiple of 512
  CUDA_ARRAY_DESCRIPTOR back{};
  CHECK_CU(cuArrayGetDescriptor(&back, a), CUDA_SUCCESS);
  CHECK_EQ(back.Width, size_t{1000});
  CHECK_EQ(back.Height, size_t{1000});
  CHECK_EQ(back.Format, CU_AD_FORMAT_FLOAT);
  CHECK_EQ(back.NumChannels, 4u);
  CUDA_ARRAY3D_DESCRIPTOR back3{};
  CHECK_CU(cuArray3DGetDescriptor(&back3, a), CUDA_SUCCESS);
  CHECK_EQ(back3.Depth, size_t{0});
  CHECK_EQ(back3.Flags, 0u);
  CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
  CHECK_EQ(free_bytes(), before);
  CHECK_CU(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuArrayGetDescriptor(&back, a), CUDA_ERROR_INVALID_HANDLE);

  // A 1D array of 3 bytes still takes 512.
  d.Width = 3;
  d.Height = 0;
  d.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  d.NumChannels = 1;
  REQUIRE_CU(cuArrayCreate(&a, &d), CUDA_SUCCESS);
  CHECK_EQ(before - free_bytes(), size_t{512});
  CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);
}

void check_invalid() {
  dt::section("invalid descriptors and handles");
  CUarray a = nullptr;
  CUDA_ARRAY_DESCRIPTOR d{};
  d.Width = 16;
  d.Height = 16;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 3;
  CHECK_CU(cuArrayCreate(&a, &d), CUDA_ERROR_INVALID_VALUE);  // channels: 1, 2 or 4
  d.NumChannels = 1;
  d.Width = 0;
  CHECK_CU(cuArrayCreate(&a, &d), CUDA_ERROR_INVALID_VALUE);
  d.Width = 16;
  d.Format = static_cast<CUarray_format>(0x77);
  CHECK_CU(cuArrayCreate(&a, &d), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuArrayCreate(nullptr, &d), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuArrayCreate(&a, nullptr), CUDA_ERROR_INVALID_VALUE);

  CUDA_ARRAY3D_DESCRIPTOR d3 = desc3d(16, 0, 4, CU_AD_FORMAT_FLOAT, 1);
  CHECK_CU(cuArray3DCreate(&a, &d3), CUDA_ERROR_INVALID_VALUE);  // depth without height
  d3 = desc3d(16, 8, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP);
  CHECK_CU(cuArray3DCreate(&a, &d3), CUDA_ERROR_INVALID_VALUE);  // cube faces are square
  d3 = desc3d(16, 16, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED);
  CHECK_CU(cuArray3DCreate(&a, &d3), CUDA_ERROR_INVALID_VALUE);  // no layers
  d3 = desc3d(16, 16, 1, CU_AD_FORMAT_FLOAT, 1, 0x8000);
  CHECK_CU(cuArray3DCreate(&a, &d3), CUDA_ERROR_INVALID_VALUE);  // unknown flag
  d3 = desc3d(20000, 16, 16, CU_AD_FORMAT_FLOAT, 1);
  CHECK_CU(cuArray3DCreate(&a, &d3), CUDA_ERROR_INVALID_VALUE);  // beyond the 3D limit

  CHECK_CU(cuArrayDestroy(nullptr), CUDA_ERROR_INVALID_HANDLE);
  int not_an_array = 0;
  CHECK_CU(cuArrayDestroy(reinterpret_cast<CUarray>(&not_an_array)), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuMipmappedArrayDestroy(reinterpret_cast<CUmipmappedArray>(&not_an_array)), CUDA_ERROR_INVALID_HANDLE);
}

void check_3d_and_mipmaps() {
  dt::section("3D, layered and mipmapped footprints");
  size_t before = free_bytes();
  CUDA_ARRAY3D_DESCRIPTOR d = desc3d(64, 32, 16, CU_AD_FORMAT_HALF, 2);
  CUarray a = nullptr;
  REQUIRE_CU(cuArray3DCreate(&a, &d), CUDA_SUCCESS);
  CHECK_EQ(before - free_bytes(), size_t{64 * 32 * 16 * 4});
  CUDA_ARRAY3D_DESCRIPTOR back{};
  CHECK_CU(cuArray3DGetDescriptor(&back, a), CUDA_SUCCESS);
  CHECK_EQ(back.Depth, size_t{16});
  CHECK_EQ(back.Format, CU_AD_FORMAT_HALF);
  CHECK_CU(cuArrayDestroy(a), CUDA_SUCCESS);

  // Layers are not mip-mapped: 4 levels of 256x256 (then 128, 64, 32), 3 layers.
  d = desc3d(256, 256, 3, CU_AD_FORMAT_UNSIGNED_INT8, 4, CUDA_ARRAY3D_LAYERED);
  CUmipmappedArray m = nullptr;
  REQUIRE_CU(cuMipmappedArrayCreate(&m, &d, 4), CUDA_SUCCESS);
  size_t levels = (256 * 256 + 128 * 128 + 64 * 64 + 32 * 32) * 3 * 4;
  CHECK_EQ(before - free_bytes(), levels);
  CHECK_CU(cuArrayDestroy(reinterpret_cast<CUarray>(m)), CUDA_ERROR_INVALID_HANDLE);  // wrong kind
  CHECK_CU(cuMipmappedArrayDestroy(m), CUDA_SUCCESS);
  CHECK_CU(cuMipmappedArrayDestroy(m), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(free_bytes(), before);

  // The level count is clamped to 1 + log2(largest dimension): 8x4x2 has 4.
  d = desc3d(8, 4, 2, CU_AD_FORMAT_FLOAT, 1);
  REQUIRE_CU(cuMipmappedArrayCreate(&m, &d, 100), CUDA_SUCCESS);
  CHECK_EQ(before - free_bytes(), size_t{4 * 512});
  CHECK_CU(cuMipmappedArrayDestroy(m), CUDA_SUCCESS);
}

void check_capacity() {
  dt::section("arrays are charged against the device's capacity");
  size_t before = free_bytes();
  CUDA_ARRAY3D_DESCRIPTOR d = desc3d(4096, 4100, 0, CU_AD_FORMAT_FLOAT, 1);  // just over 64 MiB
  CUarray a = nullptr;
  CHECK_CU(cuArray3DCreate(&a, &d), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_EQ(free_bytes(), before);
  d.Height = 2048;  // 32 MiB
  CUarray b = nullptr, c = nullptr;
  REQUIRE_CU(cuArray3DCreate(&b, &d), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 40 * kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  d.Height = 2049;  // just over the 32 MiB left
  CHECK_CU(cuArray3DCreate(&c, &d), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuArrayDestroy(b), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&p, 40 * kMiB), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void check_context_teardown() {
  dt::section("a destroyed context releases its arrays");
  size_t before = free_bytes();
  CUcontext primary = nullptr;
  CHECK_CU(cuCtxGetCurrent(&primary), CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuCtxCreate(&ctx, nullptr, 0, 0), CUDA_SUCCESS);
  CUDA_ARRAY3D_DESCRIPTOR d = desc3d(1024, 1024, 0, CU_AD_FORMAT_FLOAT, 4);  // 16 MiB
  CUarray a = nullptr;
  REQUIRE_CU(cuArray3DCreate(&a, &d), CUDA_SUCCESS);
  CHECK_CU(cuCtxDestroy(ctx), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(primary), CUDA_SUCCESS);
  CHECK_EQ(free_bytes(), before);
  CHECK_CU(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace

int main() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  check_2d();
  check_invalid();
  check_3d_and_mipmaps();
  check_capacity();
  check_context_teardown();
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  return dt::finish();
}
