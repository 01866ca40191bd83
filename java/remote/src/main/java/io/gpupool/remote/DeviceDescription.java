package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceGetUuid;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.DeviceInfo;
import io.gpupool.proto.v1.Welcome;
import java.nio.charset.StandardCharsets;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUuuid;

/**
 * The Welcome a session gets: its device as the driver (under the shim) shows it, so that a
 * remote cuDeviceGetAttribute or cuDeviceTotalMem needs no round trip. Read once, on the thread
 * that holds the session's context (cuMemGetInfo needs one).
 */
final class DeviceDescription {
  /**
   * CU_DEVICE_ATTRIBUTE_MAX of CUDA 13.0's cuda.h is 148: attributes 1..147. A client built
   * against an older cuda.h reads a prefix; attributes this driver does not know read 0.
   */
  static final int ATTRIBUTE_COUNT = 147;

  private DeviceDescription() {}

  static Welcome welcome(CUdevice device, int ordinal, WorkerLimits limits) {
    DeviceInfo.Builder info = DeviceInfo.newBuilder().setOrdinal(ordinal);
    byte[] name = new byte[256];
    if (cuDeviceGetName(name, name.length, device) == CudaResult.SUCCESS) {
      int n = 0;
      while (n < name.length && name[n] != 0) n++;
      info.setName(new String(name, 0, n, StandardCharsets.UTF_8));
    }
    CUuuid uuid = new CUuuid();
    if (cuDeviceGetUuid(uuid, device) == CudaResult.SUCCESS && uuid.bytes != null) {
      info.setUuid(ByteString.copyFrom(uuid.bytes));
    }
    long[] total = new long[1];
    if (cuDeviceTotalMem(total, device) == CudaResult.SUCCESS) info.setTotalMemoryBytes(total[0]);
    info.setComputeCapabilityMajor(attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR))
        .setComputeCapabilityMinor(attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))
        .setMultiprocessorCount(attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));

    Welcome.Builder welcome = Welcome.newBuilder().setDevice(info);
    for (int a = 1; a <= ATTRIBUTE_COUNT; a++) welcome.addAttributes(attribute(device, a));
    int[] version = new int[1];
    if (cuDriverGetVersion(version) == CudaResult.SUCCESS) welcome.setDriverVersion(version[0]);
    // Under the shim, total is the session's quota.
    long[] free = new long[1];
    long[] quota = new long[1];
    if (cuMemGetInfo(free, quota) == CudaResult.SUCCESS) welcome.setMemoryLimitBytes(quota[0]);
    return welcome
        .setMaxHandles(limits.maxHandles())
        .setMaxAllocationBytes(limits.maxAllocationBytes())
        .build();
  }

  private static int attribute(CUdevice device, int attribute) {
    int[] value = new int[1];
    return cuDeviceGetAttribute(value, attribute, device) == CudaResult.SUCCESS ? value[0] : 0;
  }
}
