package io.gpupool.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.agent.Placement.DeviceLoad;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PlacementTest {
  private static final long GIB = 1L << 30;

  @Test
  void packsOntoTheFullestDeviceThatFits() {
    List<DeviceLoad> loads = List.of(new DeviceLoad(0, 80 * GIB, 0), new DeviceLoad(1, 80 * GIB, 60 * GIB),
        new DeviceLoad(2, 80 * GIB, 75 * GIB));
    assertEquals(Optional.of(List.of(1)), Placement.place(loads, 1, 8 * GIB)); // 2 has only 5 GiB left
    assertEquals(Optional.of(List.of(2)), Placement.place(loads, 1, 4 * GIB));
  }

  @Test
  void severalGpusAreDistinctDevicesEachWithTheQuota() {
    List<DeviceLoad> loads = List.of(new DeviceLoad(0, 16 * GIB, 10 * GIB), new DeviceLoad(1, 16 * GIB, 0),
        new DeviceLoad(2, 16 * GIB, 4 * GIB));
    assertEquals(Optional.of(List.of(1, 2)), Placement.place(loads, 2, 8 * GIB));
    assertEquals(Optional.empty(), Placement.place(loads, 3, 8 * GIB));
    assertEquals(Optional.of(List.of(0, 1, 2)), Placement.place(loads, 3, 6 * GIB));
  }

  @Test
  void wholeDeviceNeedsNothingGranted() {
    List<DeviceLoad> loads = List.of(new DeviceLoad(0, 16 * GIB, 1), new DeviceLoad(1, 16 * GIB, 0));
    assertEquals(Optional.of(List.of(1)), Placement.place(loads, 1, 0));
    assertEquals(Optional.empty(), Placement.place(loads, 2, 0));
    assertEquals(16 * GIB, Placement.quotaOn(loads.get(1), 0));
  }

  @Test
  void everFitsIgnoresCurrentGrants() {
    List<DeviceLoad> loads = List.of(new DeviceLoad(0, 16 * GIB, 16 * GIB), new DeviceLoad(1, 24 * GIB, 24 * GIB));
    assertTrue(Placement.everFits(loads, 1, 20 * GIB));
    assertFalse(Placement.everFits(loads, 2, 20 * GIB));
    assertFalse(Placement.everFits(loads, 1, 25 * GIB));
  }
}
