package io.gpupool.client;

import java.util.Arrays;

/**
 * The device a {@link RemoteGpu} runs on, as its driver reports it.
 *
 * @param attributes {@code cuDeviceGetAttribute} of every {@code CUdevice_attribute}
 *     value v from 1 at index v-1 (0 where unsupported); see {@link #attribute}
 * @param driverVersion {@code cuDriverGetVersion}, e.g. 13000
 */
public record GpuDevice(
    String name,
    byte[] uuid,
    long totalMemoryBytes,
    int computeCapabilityMajor,
    int computeCapabilityMinor,
    int multiprocessorCount,
    int[] attributes,
    int driverVersion) {

  public GpuDevice {
    uuid = uuid.clone();
    attributes = attributes.clone();
  }

  /** One attribute by its {@code CUdevice_attribute} value; 0 when unknown or unsupported. */
  public int attribute(int cuDeviceAttribute) {
    int index = cuDeviceAttribute - 1;
    return index >= 0 && index < attributes.length ? attributes[index] : 0;
  }

  @Override
  public byte[] uuid() {
    return uuid.clone();
  }

  @Override
  public int[] attributes() {
    return attributes.clone();
  }

  @Override
  public String toString() {
    return "GpuDevice[" + name + ", " + totalMemoryBytes + " bytes, cc " + computeCapabilityMajor
        + "." + computeCapabilityMinor + ", " + multiprocessorCount + " SMs, driver "
        + driverVersion + ", " + Arrays.stream(attributes).filter(a -> a != 0).count()
        + " attributes]";
  }
}
