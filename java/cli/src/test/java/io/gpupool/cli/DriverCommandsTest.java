package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.driver.SimulatedDriver;
import io.gpupool.proto.v1.DeviceInfo;
import io.gpupool.proto.v1.DeviceList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** devices and demo end to end, in-process, against the simulated driver (2 devices, 4GiB). */
class DriverCommandsTest {
  @BeforeAll
  static void driverBuilt() {
    SimulatedDriver.requireBuilt();
  }

  @Test
  void devicesJsonIsADeviceList() throws Exception {
    GpupoolRun run = GpupoolRun.of("devices", "--json");
    assertEquals(0, run.exitCode(), run.err());

    DeviceList.Builder parsed = DeviceList.newBuilder();
    JsonFormat.parser().merge(run.out(), parsed);
    DeviceList list = parsed.build();

    assertEquals(2, list.getDevicesCount());
    for (int i = 0; i < 2; i++) {
      DeviceInfo device = list.getDevices(i);
      assertEquals(i, device.getOrdinal());
      assertEquals("gpupool test GPU", device.getName());
      assertEquals(4L << 30, device.getTotalMemoryBytes());
      assertEquals(16, device.getUuid().size());
      assertTrue(device.getComputeCapabilityMajor() > 0);
      assertTrue(device.getMultiprocessorCount() > 0);
    }
    assertNotEquals(list.getDevices(0).getUuid(), list.getDevices(1).getUuid());
    // Every field is printed, the zero ordinal included.
    assertTrue(run.out().contains("\"ordinal\": 0"), run.out());
  }

  @Test
  void devicesTable() {
    GpupoolRun run = GpupoolRun.of("devices");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().startsWith("2 devices"), run.out());
    assertTrue(run.out().contains("gpupool test GPU  4GiB"), run.out());
  }

  @Test
  void demoRunsSaxpyCorrectly() {
    GpupoolRun run = GpupoolRun.of("demo");
    assertEquals(0, run.exitCode(), run.out() + run.err());
    assertTrue(run.out().contains("max error 0.0"), run.out());
    assertTrue(run.out().contains("-> OK"), run.out());
  }
}
