package io.gpupool.region;

import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_JOB_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_LAYOUT_VERSION;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAGIC;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAX_DEVICES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_MAX_SLOTS;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_SLOT_LIVE;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.READ;

import io.gpupool.region.binding.gpupool_region;
import io.gpupool.region.binding.gpupool_region_gate;
import io.gpupool.region.binding.gpupool_region_header;
import io.gpupool.region.binding.gpupool_region_slot;
import io.gpupool.region.binding.gpupool_region_slot_gates;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The agent's reader of one job's slots and gates (control_region.h, "Gates"): positional
 * reads (pread) of just the rows it needs, on a descriptor opened once.
 *
 * <p>Why pread and not a mapping: the region belongs to the job's user, who can truncate it at
 * any time; a read past the end is then a short read (an IOException here), never a SIGBUS in
 * the agent. Anything else a job writes there is only data: slot states other than LIVE are
 * not live, and the caller judges counters (they may go backwards or jump).
 *
 * <p>Values are read with a plain copy, not atomic loads: a 64-bit counter may in principle be
 * seen torn while it crosses a 2^32 boundary; callers treat implausible deltas as nonsense
 * (see the agent's GateCounters). Not thread-safe: one owner (the scheduler thread).
 */
public final class RegionGates implements AutoCloseable {
  private static final int REGION_SIZE = Fields.sizeof(gpupool_region.class);
  private static final int HEADER_SIZE = Fields.sizeof(gpupool_region_header.class);
  private static final int SLOTS_AT = Fields.offset(gpupool_region.class, "slots", 8);
  private static final int SLOT_SIZE = Fields.sizeof(gpupool_region_slot.class);
  private static final int SLOT_PID_AT = Fields.offset(gpupool_region_slot.class, "pid", 4);
  private static final int SLOT_STATE_AT = Fields.offset(gpupool_region_slot.class, "state", 4);
  private static final int SLOT_START_AT = Fields.offset(gpupool_region_slot.class, "start_time", 8);
  private static final int SLOT_USED_AT = Fields.offset(gpupool_region_slot.class, "used", 8);
  private static final int GATES_AT = Fields.offset(gpupool_region.class, "gates", 8);
  private static final int SLOT_GATES_SIZE = Fields.sizeof(gpupool_region_slot_gates.class);
  private static final int GATE_SIZE = Fields.sizeof(gpupool_region_gate.class);
  private static final int IN_FLIGHT_AT = Fields.offset(gpupool_region_gate.class, "in_flight", 4);
  private static final int WAITING_AT = Fields.offset(gpupool_region_gate.class, "waiting", 4);
  private static final int LAST_SUBMIT_AT = Fields.offset(gpupool_region_gate.class, "last_submit_ns", 8);
  private static final int DEVICE_NS_AT = Fields.offset(gpupool_region_gate.class, "device_ns", 8);
  private static final int WAIT_NS_AT = Fields.offset(gpupool_region_gate.class, "wait_ns", 8);
  private static final int EVICTED_AT = Fields.offset(gpupool_region_gate.class, "evicted_seq", 8);
  private static final int RESIDENT_AT = Fields.offset(gpupool_region_gate.class, "resident_bytes", 8);
  private static final int SWAP_OUT_AT = Fields.offset(gpupool_region_gate.class, "swapped_out_bytes", 8);
  private static final int SWAP_IN_AT = Fields.offset(gpupool_region_gate.class, "swapped_in_bytes", 8);
  private static final int RETIRED_AT = Fields.offset(gpupool_region_header.class, "retired", 4);

  /** A slot in state LIVE: its process, which may or may not still be alive. */
  public record ProcessSlot(int slot, int pid, long startTime) {}

  /** One process's gate on one device (gpupool_region_gate), as read. */
  public record Gate(long inFlight, long waiting, long lastSubmitNs, long deviceNs, long waitNs,
      long evictedSeq, long residentBytes, long swappedOutBytes, long swappedInBytes) {}

  private final Path path;
  private final FileChannel channel;
  private final Object fileKey;
  private final ByteBuffer slots = ByteBuffer.allocateDirect(SLOT_SIZE * GPUPOOL_REGION_MAX_SLOTS)
      .order(ByteOrder.nativeOrder());
  private final ByteBuffer gate = ByteBuffer.allocateDirect(GATE_SIZE).order(ByteOrder.nativeOrder());
  private final ByteBuffer word = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
  private final ByteBuffer used = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());

  private RegionGates(Path path, FileChannel channel, Object fileKey) {
    this.path = path;
    this.channel = channel;
    this.fileKey = fileKey;
  }

  /**
   * Opens the region of job {@code jobKey} of user {@code uid} at {@code path}: a regular file
   * (not a link) owned by {@code uid}, of the layout's size, whose header is as control_region.h
   * says. IOException (naming the path and what is wrong) otherwise, NoSuchFileException if
   * there is no file.
   */
  public static RegionGates open(Path path, int uid, String jobKey) throws IOException {
    Objects.requireNonNull(jobKey, "jobKey");
    Map<String, Object> attributes = Files.readAttributes(path, "unix:uid,isRegularFile,fileKey", NOFOLLOW_LINKS);
    if (!(Boolean) attributes.get("isRegularFile")) throw refused(path, "not a regular file");
    int owner = (Integer) attributes.get("uid");
    if (owner != uid) {
      throw refused(path, "owned by uid " + Integer.toUnsignedString(owner) + ", not by the job's user (uid "
          + Integer.toUnsignedString(uid) + ")");
    }
    FileChannel channel = FileChannel.open(path, READ, NOFOLLOW_LINKS);
    try {
      if (channel.size() != REGION_SIZE) {
        throw refused(path, "wrong size: " + channel.size() + " bytes, expected " + REGION_SIZE);
      }
      ByteBuffer header = ByteBuffer.allocateDirect(HEADER_SIZE).order(ByteOrder.nativeOrder());
      readFully(channel, header, 0, path);
      header.clear(); // the binding starts at the buffer's position
      String problem = headerProblem(header, uid, jobKey);
      java.lang.ref.Reference.reachabilityFence(header);
      if (problem != null) throw refused(path, problem);
      return new RegionGates(path, channel, attributes.get("fileKey"));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  /**
   * Whether this is still the job's current region: the file at the path is the one opened
   * and it is not retired (a retired region is replaced by a new file of the same name).
   */
  public boolean isCurrent() {
    try {
      Object key = Files.readAttributes(path, "unix:fileKey", NOFOLLOW_LINKS).get("fileKey");
      if (!Objects.equals(key, fileKey)) return false;
      word.clear();
      readFully(channel, word, RETIRED_AT, path);
      return word.getInt(0) == 0;
    } catch (IOException e) {
      return false;
    }
  }

  /** The slots in state LIVE, in slot order. */
  public List<ProcessSlot> liveSlots() throws IOException {
    slots.clear();
    readFully(channel, slots, SLOTS_AT, path);
    List<ProcessSlot> live = new ArrayList<>();
    for (int i = 0; i < GPUPOOL_REGION_MAX_SLOTS; i++) {
      int at = i * SLOT_SIZE;
      if (slots.getInt(at + SLOT_STATE_AT) != GPUPOOL_SLOT_LIVE) continue;
      live.add(new ProcessSlot(i, slots.getInt(at + SLOT_PID_AT), slots.getLong(at + SLOT_START_AT)));
    }
    return live;
  }

  /** The gate of slot {@code slot} on physical device {@code device}. */
  public Gate gate(int slot, int device) throws IOException {
    Objects.checkIndex(slot, GPUPOOL_REGION_MAX_SLOTS);
    Objects.checkIndex(device, GPUPOOL_REGION_MAX_DEVICES);
    gate.clear();
    readFully(channel, gate, (long) GATES_AT + (long) slot * SLOT_GATES_SIZE + (long) device * GATE_SIZE, path);
    return new Gate(Integer.toUnsignedLong(gate.getInt(IN_FLIGHT_AT)), Integer.toUnsignedLong(gate.getInt(WAITING_AT)),
        gate.getLong(LAST_SUBMIT_AT), gate.getLong(DEVICE_NS_AT), gate.getLong(WAIT_NS_AT),
        gate.getLong(EVICTED_AT), gate.getLong(RESIDENT_AT), gate.getLong(SWAP_OUT_AT), gate.getLong(SWAP_IN_AT));
  }

  /**
   * The bytes slot {@code slot} holds on physical device {@code device} (slots[i].used[d]: all
   * the quota charged its process there, swappable or not).
   */
  public long usedBytes(int slot, int device) throws IOException {
    Objects.checkIndex(slot, GPUPOOL_REGION_MAX_SLOTS);
    Objects.checkIndex(device, GPUPOOL_REGION_MAX_DEVICES);
    used.clear();
    readFully(channel, used, (long) SLOTS_AT + (long) slot * SLOT_SIZE + SLOT_USED_AT + (long) device * 8, path);
    return used.getLong(0);
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing was written; a failed close of a read-only descriptor loses nothing
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer into, long position, Path path) throws IOException {
    long at = position;
    while (into.hasRemaining()) {
      int n = channel.read(into, at);
      if (n < 0) throw refused(path, "truncated (nothing at byte " + at + ")");
      at += n;
    }
  }

  private static String headerProblem(ByteBuffer header, int uid, String jobKey) {
    gpupool_region_header h = new gpupool_region_header(new org.bytedeco.javacpp.BytePointer(header));
    byte[] magic = Fields.bytes(h.magic(), 8);
    if (!Arrays.equals(magic, Fields.cString(GPUPOOL_REGION_MAGIC))) return "wrong magic " + Fields.printable(magic);
    if (h.layout_version() != GPUPOOL_REGION_LAYOUT_VERSION) return "layout_version " + h.layout_version();
    if (h.header_size() != HEADER_SIZE || h.region_size() != REGION_SIZE || h.max_devices() != GPUPOOL_REGION_MAX_DEVICES
        || h.max_slots() != GPUPOOL_REGION_MAX_SLOTS) {
      return "header sizes do not match the layout";
    }
    if (h.owner_uid() != uid) return "owner_uid " + Integer.toUnsignedString(h.owner_uid());
    String key = Fields.getString(h.job(), GPUPOOL_REGION_JOB_BYTES);
    if (!jobKey.equals(key)) return "holds job " + key + ", not " + jobKey;
    return null;
  }

  private static IOException refused(Path path, String what) {
    return new IOException("job region " + path + ": refused: " + what);
  }
}
