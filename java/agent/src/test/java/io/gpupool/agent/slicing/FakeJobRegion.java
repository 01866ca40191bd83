package io.gpupool.agent.slicing;

import io.gpupool.region.Processes;
import io.gpupool.region.binding.GpupoolLayout;
import io.gpupool.region.binding.gpupool_region;
import io.gpupool.region.binding.gpupool_region_gate;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;

/**
 * A job's control region written by a test as the job's shim would: slots and their gates.
 * The file lives where the test says (a temporary directory), owned by this user.
 */
final class FakeJobRegion implements AutoCloseable {
  static final int UID = Processes.euid();

  static {
    Loader.load(GpupoolLayout.class); // the binding's sizes and offsets
  }
  final Path path;
  final String key;
  private final FileChannel channel;
  private final MappedByteBuffer mapping;
  private final gpupool_region region;

  FakeJobRegion(Path dir, String key) throws IOException {
    this.key = key;
    this.path = dir.resolve("gpupool-" + UID + "-" + key);
    int size = Loader.sizeof(gpupool_region.class);
    channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
    channel.write(ByteBuffer.allocate(size), 0);
    mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, size);
    region = new gpupool_region(new BytePointer(mapping));
    region.header().layout_version(GpupoolLayout.GPUPOOL_REGION_LAYOUT_VERSION).header_size(256).region_size(size)
        .max_devices(GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES).max_slots(GpupoolLayout.GPUPOOL_REGION_MAX_SLOTS)
        .owner_uid(UID).creator_pid(1);
    region.header().job().put(key.getBytes(StandardCharsets.US_ASCII));
    region.header().magic().put(GpupoolLayout.GPUPOOL_REGION_MAGIC.getBytes(StandardCharsets.US_ASCII));
  }

  /** A process takes slot {@code slot}: its gates cleared, then LIVE. */
  FakeJobRegion process(int slot, int pid, long startTime) {
    for (int d = 0; d < GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES; d++) {
      gate(slot, d).in_flight(0).waiting(0).last_submit_ns(0).device_ns(0).wait_ns(0).evicted_seq(0)
          .resident_bytes(0).swapped_out_bytes(0).swapped_in_bytes(0);
    }
    region.slots(slot).pid(pid).start_time(startTime).state(GpupoolLayout.GPUPOOL_SLOT_LIVE);
    return this;
  }

  /** What the quota charged the process in {@code slot} on {@code device}. */
  FakeJobRegion used(int slot, int device, long bytes) {
    region.slots(slot).used(device, bytes);
    return this;
  }

  void free(int slot) {
    region.slots(slot).state(GpupoolLayout.GPUPOOL_SLOT_FREE);
  }

  gpupool_region_gate gate(int slot, int device) {
    return region.gates(slot).device(device);
  }

  void truncate() throws IOException {
    channel.truncate(4096);
  }

  @Override
  public void close() throws IOException {
    channel.close();
    java.nio.file.Files.deleteIfExists(path);
  }

  SlicedJob job(long id, int entry, long weight, int[] devices, long[] limits) {
    return new SlicedJob(id, entry, UID, key, path, weight, devices, limits);
  }
}
