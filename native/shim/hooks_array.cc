// hooks_array.cc — CUDA arrays and mipmapped arrays charge the job's quota
// (charging.h) for the memory the driver gives them; destroying them uncharges.
//
// What is charged: width * max(height,1) * max(depth,1) * element size, rounded
// up to 512 bytes; a mipmapped array the sum of its levels; to the current
// context's device. Sparse and deferred-mapping arrays have no memory of their
// own (their backing comes from cuMemCreate, charged in hooks_memory.cc) and
// are not charged. Without a current context the call goes to the driver
// uncharged: the driver refuses it and allocates nothing.
#include <algorithm>

#include "allocations.h"
#include "charging.h"
#include "hook_table.h"
#include "real_driver.h"

using namespace gpupool::shim;

namespace {

// Bytes per texel, in eighths of a byte (YUV and block-compressed formats
// have fractional sizes); *block4: the format stores 4x4 blocks.
uint64_t texel_eighths(CUarray_format format, unsigned channels, bool* block4) {
  *block4 = false;
  uint64_t ch = channels == 0 ? 1 : channels;
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 8 * ch;
    case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 16 * ch;
    case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 32 * ch;
    case CU_AD_FORMAT_UNORM_INT8X1: case CU_AD_FORMAT_SNORM_INT8X1: return 8;
    case CU_AD_FORMAT_UNORM_INT8X2: case CU_AD_FORMAT_SNORM_INT8X2: return 16;
    case CU_AD_FORMAT_UNORM_INT8X4: case CU_AD_FORMAT_SNORM_INT8X4: return 32;
    case CU_AD_FORMAT_UNORM_INT16X1: case CU_AD_FORMAT_SNORM_INT16X1: return 16;
    case CU_AD_FORMAT_UNORM_INT16X2: case CU_AD_FORMAT_SNORM_INT16X2: return 32;
    case CU_AD_FORMAT_UNORM_INT16X4: case CU_AD_FORMAT_SNORM_INT16X4: return 64;
    case CU_AD_FORMAT_BC1_UNORM: case CU_AD_FORMAT_BC1_UNORM_SRGB:
    case CU_AD_FORMAT_BC4_UNORM: case CU_AD_FORMAT_BC4_SNORM:
      *block4 = true;
      return 4;  // 8 bytes per 4x4 block
    case CU_AD_FORMAT_BC2_UNORM: case CU_AD_FORMAT_BC2_UNORM_SRGB:
    case CU_AD_FORMAT_BC3_UNORM: case CU_AD_FORMAT_BC3_UNORM_SRGB:
    case CU_AD_FORMAT_BC5_UNORM: case CU_AD_FORMAT_BC5_SNORM:
    case CU_AD_FORMAT_BC6H_UF16: case CU_AD_FORMAT_BC6H_SF16:
    case CU_AD_FORMAT_BC7_UNORM: case CU_AD_FORMAT_BC7_UNORM_SRGB:
      *block4 = true;
      return 8;  // 16 bytes per 4x4 block
    case CU_AD_FORMAT_NV12: return 12;
    case CU_AD_FORMAT_NV16: case CU_AD_FORMAT_YUY2: return 16;
    case CU_AD_FORMAT_P010: case CU_AD_FORMAT_P016: case CU_AD_FORMAT_Y444_PLANAR8:
    case CU_AD_FORMAT_YUV444_8bit_SemiPlanar: return 24;
    case CU_AD_FORMAT_P210: case CU_AD_FORMAT_P216: case CU_AD_FORMAT_Y210: case CU_AD_FORMAT_Y216:
    case CU_AD_FORMAT_AYUV: case CU_AD_FORMAT_Y410: case CU_AD_FORMAT_UNORM_INT_101010_2: return 32;
    case CU_AD_FORMAT_Y444_PLANAR10: case CU_AD_FORMAT_YUV444_16bit_SemiPlanar: return 48;
    case CU_AD_FORMAT_Y416: return 64;
    default: return 16 * 8;  // unknown: the largest element there is
  }
}

struct Shape {
  uint64_t width, height, depth;
  CUarray_format format;
  unsigned channels, flags;
};

uint64_t level_bytes(uint64_t w, uint64_t h, uint64_t d, uint64_t eighths, bool block4) {
  if (block4) {
    w = round_up(w, 4);
    h = round_up(h ? h : 1, 4);
  }
  uint64_t texels = mul_sat(mul_sat(w, h ? h : 1), d ? d : 1);
  uint64_t eighth_bytes = mul_sat(texels, eighths);
  return round_up(eighth_bytes == UINT64_MAX ? UINT64_MAX : (eighth_bytes + 7) / 8, kLinearAlign);
}

// The memory an array of `levels` mip levels (1: a plain array) takes.
uint64_t array_bytes(const Shape& s, unsigned levels) {
  if (s.flags & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING)) return 0;
  bool block4 = false;
  uint64_t eighths = texel_eighths(s.format, s.channels, &block4);
  // Layers and cube faces are not mip-mapped: only width, height and a 3D depth halve.
  const bool depth_halves = (s.flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) == 0;
  uint64_t largest = std::max(s.width, std::max(s.height, depth_halves ? s.depth : 0));
  unsigned max_levels = 1;
  for (uint64_t v = largest; v > 1; v /= 2) ++max_levels;
  levels = std::min(std::max(levels, 1u), max_levels);  // the driver clamps the same way
  uint64_t w = s.width, h = s.height, d = s.depth, total = 0;
  for (unsigned i = 0; i < levels; ++i) {
    total = add_sat(total, level_bytes(w, h, d, eighths, block4));
    w = w > 1 ? w / 2 : 1;
    if (h) h = h > 1 ? h / 2 : 1;
    if (d && depth_halves) d = d > 1 ? d / 2 : 1;
  }
  return total;
}

template <typename Desc>
Shape shape2d(const Desc& d) {
  return Shape{d.Width, d.Height, 0, d.Format, d.NumChannels, 0};
}
template <typename Desc>
Shape shape3d(const Desc& d) {
  return Shape{d.Width, d.Height, d.Depth, d.Format, d.NumChannels, d.Flags};
}

// Charge, create, record for the array hooks. `handle` is the caller's output.
template <typename Handle, typename Create>
CUresult array_create(Resource kind, Handle* handle, const Shape* shape, unsigned levels, const char* name,
                      Create create) {
  int dev = current_device();
  if (dev < 0 || handle == nullptr || shape == nullptr) return create();
  uint64_t bytes = array_bytes(*shape, levels);
  if (bytes == 0) return create();
  return charged(kind, dev, bytes, name, [&](uint64_t* key) {
    CUresult r = create();
    if (r == CUDA_SUCCESS) *key = reinterpret_cast<uint64_t>(*handle);
    return r;
  });
}

}  // namespace

SHIM_EXPORT CUresult cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* pAllocateArray) {
  auto real = SHIM_REAL(cuArrayCreate_v2);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape2d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArrayCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArrayCreate(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR_v1* pAllocateArray) {
  auto real = SHIM_REAL(cuArrayCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape2d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArrayCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* pAllocateArray) {
  auto real = SHIM_REAL(cuArray3DCreate_v2);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape3d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArray3DCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuArray3DCreate(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1* pAllocateArray) {
  auto real = SHIM_REAL(cuArray3DCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pAllocateArray != nullptr) s = shape3d(*pAllocateArray);
  return array_create(Resource::kArray, pHandle, pAllocateArray ? &s : nullptr, 1, "cuArray3DCreate",
                      [&] { return real(pHandle, pAllocateArray); });
}

SHIM_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* pHandle,
                                            const CUDA_ARRAY3D_DESCRIPTOR* pMipmappedArrayDesc,
                                            unsigned int numMipmapLevels) {
  auto real = SHIM_REAL(cuMipmappedArrayCreate);
  if (real == nullptr) return missing_real_result();
  Shape s{};
  if (pMipmappedArrayDesc != nullptr) s = shape3d(*pMipmappedArrayDesc);
  return array_create(Resource::kMipmappedArray, pHandle, pMipmappedArrayDesc ? &s : nullptr, numMipmapLevels,
                      "cuMipmappedArrayCreate", [&] { return real(pHandle, pMipmappedArrayDesc, numMipmapLevels); });
}

SHIM_EXPORT CUresult cuArrayDestroy(CUarray hArray) {
  auto real = SHIM_REAL(cuArrayDestroy);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kArray, reinterpret_cast<uint64_t>(hArray), [&] { return real(hArray); });
}

SHIM_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray) {
  auto real = SHIM_REAL(cuMipmappedArrayDestroy);
  if (real == nullptr) return missing_real_result();
  return uncharged(Resource::kMipmappedArray, reinterpret_cast<uint64_t>(hMipmappedArray),
                   [&] { return real(hMipmappedArray); });
}
