package io.gpupool.region;

/**
 * A physical device as the node table lists it ({@code gpupool_node_device}).
 *
 * @param totalBytes the device's memory (cuDeviceTotalMem)
 * @param uuid the device's 16-byte UUID (cuDeviceGetUuid); null is read as all zero
 * @param name the device's name (cuDeviceGetName); the table keeps at most what fits its field
 *     with the NUL (cut at a UTF-8 character boundary)
 */
public record DeviceRecord(long totalBytes, byte[] uuid, String name) {}
