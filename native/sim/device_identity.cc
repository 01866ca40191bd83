// device_identity.cc — what identifies a simulated GPU (sim.h, hardware identity).
//
// Compiled into both the simulated driver and the simulated NVML, so that
// cuDeviceGetUuid and nvmlDeviceGetUUID describe the same 16 bytes. Pure
// functions of their arguments; thread-safe.
#include <cstdio>
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
  char text[48];
  std::snprintf(text, sizeof(text),
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return text;
}

}  // namespace gpupool::sim
