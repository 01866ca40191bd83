// device_identity.cc — what identifies a simulated GPU (sim.h, hardware identity).
//
// Compiled into both the simulated driver and the simulated NVML, so that
// cuDeviceGetUuid and nvmlDeviceGetUUID describe the same 16 bytes. Pure
// functions of their arguments; thread-safe.
#include <gpupool/nvml_uuid.h>

#include <cstring>

#include "sim.h"

namespace gpupool::sim {

void device_uuid(const std::string& name, int physical, unsigned char out[16]) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  h ^= static_cast<uint64_t>(physical) * 0x9E3779B97F4A7C15ull;
  uint64_t h2 = (h ^ 0xC2B2AE3D27D4EB4Full) * 1099511628211ull;
  std::memcpy(out, &h, 8);
  std::memcpy(out + 8, &h2, 8);
  out[6] = static_cast<unsigned char>((out[6] & 0x0f) | 0x40);
  out[8] = static_cast<unsigned char>((out[8] & 0x3f) | 0x80);
}

std::string uuid_text(const unsigned char b[16]) {
  char text[GPUPOOL_NVML_UUID_TEXT_SIZE];
  gpupool_nvml_uuid_text(b, text);
  return text;
}

}  // namespace gpupool::sim
