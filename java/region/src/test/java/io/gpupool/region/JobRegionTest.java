package io.gpupool.region;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.region.binding.GpupoolLayout;
import io.gpupool.region.binding.gpupool_region;
import io.gpupool.region.binding.gpupool_region_slot;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Consumer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Regions written here through the binding, as the shim would, then read by JobRegion. */
class JobRegionTest {
  private static final long MIB = 1L << 20;
  private final int uid = Processes.euid();
  private String key;
  private Path path;

  @BeforeEach
  void name() {
    key = "region-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    path = JobRegion.path(uid, key);
  }

  @AfterEach
  void cleanUp() throws IOException {
    Files.deleteIfExists(path);
  }

  /** A region as the shim creates one: two LIVE slots (5 and 9) around a FREE one. */
  private void writeRegion(Consumer<gpupool_region> change) throws IOException {
    int size = Loader.sizeof(gpupool_region.class);
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
      channel.truncate(0);
      channel.write(java.nio.ByteBuffer.allocate(size), 0);
      MappedByteBuffer mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, size);
      gpupool_region region = new gpupool_region(new BytePointer(mapping));
      region.header().layout_version(GpupoolLayout.GPUPOOL_REGION_LAYOUT_VERSION)
          .header_size(256).region_size(size)
          .max_devices(GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES).max_slots(GpupoolLayout.GPUPOOL_REGION_MAX_SLOTS)
          .owner_uid(uid).creator_pid(1).created_unix_ns(5);
      region.header().job().put(key.getBytes(StandardCharsets.US_ASCII));
      for (int d = 0; d < GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES; d++) {
        region.devices(d).limit_bytes(GpupoolLayout.GPUPOOL_REGION_UNLIMITED);
      }
      region.devices(0).limit_bytes(512 * MIB).used_bytes(300 * MIB);
      region.devices(1).used_bytes(7 * MIB);
      gpupool_region_slot live = region.slots(5);
      live.pid(111).start_time(222).used(0, 100 * MIB).used(1, 7 * MIB).state(GpupoolLayout.GPUPOOL_SLOT_LIVE);
      region.slots(6).pid(333).start_time(444).used(0, 1).state(GpupoolLayout.GPUPOOL_SLOT_FREE);
      region.slots(9).pid(555).start_time(666).used(0, 200 * MIB).state(GpupoolLayout.GPUPOOL_SLOT_LIVE);
      region.header().magic().put(GpupoolLayout.GPUPOOL_REGION_MAGIC.getBytes(StandardCharsets.US_ASCII));
      change.accept(region);
      Reference.reachabilityFence(mapping);
    }
  }

  @Test
  void readsWhatTheShimWrote() throws IOException {
    writeRegion(region -> {});
    JobRegion.Snapshot snapshot = JobRegion.read(uid, key).orElseThrow();
    assertEquals(key, snapshot.jobKey());
    assertEquals(512 * MIB, snapshot.limitBytes()[0]);
    assertEquals(-1L, snapshot.limitBytes()[1]);
    assertEquals(300 * MIB, snapshot.usedBytes()[0]);
    assertEquals(7 * MIB, snapshot.usedBytes()[1]);
    assertEquals(16, snapshot.usedBytes().length);
    assertFalse(snapshot.retired());
    assertEquals(2, snapshot.liveSlots().size());
    JobRegion.Slot first = snapshot.liveSlots().get(0);
    assertEquals(111, first.pid());
    assertEquals(222, first.startTime());
    assertEquals(100 * MIB, first.usedBytes()[0]);
    assertEquals(7 * MIB, first.usedBytes()[1]);
    assertEquals(555, snapshot.liveSlots().get(1).pid());
    assertArrayEquals(snapshot.usedBytes(), JobRegion.read(path).orElseThrow().usedBytes());
  }

  @Test
  void retired() throws IOException {
    writeRegion(region -> region.header().retired(1));
    assertTrue(JobRegion.read(uid, key).orElseThrow().retired());
  }

  @Test
  void absent() throws IOException {
    assertTrue(JobRegion.read(uid, key).isEmpty());
    assertTrue(JobRegion.read(path).isEmpty());
  }

  @Test
  void refusesWrongLayoutVersion() throws IOException {
    writeRegion(region -> region.header().layout_version(9));
    assertRefused("layout_version 9 (expected 2)");
  }

  @Test
  void refusesWrongMagic() throws IOException {
    writeRegion(region -> region.header().magic(1, (byte) 'X'));
    assertRefused("wrong magic");
  }

  @Test
  void refusesAnUnfinishedRegion() throws IOException {
    writeRegion(region -> region.header().magic().put(new byte[8]));
    assertRefused("magic is all zero");
  }

  @Test
  void refusesAnotherJobsKey() throws IOException {
    writeRegion(region -> region.header().job(0, (byte) 'R'));
    assertRefused("holds job Region-test");
  }

  @Test
  void refusesAnOwnerUidThatIsNotTheFilesOwner() throws IOException {
    writeRegion(region -> region.header().owner_uid(uid + 1));
    assertRefused("owner_uid");
  }

  @Test
  void refusesATruncatedRegion() throws IOException {
    writeRegion(region -> {});
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(4096);
    }
    assertRefused("wrong size: 4096 bytes, expected 303104");
  }

  @Test
  void refusesAnotherUsersFile() throws IOException {
    writeRegion(region -> {});
    Files.setAttribute(path, "unix:uid", uid + 1);
    assertRefused("owned by uid " + (uid + 1));
  }

  @Test
  void jobKeys() {
    assertEquals(Path.of("/dev/shm/gpupool-1000-a.b_c-1"), JobRegion.path(1000, "a.b_c-1"));
    assertThrows(IllegalArgumentException.class, () -> JobRegion.path(1000, "a~b"));
    assertThrows(IllegalArgumentException.class, () -> JobRegion.path(1000, "../x"));
  }

  private void assertRefused(String what) {
    IOException refused = assertThrows(IOException.class, () -> JobRegion.read(uid, key));
    assertTrue(refused.getMessage().contains(path.toString()), refused.getMessage());
    assertTrue(refused.getMessage().contains(what), refused.getMessage());
  }
}
