package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.driver.Cuda;
import io.gpupool.driver.SimulatedDriver;
import io.gpupool.proto.v1.DeviceInfo;
import io.gpupool.proto.v1.DeviceList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * devices and demo end to end, in-process, against the driver on LD_LIBRARY_PATH (the
 * simulated one with 2 devices of 4GiB by default; sim_only tests are excluded on a real one).
 */
class DriverCommandsTest {
  @BeforeAll
  static void driverBuilt() {
    SimulatedDriver.requireBuilt();
  }

  @Test
  void devicesJsonIsADeviceList() throws Exception {
    DeviceList list = devicesJson();
    assertEquals(Cuda.deviceCount(), list.getDevicesCount());
    for (int i = 0; i < list.getDevicesCount(); i++) {
      DeviceInfo device = list.getDevices(i);
      assertEquals(i, device.getOrdinal());
      assertTrue(!device.getName().isEmpty());
      assertTrue(device.getTotalMemoryBytes() > 0);
      assertEquals(16, device.getUuid().size());
      assertTrue(device.getComputeCapabilityMajor() > 0);
      assertTrue(device.getMultiprocessorCount() > 0);
    }
  }

  @Test
  @Tag("sim_only")
  void devicesJsonShowsTheSimulatorsConfiguration() throws Exception {
    DeviceList list = devicesJson();
    assertEquals(2, list.getDevicesCount());
    for (DeviceInfo device : list.getDevicesList()) {
      assertEquals("gpupool test GPU", device.getName());
      assertEquals(4L << 30, device.getTotalMemoryBytes());
    }
    assertNotEquals(list.getDevices(0).getUuid(), list.getDevices(1).getUuid());
  }

  @Test
  @Tag("sim_only")
  void devicesTable() {
    GpupoolRun run = GpupoolRun.of("devices");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().startsWith("2 devices"), run.out());
    assertTrue(run.out().contains("  0  gpupool test GPU  4GiB  cc "), run.out());
  }

  private static DeviceList devicesJson() throws Exception {
    GpupoolRun run = GpupoolRun.of("devices", "--json");
    assertEquals(0, run.exitCode(), run.err());
    // Every field is printed, the zero ordinal included.
    assertTrue(run.out().contains("\"ordinal\": 0"), run.out());
    DeviceList.Builder parsed = DeviceList.newBuilder();
    JsonFormat.parser().merge(run.out(), parsed);
    return parsed.build();
  }

  @Test
  void demoRunsSaxpyAndPoolsFourJobs() {
    // The demo's jobs need the shim, the sim and the example job: the native build tree has them.
    String before = System.getProperty("gpupool.home");
    System.setProperty("gpupool.home", JavaProcess.nativeBuild().toString());
    GpupoolRun run;
    try {
      run = GpupoolRun.of("demo");
    } finally {
      if (before == null) System.clearProperty("gpupool.home");
      else System.setProperty("gpupool.home", before);
    }
    assertEquals(0, run.exitCode(), run.out() + run.err());
    assertTrue(run.out().contains("max error 0.0"), run.out());
    assertTrue(run.out().contains("status page: http://127.0.0.1:"), run.out());
    // 4 GiB devices (surefire's GPUPOOL_SIM_MEMORY): quotas of 1/2, 3/8, 1/4 and 1/16 of one.
    String[][] rows = {{"resnet-train", "vision", "2GiB"}, {"bert-finetune", "nlp", "1.5GiB"},
        {"eval-sweep", "vision", "1GiB"}, {"notebook", "research", "256MiB"}};
    for (String[] r : rows) {
      // JOB TEAM QUOTA WAITED cuMemGetInfo-total NVML-total alloc-within alloc-beyond EXIT
      String quota = java.util.regex.Pattern.quote(r[2]);
      String row = "(?m)^" + r[0] + " +" + r[1] + " +" + quota + " +(yes|no) +" + quota + " +" + quota
          + " +CUDA_SUCCESS +CUDA_ERROR_OUT_OF_MEMORY +0$";
      assertTrue(java.util.regex.Pattern.compile(row).matcher(run.out()).find(), row + " in\n" + run.out());
    }
    assertTrue(run.out().contains("pooling: every job saw its quota and was held to it -> OK"), run.out());
  }
}
