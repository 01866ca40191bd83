package io.gpupool.region;

import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_DIR;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_JOB_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_LAYOUT_VERSION;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAGIC;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAX_SLOTS;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_NAME_PREFIX;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_SLOT_FREE;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_SLOT_LIVE;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.READ;

import io.gpupool.region.binding.gpupool_region;
import io.gpupool.region.binding.gpupool_region_device;
import io.gpupool.region.binding.gpupool_region_header;
import io.gpupool.region.binding.gpupool_region_slot;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.BytePointer;

/**
 * Read-only snapshots of a job's control region ({@code native/include/gpupool/control_region.h}).
 *
 * <p>The file is opened O_RDONLY and mapped read-only; the mapping is copied at once into
 * private memory and read through the generated binding. The copy is made with 64-bit words
 * (the JDK copies aligned memory in aligned 64-bit units), so no uint64 field is torn; and a
 * file that its owner truncates meanwhile gives an IOException, never a SIGBUS inside native
 * code (the file belongs to the job's user, not to the reader).
 */
public final class JobRegion {
  static final int REGION_SIZE = Fields.sizeof(gpupool_region.class);
  static final int HEADER_SIZE = Fields.sizeof(gpupool_region_header.class);
  private static final int ZERO_MAGIC_RETRIES = 20; // × 5 ms: a creator that does not use link()

  private JobRegion() {}

  /**
   * A snapshot of a region.
   *
   * @param jobKey the key in the region's header
   * @param limitBytes devices[d].limit_bytes (-1: unlimited), length max_devices
   * @param usedBytes devices[d].used_bytes, length max_devices
   * @param liveSlots the slots in state LIVE, in slot order
   * @param retired header.retired: the region was unlinked by its last process
   */
  public record Snapshot(String jobKey, long[] limitBytes, long[] usedBytes, List<Slot> liveSlots,
      boolean retired) {}

  /** A LIVE slot: its process ({@link Processes#alive}) and what it holds per device. */
  public record Slot(int pid, long startTime, long[] usedBytes) {}

  /** {@code /dev/shm/gpupool-<uid>-<jobKey>}; jobKey: 1..48 of [A-Za-z0-9_.-]. */
  public static Path path(int uid, String jobKey) {
    if (jobKey == null || !Fields.KEY.matcher(jobKey).matches()) {
      throw new IllegalArgumentException("job key " + jobKey + " is not 1..48 characters of [A-Za-z0-9_.-]");
    }
    return Path.of(GPUPOOL_REGION_DIR, GPUPOOL_REGION_NAME_PREFIX + Integer.toUnsignedString(uid) + "-" + jobKey);
  }

  /**
   * The region of job {@code jobKey} of user {@code uid}: empty if there is none; IOException if
   * the file is not owned by {@code uid}, or its size, header or job key are not as the header
   * says.
   */
  public static Optional<Snapshot> read(int uid, String jobKey) throws IOException {
    return read(path(uid, jobKey), uid, jobKey);
  }

  /**
   * The region in {@code regionFile}: empty if there is no such file; IOException if its size or
   * header are not as the header says, or its owner is not the header's owner_uid.
   */
  public static Optional<Snapshot> read(Path regionFile) throws IOException {
    return read(regionFile, null, null);
  }

  private static Optional<Snapshot> read(Path path, Integer uid, String jobKey) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Map<String, Object> attributes;
      try {
        attributes = Files.readAttributes(path, "unix:uid,isRegularFile", NOFOLLOW_LINKS);
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
      if (!(Boolean) attributes.get("isRegularFile")) {
        throw refused(path, "not a regular file (a symbolic link or a special file)");
      }
      int owner = (Integer) attributes.get("uid");
      if (uid != null && owner != uid) {
        throw refused(path, "owned by uid " + Integer.toUnsignedString(owner) + ", not by the job's user (uid "
            + Integer.toUnsignedString(uid) + ")");
      }
      ByteBuffer copy = copy(path);
      if (copy == null) {
        return Optional.empty();
      }
      try {
        gpupool_region region = new gpupool_region(new BytePointer(copy));
        byte[] magic = Fields.bytes(region.header().magic(), 8);
        if (Arrays.equals(magic, new byte[8]) && attempt < ZERO_MAGIC_RETRIES) {
          pause();
          continue;
        }
        String problem = problem(region, magic, owner, jobKey);
        if (problem != null) {
          throw refused(path, problem);
        }
        return Optional.of(snapshot(region));
      } finally {
        Reference.reachabilityFence(copy);
      }
    }
  }

  /** The file's bytes, copied from a read-only mapping; null if the file is gone. */
  private static ByteBuffer copy(Path path) throws IOException {
    try (FileChannel channel = FileChannel.open(path, READ, NOFOLLOW_LINKS)) {
      long size = channel.size();
      if (size != REGION_SIZE) {
        throw refused(path, "wrong size: " + size + " bytes, expected " + REGION_SIZE);
      }
      MappedByteBuffer mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, REGION_SIZE);
      ByteBuffer copy = ByteBuffer.allocateDirect(REGION_SIZE);
      try {
        copy.put(0, mapping, 0, REGION_SIZE);
      } catch (InternalError e) { // SIGBUS: the file was truncated under the mapping
        throw refused(path, "truncated while being read");
      }
      return copy;
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /** What is wrong with a region, or null if it is valid (the header's Contract). */
  private static String problem(gpupool_region region, byte[] magic, int fileOwner, String jobKey) {
    gpupool_region_header header = region.header();
    byte[] expected = Fields.cString(GPUPOOL_REGION_MAGIC);
    if (!Arrays.equals(magic, expected)) {
      return Arrays.equals(magic, new byte[8])
          ? "magic is all zero (a creator did not finish it)"
          : "wrong magic " + Fields.printable(magic) + ", expected " + Fields.printable(expected);
    }
    String fields = mismatch("layout_version", header.layout_version(), GPUPOOL_REGION_LAYOUT_VERSION)
        + mismatch("header_size", header.header_size(), HEADER_SIZE)
        + mismatch("region_size", header.region_size(), REGION_SIZE)
        + mismatch("max_devices", header.max_devices(), GPUPOOL_REGION_MAX_DEVICES)
        + mismatch("max_slots", header.max_slots(), GPUPOOL_REGION_MAX_SLOTS)
        + mismatch("owner_uid", header.owner_uid(), fileOwner);
    if (!fields.isEmpty()) {
      return fields.substring(2);
    }
    String key = Fields.getString(header.job(), GPUPOOL_REGION_JOB_BYTES);
    if (key == null || !Fields.KEY.matcher(key).matches()) {
      return "no valid job key in the header";
    }
    if (jobKey != null && !key.equals(jobKey)) {
      return "holds job " + key + ", not " + jobKey;
    }
    for (int i = 0; i < GPUPOOL_REGION_MAX_SLOTS; i++) {
      int state = region.slots(i).state();
      if (state != GPUPOOL_SLOT_FREE && state != GPUPOOL_SLOT_LIVE) {
        return "slot " + i + " has state " + Integer.toUnsignedString(state);
      }
    }
    return null;
  }

  private static String mismatch(String field, int value, int expected) {
    return value == expected ? ""
        : ", " + field + " " + Integer.toUnsignedString(value) + " (expected " + Integer.toUnsignedString(expected) + ")";
  }

  private static Snapshot snapshot(gpupool_region region) {
    long[] limits = new long[GPUPOOL_REGION_MAX_DEVICES];
    long[] used = new long[GPUPOOL_REGION_MAX_DEVICES];
    for (int d = 0; d < GPUPOOL_REGION_MAX_DEVICES; d++) {
      gpupool_region_device device = region.devices(d);
      limits[d] = device.limit_bytes();
      used[d] = device.used_bytes();
    }
    List<Slot> live = new ArrayList<>();
    for (int i = 0; i < GPUPOOL_REGION_MAX_SLOTS; i++) {
      gpupool_region_slot slot = region.slots(i);
      if (slot.state() == GPUPOOL_SLOT_LIVE) {
        long[] slotUsed = new long[GPUPOOL_REGION_MAX_DEVICES];
        for (int d = 0; d < GPUPOOL_REGION_MAX_DEVICES; d++) {
          slotUsed[d] = slot.used(d);
        }
        live.add(new Slot(slot.pid(), slot.start_time(), slotUsed));
      }
    }
    gpupool_region_header header = region.header();
    return new Snapshot(Fields.getString(header.job(), GPUPOOL_REGION_JOB_BYTES), limits, used,
        List.copyOf(live), header.retired() != 0);
  }

  private static void pause() throws IOException {
    try {
      Thread.sleep(5);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for a region's creator");
    }
  }

  private static IOException refused(Path path, String what) {
    return new IOException("job region " + path + ": refused: " + what);
  }
}
