package io.gpupool.client;

import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceGetUuid;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUuuid;

/** A local device's properties, read once through the driver (on the GPU's thread). */
final class LocalDevice {
  // Beyond the last CUdevice_attribute of current drivers; unknown values read as 0.
  private static final int ATTRIBUTE_LIMIT = 160;

  private LocalDevice() {}

  static GpuDevice read(CUdevice device) {
    byte[] name = new byte[256];
    LocalBackend.check("cuDeviceGetName", cuDeviceGetName(name, name.length, device));
    int length = 0;
    while (length < name.length && name[length] != 0) {
      length++;
    }
    CUuuid uuid = new CUuuid();
    LocalBackend.check("cuDeviceGetUuid", cuDeviceGetUuid(uuid, device));
    long[] total = new long[1];
    LocalBackend.check("cuDeviceTotalMem", cuDeviceTotalMem(total, device));
    int[] version = new int[1];
    LocalBackend.check("cuDriverGetVersion", cuDriverGetVersion(version));

    int[] attributes = new int[ATTRIBUTE_LIMIT - 1];
    int last = 0;
    int[] value = new int[1];
    for (int attribute = 1; attribute < ATTRIBUTE_LIMIT; attribute++) {
      if (cuDeviceGetAttribute(value, attribute, device) == 0) {
        attributes[attribute - 1] = value[0];
        if (value[0] != 0) {
          last = attribute;
        }
      }
    }
    attributes = Arrays.copyOf(attributes, last);
    return new GpuDevice(
        new String(name, 0, length, StandardCharsets.UTF_8),
        uuid.bytes,
        total[0],
        at(attributes, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
        at(attributes, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
        at(attributes, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
        attributes,
        version[0]);
  }

  private static int at(int[] attributes, int attribute) {
    return attribute - 1 < attributes.length ? attributes[attribute - 1] : 0;
  }
}
