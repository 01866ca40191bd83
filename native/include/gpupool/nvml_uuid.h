/* nvml_uuid.h — the text NVML gives a GPU's UUID: "GPU-" and the 16 bytes that
 * cuDeviceGetUuid returns, as 8-4-4-4-12 lowercase hex digits.
 *
 * Contract: gpupool_nvml_uuid_text writes the text (40 characters and a NUL)
 * into `out`, which holds at least GPUPOOL_NVML_UUID_TEXT_SIZE bytes. Used by
 * the simulated driver and NVML (which must agree on it), the shim (to match
 * an NVML device to a CUDA one) and the tests. A pure function; thread-safe.
 */
#ifndef GPUPOOL_NVML_UUID_H
#define GPUPOOL_NVML_UUID_H

#include <stdio.h>

#define GPUPOOL_NVML_UUID_TEXT_SIZE 48

static inline void gpupool_nvml_uuid_text(const unsigned char b[16], char* out) {
  snprintf(out, GPUPOOL_NVML_UUID_TEXT_SIZE,
           "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

#endif /* GPUPOOL_NVML_UUID_H */
