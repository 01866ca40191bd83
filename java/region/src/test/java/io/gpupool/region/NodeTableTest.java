package io.gpupool.region;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.region.binding.GpupoolLayout;
import io.gpupool.region.binding.gpupool_node_table;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class NodeTableTest {
  private static final long GIB = 1L << 30;
  private static final List<DeviceRecord> DEVICES = List.of(
      new DeviceRecord(80 * GIB, uuid(1), "NVIDIA H100 80GB HBM3"),
      new DeviceRecord(80 * GIB, uuid(2), "NVIDIA H100 80GB HBM3"));

  private final List<Path> created = new ArrayList<>();

  private Path newPath() {
    Path path = NodeTable.defaultPath("test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    created.add(path);
    return path;
  }

  @AfterEach
  void cleanUp() throws IOException {
    for (Path path : created) {
      Files.deleteIfExists(path);
      Files.deleteIfExists(path.resolveSibling(path.getFileName() + "~" + ProcessHandle.current().pid()));
    }
  }

  private static byte[] uuid(int seed) {
    byte[] uuid = new byte[16];
    for (int i = 0; i < uuid.length; i++) {
      uuid[i] = (byte) (seed * 16 + i);
    }
    return uuid;
  }

  private static JobEntry job(long id, String key) {
    long[] limits = new long[GpupoolLayout.GPUPOOL_NODE_MAX_DEVICES];
    limits[1] = 8 * GIB;
    limits[0] = GpupoolLayout.GPUPOOL_NODE_UNLIMITED;
    return new JobEntry(id, 1000, key, "train résumé", "vision", 4242, 99, 1_000L, 2_000L, 3,
        new int[] {1, 0}, limits, 0);
  }

  @Test
  void createPublishRead() throws IOException {
    Path path = newPath();
    try (NodeTable table = NodeTable.openOrCreate(path, DEVICES)) {
      assertEquals(path, table.path());
      assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
      assertEquals(2304 + 128 * 512 + 16 * 64, Files.size(path));
      assertEquals(128, table.maxJobs());
      assertEquals(16, table.maxDevices());
      List<DeviceRecord> devices = table.devices();
      assertEquals(2, devices.size());
      assertEquals(80 * GIB, devices.get(1).totalBytes());
      assertArrayEquals(uuid(2), devices.get(1).uuid());
      assertEquals("NVIDIA H100 80GB HBM3", devices.get(1).name());
      assertEquals(1, table.nextJobId());
      assertEquals(2, table.nextJobId());

      int entry = table.freeEntry().orElseThrow();
      assertEquals(0, entry);
      table.publish(entry, job(7, "job-7.a_b"));
      assertEquals(1, table.freeEntry().orElseThrow());
      assertEquals(List.of(0), table.runningEntries());
      JobEntry read = table.read(entry).orElseThrow();
      assertEquals(7, read.jobId());
      assertEquals(1000, read.uid());
      assertEquals("job-7.a_b", read.key());
      assertEquals("train résumé", read.name());
      assertEquals("vision", read.team());
      assertEquals(4242, read.launcherPid());
      assertEquals(99, read.launcherStartTime());
      assertEquals(1_000L, read.submittedUnixNs());
      assertEquals(2_000L, read.startedUnixNs());
      assertEquals(3, read.weight());
      assertArrayEquals(new int[] {1, 0}, read.devices());
      assertArrayEquals(job(7, "x").limitBytes(), read.limitBytes());
      assertEquals(0, read.generation());

      table.setLimit(entry, 1, 4 * GIB);
      table.setWeight(entry, 9);
      table.setGranted(1, 4 * GIB);
      table.heartbeat(123);
      assertEquals(4 * GIB, table.read(entry).orElseThrow().limitBytes()[1]);
      assertEquals(9, table.read(entry).orElseThrow().weight());
      assertEquals(4 * GIB, table.granted(1));
      assertThrows(IndexOutOfBoundsException.class, () -> table.setGranted(2, 1));
      assertTrue(table.read(1).isEmpty());
    }
    // What a job sees, through the binding: the header's fields and the magic.
    inspect(path, t -> {
      assertEquals("GPUNODE", t.header().magic().getString());
      assertEquals(123, t.header().heartbeat_unix_ns());
      assertEquals(3, t.header().next_job_id());
      assertEquals(ProcessHandle.current().pid(), t.header().agent_pid());
      assertEquals(Processes.startTime((int) ProcessHandle.current().pid()).orElseThrow(),
          t.header().agent_start_time());
      assertEquals(GpupoolLayout.GPUPOOL_JOB_RUNNING, t.jobs(0).state());
      assertEquals(2, t.jobs(0).device_count());
    });
  }

  @Test
  void reopenKeepsRunningEntriesAndTheCounter() throws IOException {
    Path path = newPath();
    try (NodeTable table = NodeTable.openOrCreate(path, DEVICES)) {
      table.nextJobId();
      table.publish(0, job(table.nextJobId(), "first"));
      table.publish(1, job(table.nextJobId(), "second"));
      table.release(0);
      table.setLimit(1, 1, 5 * GIB);
    }
    List<DeviceRecord> fewer = List.of(new DeviceRecord(40 * GIB, null, "A100"));
    try (NodeTable table = NodeTable.openOrCreate(path, fewer)) {
      assertEquals(List.of(1), table.runningEntries());
      JobEntry second = table.read(1).orElseThrow();
      assertEquals("second", second.key());
      assertEquals(3, second.jobId());
      assertEquals(5 * GIB, second.limitBytes()[1]);
      assertEquals(4, table.nextJobId());
      assertEquals(1, table.devices().size());
      assertEquals("A100", table.devices().get(0).name());
      assertArrayEquals(new byte[16], table.devices().get(0).uuid());
    }
  }

  @Test
  void releaseFreesAndBumpsTheGeneration() throws IOException {
    try (NodeTable table = NodeTable.openOrCreate(newPath(), DEVICES)) {
      table.publish(5, job(1, "a"));
      table.release(5);
      assertTrue(table.read(5).isEmpty());
      assertTrue(table.runningEntries().isEmpty());
      table.release(5); // already FREE: nothing
      table.publish(5, job(2, "b"));
      assertEquals(1, table.read(5).orElseThrow().generation());
      assertThrows(IllegalStateException.class, () -> table.setLimit(6, 0, 1));
    }
  }

  @Test
  void fullTable() throws IOException {
    try (NodeTable table = NodeTable.openOrCreate(newPath(), DEVICES)) {
      for (int i = 0; i < table.maxJobs(); i++) {
        table.publish(table.freeEntry().orElseThrow(), job(i, "j" + i));
      }
      assertTrue(table.freeEntry().isEmpty());
      assertEquals(table.maxJobs(), table.runningEntries().size());
      table.release(77);
      assertEquals(77, table.freeEntry().orElseThrow());
    }
  }

  @Test
  void publishRefusals() throws IOException {
    try (NodeTable table = NodeTable.openOrCreate(newPath(), DEVICES)) {
      table.publish(3, job(1, "a"));
      IllegalStateException running = assertThrows(IllegalStateException.class, () -> table.publish(3, job(2, "b")));
      assertTrue(running.getMessage().contains("entry 3 is RUNNING"), running.getMessage());
      assertEquals("a", table.read(3).orElseThrow().key());
      JobEntry ok = job(2, "b");
      assertThrows(IllegalArgumentException.class, () -> table.publish(4, withKey(ok, "bad/key")));
      assertThrows(IllegalArgumentException.class, () -> table.publish(4, withKey(ok, "k".repeat(49))));
      assertThrows(IllegalArgumentException.class, () -> table.publish(4, withKey(ok, "")));
      IllegalArgumentException longName = assertThrows(IllegalArgumentException.class, () -> table.publish(4,
          new JobEntry(2, 1, "b", "é".repeat(32), "t", 1, 1, 1, 1, 1, new int[] {0}, new long[16], 0)));
      assertTrue(longName.getMessage().contains("64 bytes"), longName.getMessage());
      assertThrows(IllegalArgumentException.class, () -> table.publish(4,
          new JobEntry(2, 1, "b", "n", "t", 1, 1, 1, 1, 1, new int[] {2}, new long[16], 0)));
      assertThrows(IndexOutOfBoundsException.class, () -> table.publish(128, ok));
      assertTrue(table.read(4).isEmpty(), "nothing published by a refused call");
      table.publish(4, new JobEntry(2, 1, "b", "é".repeat(31), null, 1, 1, 1, 1, 1, new int[] {0}, new long[1], 0));
      assertEquals("é".repeat(31), table.read(4).orElseThrow().name());
      assertEquals("", table.read(4).orElseThrow().team());
    }
  }

  private static JobEntry withKey(JobEntry j, String key) {
    return new JobEntry(j.jobId(), j.uid(), key, j.name(), j.team(), j.launcherPid(), j.launcherStartTime(),
        j.submittedUnixNs(), j.startedUnixNs(), j.weight(), j.devices(), j.limitBytes(), j.generation());
  }

  @Test
  void refusesWrongMagic() throws IOException {
    Path path = createClosed();
    inspect(path, t -> t.header().magic(0, (byte) 'X'));
    assertRefused(path, "wrong magic \"XPUNODE\\x00\"");
  }

  @Test
  void refusesZeroMagic() throws IOException {
    Path path = createClosed();
    inspect(path, t -> t.header().magic().put(new byte[8]));
    assertRefused(path, "magic is all zero");
  }

  @Test
  void refusesTruncatedFile() throws IOException {
    Path path = createClosed();
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(4096);
    }
    assertRefused(path, "wrong size: 4096 bytes");
  }

  @Test
  void refusesOtherLayoutVersion() throws IOException {
    Path path = createClosed();
    inspect(path, t -> t.header().layout_version(9));
    assertRefused(path, "layout_version 9 (expected 2)");
  }

  @Test
  void refusesAnotherUsersFile() throws IOException {
    Path path = createClosed();
    Files.setAttribute(path, "unix:uid", Processes.euid() == 12345 ? 12346 : 12345);
    assertRefused(path, "owned by uid 1234");
  }

  @Test
  void refusesAFileOthersMayWrite() throws IOException {
    Path path = createClosed();
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
    assertRefused(path, "mode 0666");
  }

  @Test
  void refusesAGarbageEntry() throws IOException {
    Path path = createClosed();
    inspect(path, t -> t.jobs(9).state(7));
    assertRefused(path, "entry 9 has state 7");
  }

  @Test
  void instanceNames() {
    assertTrue(NodeTable.defaultPath("main").toString()
        .equals("/dev/shm/gpupool-node-" + Processes.euid() + "-main"));
    assertThrows(IllegalArgumentException.class, () -> NodeTable.defaultPath("a/b"));
    assertThrows(IllegalArgumentException.class, () -> NodeTable.defaultPath(""));
    assertThrows(IllegalArgumentException.class, () -> NodeTable.defaultPath("x".repeat(49)));
  }

  @Test
  void closedTableRefusesUse() throws IOException {
    NodeTable table = NodeTable.openOrCreate(newPath(), DEVICES);
    table.close();
    assertThrows(IllegalStateException.class, table::nextJobId);
  }

  private Path createClosed() throws IOException {
    Path path = newPath();
    NodeTable.openOrCreate(path, DEVICES).close();
    return path;
  }

  /** Maps the file (read-write) and hands it to {@code action} as the generated struct. */
  private static void inspect(Path path, Consumer<gpupool_node_table> action) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MappedByteBuffer mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size());
      action.accept(new gpupool_node_table(new BytePointer(mapping)));
      java.lang.ref.Reference.reachabilityFence(mapping);
    }
  }

  private static void assertRefused(Path path, String what) throws IOException {
    byte[] before = Files.readAllBytes(path);
    IOException refused = assertThrows(IOException.class, () -> NodeTable.openOrCreate(path, DEVICES));
    assertTrue(refused.getMessage().contains(path.toString()), refused.getMessage());
    assertTrue(refused.getMessage().contains(what), refused.getMessage());
    assertArrayEquals(before, Files.readAllBytes(path), "a refused file is left as it was");
    assertFalse(Files.exists(path.resolveSibling(path.getFileName() + "~" + ProcessHandle.current().pid())));
  }
}
