// array.cc — CUDA arrays and mipmapped arrays (cuArrayCreate, cuArray3DCreate,
// cuMipmappedArrayCreate, their descriptors and destruction).
//
// The sim has no textures or surfaces, so an array is only what the rest of
// the system can observe of it: a validated handle, its descriptor, and the
// device memory it takes, charged against the device's capacity
// (OUT_OF_MEMORY when the device is full, nothing created). Its footprint is
// width * max(height, 1) * max(depth, 1) * bytes per element, rounded up to
// 512 bytes; a mipmapped array takes the sum of its levels. The layouts a GPU
// uses (tiling, padding) are larger; the sim does not pretend to know them.
//
// Formats: the eight classic ones (1, 2 or 4 channels) and the normalized
// *X1/*X2/*X4 ones. Block-compressed and YUV formats, sparse and
// deferred-mapping arrays are not simulated (CUDA_ERROR_NOT_SUPPORTED).
//
// Handles of both kinds are checked against their own registry: a destroyed,
// foreign or wrong-kind handle is CUDA_ERROR_INVALID_HANDLE. Arrays belong to
// the context that created them and are released with it.
#include "memory_internal.h"

namespace gpupool::sim {
namespace {

struct Array {
  Context* ctx = nullptr;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  unsigned levels = 0;  // 0: a CUarray; else a CUmipmappedArray's (clamped) level count
  uint64_t bytes = 0;
  std::atomic<bool> destroyed{false};
};

HandleRegistry<Array> g_arrays;     // CUarray
HandleRegistry<Array> g_mipmapped;  // CUmipmappedArray

// Limits of the simulated device (an H100's, as device_attributes.cc reports).
constexpr size_t kMax1D = 131072, kMax2DWidth = 131072, kMax2DHeight = 65536, kMax3D = 16384;
constexpr size_t kMaxLayered = 32768, kMaxLayers = 2048, kMaxCubemap = 32768;

constexpr unsigned kKnownFlags = CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_CUBEMAP |
                                 CUDA_ARRAY3D_TEXTURE_GATHER | CUDA_ARRAY3D_DEPTH_TEXTURE |
                                 CUDA_ARRAY3D_COLOR_ATTACHMENT | CUDA_ARRAY3D_SPARSE |
                                 CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE;
constexpr unsigned kUnsimulatedFlags =
    CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE;

// Bytes per element, or 0 with *result set when the format/channels pair is refused.
size_t element_bytes(CUarray_format format, unsigned channels, CUresult* result) {
  size_t component = 0;
  unsigned fixed_channels = 0;  // the *X<n> formats carry their channel count
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8: component = 1; break;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF: component = 2; break;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT: component = 4; break;
    case CU_AD_FORMAT_UNORM_INT8X1: case CU_AD_FORMAT_SNORM_INT8X1: component = 1; fixed_channels = 1; break;
    case CU_AD_FORMAT_UNORM_INT8X2: case CU_AD_FORMAT_SNORM_INT8X2: component = 1; fixed_channels = 2; break;
    case CU_AD_FORMAT_UNORM_INT8X4: case CU_AD_FORMAT_SNORM_INT8X4: component = 1; fixed_channels = 4; break;
    case CU_AD_FORMAT_UNORM_INT16X1: case CU_AD_FORMAT_SNORM_INT16X1: component = 2; fixed_channels = 1; break;
    case CU_AD_FORMAT_UNORM_INT16X2: case CU_AD_FORMAT_SNORM_INT16X2: component = 2; fixed_channels = 2; break;
    case CU_AD_FORMAT_UNORM_INT16X4: case CU_AD_FORMAT_SNORM_INT16X4: component = 2; fixed_channels = 4; break;
    case CU_AD_FORMAT_NV12:
    case CU_AD_FORMAT_BC1_UNORM: case CU_AD_FORMAT_BC1_UNORM_SRGB:
    case CU_AD_FORMAT_BC2_UNORM: case CU_AD_FORMAT_BC2_UNORM_SRGB:
    case CU_AD_FORMAT_BC3_UNORM: case CU_AD_FORMAT_BC3_UNORM_SRGB:
    case CU_AD_FORMAT_BC4_UNORM: case CU_AD_FORMAT_BC4_SNORM:
    case CU_AD_FORMAT_BC5_UNORM: case CU_AD_FORMAT_BC5_SNORM:
    case CU_AD_FORMAT_BC6H_UF16: case CU_AD_FORMAT_BC6H_SF16:
    case CU_AD_FORMAT_BC7_UNORM: case CU_AD_FORMAT_BC7_UNORM_SRGB:
    case CU_AD_FORMAT_P010: case CU_AD_FORMAT_P016: case CU_AD_FORMAT_NV16:
    case CU_AD_FORMAT_P210: case CU_AD_FORMAT_P216: case CU_AD_FORMAT_YUY2:
    case CU_AD_FORMAT_Y210: case CU_AD_FORMAT_Y216: case CU_AD_FORMAT_AYUV:
    case CU_AD_FORMAT_Y410: case CU_AD_FORMAT_Y416: case CU_AD_FORMAT_Y444_PLANAR8:
    case CU_AD_FORMAT_Y444_PLANAR10: case CU_AD_FORMAT_YUV444_8bit_SemiPlanar:
    case CU_AD_FORMAT_YUV444_16bit_SemiPlanar: case CU_AD_FORMAT_UNORM_INT_101010_2:
      *result = CUDA_ERROR_NOT_SUPPORTED;
      return 0;
    default:
      *result = CUDA_ERROR_INVALID_VALUE;
      return 0;
  }
  if (channels != 1 && channels != 2 && channels != 4) {
    *result = CUDA_ERROR_INVALID_VALUE;
    return 0;
  }
  if (fixed_channels != 0 && channels != fixed_channels) {
    *result = CUDA_ERROR_INVALID_VALUE;
    return 0;
  }
  return component * channels;
}

// The shape rules of cuArray3DCreate's reference.
CUresult check_shape(const CUDA_ARRAY3D_DESCRIPTOR& d) {
  if ((d.Flags & ~kKnownFlags) != 0 || d.Width == 0) return CUDA_ERROR_INVALID_VALUE;
  if (d.Flags & kUnsimulatedFlags) return CUDA_ERROR_NOT_SUPPORTED;
  const bool layered = d.Flags & CUDA_ARRAY3D_LAYERED;
  if (d.Flags & CUDA_ARRAY3D_CUBEMAP) {
    if (d.Width != d.Height || d.Width > kMaxCubemap || d.Depth == 0 || d.Depth % 6 != 0) return CUDA_ERROR_INVALID_VALUE;
    if (!layered && d.Depth != 6) return CUDA_ERROR_INVALID_VALUE;
    if (layered && d.Depth / 6 > kMaxLayers) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  }
  if (layered) {  // Depth is the number of layers (of 1D arrays when Height is 0)
    if (d.Depth == 0 || d.Depth > kMaxLayers || d.Width > kMaxLayered || d.Height > kMaxLayered)
      return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  }
  if (d.Height == 0 && d.Depth == 0) return d.Width <= kMax1D ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  if (d.Depth == 0) {
    return d.Width <= kMax2DWidth && d.Height <= kMax2DHeight ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  }
  if (d.Height == 0) return CUDA_ERROR_INVALID_VALUE;  // 3D needs a height
  return d.Width <= kMax3D && d.Height <= kMax3D && d.Depth <= kMax3D ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

size_t level_bytes(size_t w, size_t h, size_t d, size_t element) {
  return round_up(w * (h ? h : 1) * (d ? d : 1) * element, kLinearAlign);  // dimensions are bounded above
}

// Bytes of an array with `levels` mip levels (1 for a plain array).
uint64_t footprint(const CUDA_ARRAY3D_DESCRIPTOR& d, unsigned levels, size_t element) {
  // Layers and cube faces are not mip-mapped; width, height and a 3D depth halve.
  const bool depth_halves = (d.Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) == 0;
  size_t w = d.Width, h = d.Height, z = d.Depth;
  uint64_t total = 0;
  for (unsigned i = 0; i < levels; ++i) {
    total += level_bytes(w, h, z, element);
    w = w > 1 ? w / 2 : 1;
    if (h) h = h > 1 ? h / 2 : 1;
    if (z && depth_halves) z = z > 1 ? z / 2 : 1;
  }
  return total;
}

unsigned max_levels(const CUDA_ARRAY3D_DESCRIPTOR& d) {
  const bool depth_counts = (d.Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) == 0;
  size_t largest = d.Width;
  if (d.Height > largest) largest = d.Height;
  if (depth_counts && d.Depth > largest) largest = d.Depth;
  unsigned levels = 1;
  while (largest > 1) {
    largest /= 2;
    ++levels;
  }
  return levels;
}

CUresult create(const CUDA_ARRAY3D_DESCRIPTOR* desc, unsigned levels, Array** out) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult refused = CUDA_SUCCESS;
  size_t element = element_bytes(desc->Format, desc->NumChannels, &refused);
  if (element == 0) return refused;
  if (CUresult r = check_shape(*desc); r != CUDA_SUCCESS) return r;
  // The reference clamps the level count to [1, 1 + floor(log2(largest dimension))].
  unsigned counted = levels == 0 ? 1 : levels;
  if (counted > max_levels(*desc)) counted = max_levels(*desc);
  uint64_t bytes = footprint(*desc, counted, element);
  if (!ctx->device->reserve(bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  auto* a = new Array;
  a->ctx = ctx;
  a->desc = *desc;
  a->levels = levels == 0 ? 0 : counted;
  a->bytes = bytes;
  *out = a;
  return CUDA_SUCCESS;
}

// Gives the memory back once, however many threads race to destroy `a`.
void destroy(HandleRegistry<Array>& registry, Array* a) {
  if (a->destroyed.exchange(true)) return;
  registry.remove(a);
  a->ctx->device->release(a->bytes);
  // The object stays allocated so a stale handle never aliases a newer array.
}

CUresult destroy_handle(HandleRegistry<Array>& registry, const void* handle) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (!registry.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  auto* a = static_cast<Array*>(const_cast<void*>(handle));
  if (a->destroyed.load()) return CUDA_ERROR_INVALID_HANDLE;
  destroy(registry, a);
  return CUDA_SUCCESS;
}

CUDA_ARRAY3D_DESCRIPTOR from_2d(const CUDA_ARRAY_DESCRIPTOR& d) {
  CUDA_ARRAY3D_DESCRIPTOR out{};
  out.Width = d.Width;
  out.Height = d.Height;
  out.Depth = 0;
  out.Format = d.Format;
  out.NumChannels = d.NumChannels;
  out.Flags = 0;
  return out;
}

CUresult lookup_array(CUarray handle, Array** out) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (!g_arrays.contains(handle)) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<Array*>(handle);
  return CUDA_SUCCESS;
}

}  // namespace

void arrays_release_context(Context* ctx) {
  for (Array* a : g_arrays.all())
    if (a->ctx == ctx) destroy(g_arrays, a);
  for (Array* a : g_mipmapped.all())
    if (a->ctx == ctx) destroy(g_mipmapped, a);
}

}  // namespace gpupool::sim

// ---- entry points -------------------------------------------------------------

using namespace gpupool::sim;

SIM_API CUresult cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* pAllocateArray) {
  if (pHandle == nullptr || pAllocateArray == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  CUDA_ARRAY3D_DESCRIPTOR desc = from_2d(*pAllocateArray);
  Array* a = nullptr;
  if (CUresult r = create(&desc, 0, &a); r != CUDA_SUCCESS) return r;
  g_arrays.add(a);
  *pHandle = reinterpret_cast<CUarray>(a);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* pAllocateArray) {
  if (pHandle == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  Array* a = nullptr;
  if (CUresult r = create(pAllocateArray, 0, &a); r != CUDA_SUCCESS) return r;
  g_arrays.add(a);
  *pHandle = reinterpret_cast<CUarray>(a);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuArrayDestroy(CUarray hArray) { return destroy_handle(g_arrays, hArray); }

SIM_API CUresult cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR* pArrayDescriptor, CUarray hArray) {
  Array* a = nullptr;
  if (CUresult r = lookup_array(hArray, &a); r != CUDA_SUCCESS) return r;
  if (pArrayDescriptor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  pArrayDescriptor->Width = a->desc.Width;
  pArrayDescriptor->Height = a->desc.Height;
  pArrayDescriptor->Format = a->desc.Format;
  pArrayDescriptor->NumChannels = a->desc.NumChannels;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR* pArrayDescriptor, CUarray hArray) {
  Array* a = nullptr;
  if (CUresult r = lookup_array(hArray, &a); r != CUDA_SUCCESS) return r;
  if (pArrayDescriptor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pArrayDescriptor = a->desc;
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMipmappedArrayCreate(CUmipmappedArray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* pMipmappedArrayDesc,
                                        unsigned int numMipmapLevels) {
  if (pHandle == nullptr) {
    if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
    return CUDA_ERROR_INVALID_VALUE;
  }
  Array* a = nullptr;
  if (CUresult r = create(pMipmappedArrayDesc, numMipmapLevels == 0 ? 1 : numMipmapLevels, &a); r != CUDA_SUCCESS) return r;
  g_mipmapped.add(a);
  *pHandle = reinterpret_cast<CUmipmappedArray>(a);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray) {
  return destroy_handle(g_mipmapped, hMipmappedArray);
}
