package io.gpupool.cli;

import com.google.protobuf.ByteString;
import io.gpupool.driver.DeviceProperties;
import io.gpupool.proto.v1.DeviceInfo;
import io.gpupool.proto.v1.DeviceList;
import java.util.List;

/** Driver-reported device properties as the wire messages of proto/gpupool/v1/device.proto. */
final class DeviceInfos {
  private DeviceInfos() {}

  static DeviceInfo toProto(DeviceProperties device) {
    return DeviceInfo.newBuilder()
        .setOrdinal(device.ordinal())
        .setName(device.name())
        .setUuid(ByteString.copyFrom(device.uuid()))
        .setTotalMemoryBytes(device.totalMemoryBytes())
        .setComputeCapabilityMajor(device.computeCapabilityMajor())
        .setComputeCapabilityMinor(device.computeCapabilityMinor())
        .setMultiprocessorCount(device.multiprocessorCount())
        .build();
  }

  static DeviceList toProto(List<DeviceProperties> devices) {
    DeviceList.Builder list = DeviceList.newBuilder();
    devices.forEach(device -> list.addDevices(toProto(device)));
    return list.build();
  }
}
