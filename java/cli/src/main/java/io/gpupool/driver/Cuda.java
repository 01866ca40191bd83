package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceGetUuid;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.CUuuid;
import jcuda.driver.JCudaDriver;

/**
 * Entry to the CUDA driver API through JCuda. JCuda's own exceptions are turned off:
 * every call's {@code CUresult} is checked here and a failure becomes a
 * {@link CudaException} naming the call and the error.
 */
public final class Cuda {
  private static boolean initialised;

  private Cuda() {}

  /** Throws {@link CudaException} unless {@code result} is {@code CUDA_SUCCESS}. */
  public static void check(String call, int result) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw new CudaException(call, result);
    }
  }

  /** Loads the driver and calls {@code cuInit(0)}, once per process. */
  public static synchronized void init() {
    if (initialised) {
      return;
    }
    try {
      JCudaDriver.setExceptionsEnabled(false);
    } catch (LinkageError e) {
      throw new DriverUnavailableException(e);
    }
    check("cuInit", cuInit(0));
    initialised = true;
  }

  /** The driver's CUDA version, e.g. 13000 for 13.0. */
  public static int driverVersion() {
    init();
    int[] version = new int[1];
    check("cuDriverGetVersion", cuDriverGetVersion(version));
    return version[0];
  }

  public static int deviceCount() {
    init();
    int[] count = new int[1];
    check("cuDeviceGetCount", cuDeviceGetCount(count));
    return count[0];
  }

  public static CUdevice device(int ordinal) {
    init();
    CUdevice device = new CUdevice();
    check("cuDeviceGet", cuDeviceGet(device, ordinal));
    return device;
  }

  public static DeviceProperties properties(int ordinal) {
    CUdevice device = device(ordinal);

    byte[] name = new byte[256];
    check("cuDeviceGetName", cuDeviceGetName(name, name.length, device));
    int length = 0;
    while (length < name.length && name[length] != 0) {
      length++;
    }

    CUuuid uuid = new CUuuid();
    check("cuDeviceGetUuid", cuDeviceGetUuid(uuid, device));

    long[] totalMemory = new long[1];
    check("cuDeviceTotalMem", cuDeviceTotalMem(totalMemory, device));

    return new DeviceProperties(
        ordinal,
        new String(name, 0, length, StandardCharsets.UTF_8),
        uuid.bytes.clone(),
        totalMemory[0],
        attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
        attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
        attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
  }

  /** Every device the driver shows this process, in ordinal order. */
  public static List<DeviceProperties> devices() {
    int count = deviceCount();
    List<DeviceProperties> devices = new ArrayList<>(count);
    for (int ordinal = 0; ordinal < count; ordinal++) {
      devices.add(properties(ordinal));
    }
    return devices;
  }

  public static int attribute(CUdevice device, int attribute) {
    int[] value = new int[1];
    check("cuDeviceGetAttribute(" + CUdevice_attribute.stringFor(attribute) + ")",
        cuDeviceGetAttribute(value, attribute, device));
    return value[0];
  }
}
