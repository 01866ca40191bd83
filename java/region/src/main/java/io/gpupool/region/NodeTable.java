package io.gpupool.region;

import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_JOB_FREE;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_JOB_RUNNING;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_DEVICE_NAME_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_JOB_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_LABEL_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_MAX_DEVICES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_MAX_JOBS;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_TABLE_LAYOUT_VERSION;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_TABLE_MAGIC;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_TABLE_PREFIX;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_REGION_DIR;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_load_grant;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_load_state;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_load_u64;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_store_grant;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_store_state;
import static io.gpupool.region.binding.GpupoolLayout.gpupool_node_store_u64;

import io.gpupool.region.binding.gpupool_node_device;
import io.gpupool.region.binding.gpupool_node_header;
import io.gpupool.region.binding.gpupool_node_job;
import io.gpupool.region.binding.gpupool_node_slice;
import io.gpupool.region.binding.gpupool_node_table;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;

/**
 * The agent's node table ({@code native/include/gpupool/node_table.h}), mapped read-write
 * through the generated binding. The agent is the table's only writer: the methods of one
 * instance are synchronized, and a process should open a given table once. Values that jobs
 * read while they change (limits, weights, grants, generations, heartbeat, state) are stored
 * with the header's atomic functions. Opening, validation and creation: {@link NodeTableFile}.
 */
public final class NodeTable implements AutoCloseable {
  static final int TABLE_SIZE = Fields.sizeof(gpupool_node_table.class);
  static final int HEADER_SIZE = Fields.sizeof(gpupool_node_header.class);
  private static final int MAX_DEVICES = GPUPOOL_NODE_MAX_DEVICES;
  private static final int MAX_JOBS = GPUPOOL_NODE_MAX_JOBS;
  private static final int UUID_BYTES = 16;
  private static final int MAGIC_AT = Fields.offset(gpupool_node_header.class, "magic", 8);
  private static final int HEARTBEAT_AT = Fields.offset(gpupool_node_header.class, "heartbeat_unix_ns", 8);
  private static final int NEXT_JOB_ID_AT = Fields.offset(gpupool_node_header.class, "next_job_id", 8);
  private static final int GRANTED_AT = Fields.offset(gpupool_node_device.class, "granted_bytes", 8);
  private static final int STATE_AT = Fields.offset(gpupool_node_job.class, "state", 4);
  private static final int GENERATION_AT = Fields.offset(gpupool_node_job.class, "generation", 8);
  private static final int WEIGHT_AT = Fields.offset(gpupool_node_job.class, "weight", 8);
  private static final int GRANT_AT = Fields.offset(gpupool_node_slice.class, "grant", 8);
  private static final int EVICT_AT = Fields.offset(gpupool_node_slice.class, "evict", 8);

  private final Path path;
  private MappedByteBuffer mapping; // keeps the mapping alive as long as `table` is used
  private gpupool_node_table table; // null once closed

  NodeTable(Path path, MappedByteBuffer mapping) {
    this.path = path;
    this.mapping = mapping;
    this.table = new gpupool_node_table(new BytePointer(mapping));
  }

  /**
   * Opens the table at {@code path} if it exists (validated as the header's Contract says, and
   * owned by this user; anything else is an IOException naming the path and the problem, and the
   * file is left alone), else creates it as the header's Creation section says. Then records this
   * process as the table's agent and writes the device list. RUNNING entries of an existing
   * table are kept as they are; so are the devices' granted_bytes (the agent sets them again).
   */
  public static NodeTable openOrCreate(Path path, List<DeviceRecord> devices) throws IOException {
    Objects.requireNonNull(path, "path");
    if (devices.size() > MAX_DEVICES) {
      throw new IllegalArgumentException(devices.size() + " devices; the table holds " + MAX_DEVICES);
    }
    for (DeviceRecord device : devices) {
      if (device.uuid() != null && device.uuid().length != UUID_BYTES) {
        throw new IllegalArgumentException("device uuid of " + device.uuid().length + " bytes, not 16");
      }
    }
    NodeTable opened = NodeTableFile.openOrCreate(path);
    opened.adopt(devices);
    return opened;
  }

  /** {@code /dev/shm/gpupool-node-<euid>-<instance>}; instance: 1..48 of [A-Za-z0-9_.-]. */
  public static Path defaultPath(String instance) {
    if (instance == null || !Fields.KEY.matcher(instance).matches()) {
      throw new IllegalArgumentException("agent instance name " + instance
          + " is not 1..48 characters of [A-Za-z0-9_.-]");
    }
    return Path.of(GPUPOOL_REGION_DIR,
        GPUPOOL_NODE_TABLE_PREFIX + Integer.toUnsignedString(Processes.euid()) + "-" + instance);
  }

  public Path path() {
    return path;
  }

  public int maxJobs() {
    return MAX_JOBS;
  }

  public int maxDevices() {
    return MAX_DEVICES;
  }

  /** The devices as the table lists them (header.device_count of them). */
  public synchronized List<DeviceRecord> devices() {
    gpupool_node_table t = table();
    List<DeviceRecord> devices = new ArrayList<>();
    for (int d = 0; d < t.header().device_count(); d++) {
      gpupool_node_device device = t.devices(d);
      devices.add(new DeviceRecord(device.total_bytes(), Fields.bytes(device.uuid(), UUID_BYTES),
          Fields.getString(device.name(), GPUPOOL_NODE_DEVICE_NAME_BYTES)));
    }
    return devices;
  }

  /** Returns the next job id (from 1) and persists the counter in header.next_job_id. */
  public synchronized long nextJobId() {
    gpupool_node_header header = table().header();
    long id = Math.max(1, gpupool_node_load_u64(Fields.u64(header, NEXT_JOB_ID_AT)));
    gpupool_node_store_u64(Fields.u64(header, NEXT_JOB_ID_AT), id + 1);
    return id;
  }

  public synchronized void heartbeat(long unixNanos) {
    gpupool_node_store_u64(Fields.u64(table().header(), HEARTBEAT_AT), unixNanos);
  }

  /** Stores devices[device].granted_bytes (atomic); device &lt; the table's device count. */
  public synchronized void setGranted(int device, long bytes) {
    gpupool_node_store_u64(Fields.u64(device(device), GRANTED_AT), bytes);
  }

  public synchronized long granted(int device) {
    return gpupool_node_load_u64(Fields.u64(device(device), GRANTED_AT));
  }

  /** The lowest FREE entry, or empty when every entry is RUNNING. */
  public synchronized OptionalInt freeEntry() {
    for (int i = 0; i < MAX_JOBS; i++) {
      if (state(i) == GPUPOOL_JOB_FREE) {
        return OptionalInt.of(i);
      }
    }
    return OptionalInt.empty();
  }

  /**
   * Publishes {@code job} in FREE entry {@code entry}: identity first, limits and weight with
   * atomic stores, state RUNNING last (release). The entry keeps its own generation.
   *
   * @throws IllegalStateException if the entry is not FREE
   * @throws IllegalArgumentException if the key is not 1..48 of [A-Za-z0-9_.-], name or team is
   *     64 bytes of UTF-8 or more, or devices / limits do not fit the table's devices
   */
  public synchronized void publish(int entry, JobEntry job) {
    gpupool_node_job slot = job(entry);
    if (state(entry) != GPUPOOL_JOB_FREE) {
      throw new IllegalStateException("node table " + path + ": entry " + entry
          + " is RUNNING (job " + slot.job_id() + "), not FREE");
    }
    if (job.key() == null || !Fields.KEY.matcher(job.key()).matches()) {
      throw new IllegalArgumentException("job key " + job.key() + " is not 1..48 characters of [A-Za-z0-9_.-]");
    }
    byte[] name = Fields.label("job name", job.name(), GPUPOOL_NODE_LABEL_BYTES);
    byte[] team = Fields.label("job team", job.team(), GPUPOOL_NODE_LABEL_BYTES);
    int[] devices = Objects.requireNonNull(job.devices(), "devices");
    long[] limits = Objects.requireNonNull(job.limitBytes(), "limitBytes");
    int deviceCount = table().header().device_count();
    if (devices.length > MAX_DEVICES || limits.length > MAX_DEVICES) {
      throw new IllegalArgumentException("more than " + MAX_DEVICES + " devices or limits");
    }
    Set<Integer> seen = new HashSet<>();
    for (int d : devices) {
      if (d < 0 || d >= deviceCount || !seen.add(d)) {
        throw new IllegalArgumentException("device " + d + " is not a device of the table ("
            + deviceCount + ") or is granted twice");
      }
    }
    slot.uid(job.uid()).job_id(job.jobId()).launcher_pid(job.launcherPid())
        .launcher_start_time(job.launcherStartTime()).submitted_unix_ns(job.submittedUnixNs())
        .started_unix_ns(job.startedUnixNs()).device_count(devices.length);
    Fields.putBytes(slot.key(), GPUPOOL_NODE_JOB_BYTES, job.key().getBytes(StandardCharsets.US_ASCII));
    Fields.putBytes(slot.name(), GPUPOOL_NODE_LABEL_BYTES, name);
    Fields.putBytes(slot.team(), GPUPOOL_NODE_LABEL_BYTES, team);
    for (int i = 0; i < MAX_DEVICES; i++) {
      slot.devices(i, i < devices.length ? devices[i] : 0);
      gpupool_node_store_u64(slot.limit_bytes().getPointer(i), i < limits.length ? limits[i] : 0);
    }
    gpupool_node_store_u64(Fields.u64(slot, WEIGHT_AT), job.weight());
    gpupool_node_store_state(Fields.u32(slot, STATE_AT), GPUPOOL_JOB_RUNNING);
  }

  /** Stores jobs[entry].limit_bytes[device] (atomic); the entry must be RUNNING. */
  public synchronized void setLimit(int entry, int device, long bytes) {
    Objects.checkIndex(device, MAX_DEVICES);
    gpupool_node_store_u64(running(entry).limit_bytes().getPointer(device), bytes);
  }

  /** Stores jobs[entry].weight (atomic); the entry must be RUNNING. */
  public synchronized void setWeight(int entry, long weight) {
    gpupool_node_store_u64(Fields.u64(running(entry), WEIGHT_AT), weight);
  }

  /**
   * Stores slices[device].grant (sequentially consistent: the agent's half of the hand-over's
   * Dekker pair, node_table.h "Time slices"). Any device index of the table's layout.
   */
  public synchronized void storeGrant(int device, long grant) {
    gpupool_node_store_grant(Fields.u64(slice(device), GRANT_AT), grant);
  }

  /** slices[device].grant (sequentially consistent load). */
  public synchronized long grant(int device) {
    return gpupool_node_load_grant(Fields.u64(slice(device), GRANT_AT));
  }

  /** Stores slices[device].evict (atomic): GPUPOOL_SLICE_GRANT(seq, entry + 1), 0 for none. */
  public synchronized void storeEvict(int device, long request) {
    gpupool_node_store_u64(Fields.u64(slice(device), EVICT_AT), request);
  }

  public synchronized long evict(int device) {
    return gpupool_node_load_u64(Fields.u64(slice(device), EVICT_AT));
  }

  /** Writes slices[device]'s informational quantum, flags and depth (depth &gt;= 1). */
  public synchronized void setSliceConfig(int device, long quantumNanos, int flags, int depth) {
    if (depth < 1) {
      throw new IllegalArgumentException("slice depth " + depth + " is not >= 1");
    }
    slice(device).quantum_ns(quantumNanos).flags(flags).depth(depth);
  }

  /** slices[device].flags. */
  public synchronized int sliceFlags(int device) {
    return slice(device).flags();
  }

  /** slices[device].depth. */
  public synchronized int sliceDepth(int device) {
    return slice(device).depth();
  }

  /** Frees a RUNNING entry: state FREE first, then generation + 1. A FREE entry is left alone. */
  public synchronized void release(int entry) {
    gpupool_node_job slot = job(entry);
    if (state(entry) == GPUPOOL_JOB_FREE) {
      return;
    }
    gpupool_node_store_state(Fields.u32(slot, STATE_AT), GPUPOOL_JOB_FREE);
    long generation = gpupool_node_load_u64(Fields.u64(slot, GENERATION_AT));
    gpupool_node_store_u64(Fields.u64(slot, GENERATION_AT), generation + 1);
  }

  /** The job in {@code entry}, or empty if the entry is FREE. */
  public synchronized Optional<JobEntry> read(int entry) {
    gpupool_node_job slot = job(entry);
    if (state(entry) != GPUPOOL_JOB_RUNNING) {
      return Optional.empty();
    }
    int[] devices = new int[Math.min(slot.device_count(), MAX_DEVICES)];
    for (int i = 0; i < devices.length; i++) {
      devices[i] = slot.devices(i);
    }
    long[] limits = new long[MAX_DEVICES];
    for (int d = 0; d < MAX_DEVICES; d++) {
      limits[d] = gpupool_node_load_u64(slot.limit_bytes().getPointer(d));
    }
    return Optional.of(new JobEntry(slot.job_id(), slot.uid(),
        Fields.getString(slot.key(), GPUPOOL_NODE_JOB_BYTES),
        Fields.getString(slot.name(), GPUPOOL_NODE_LABEL_BYTES),
        Fields.getString(slot.team(), GPUPOOL_NODE_LABEL_BYTES),
        slot.launcher_pid(), slot.launcher_start_time(), slot.submitted_unix_ns(),
        slot.started_unix_ns(), gpupool_node_load_u64(Fields.u64(slot, WEIGHT_AT)), devices, limits,
        gpupool_node_load_u64(Fields.u64(slot, GENERATION_AT))));
  }

  /** The RUNNING entries, in index order. */
  public synchronized List<Integer> runningEntries() {
    List<Integer> running = new ArrayList<>();
    for (int i = 0; i < MAX_JOBS; i++) {
      if (state(i) == GPUPOOL_JOB_RUNNING) {
        running.add(i);
      }
    }
    return running;
  }

  /**
   * Drops this view of the table; the file stays (jobs keep reading it). The mapping goes when
   * the garbage collector takes the buffer; every method afterwards throws IllegalStateException.
   */
  @Override
  public synchronized void close() {
    table = null;
    mapping = null;
  }

  /** Records this process as the agent and writes the device list (see openOrCreate). */
  private synchronized void adopt(List<DeviceRecord> devices) {
    gpupool_node_header header = table().header();
    int pid = Processes.pid();
    header.agent_pid(pid).agent_start_time(Processes.startTime(pid).orElse(0));
    for (int d = 0; d < MAX_DEVICES; d++) {
      gpupool_node_device device = table.devices(d);
      DeviceRecord record = d < devices.size() ? devices.get(d) : null;
      device.total_bytes(record == null ? 0 : record.totalBytes());
      byte[] uuid = record == null || record.uuid() == null ? new byte[UUID_BYTES] : record.uuid();
      Fields.putBytes(device.uuid(), UUID_BYTES, uuid);
      Fields.putBytes(device.name(), GPUPOOL_NODE_DEVICE_NAME_BYTES,
          Fields.truncatedUtf8(record == null ? "" : record.name(), GPUPOOL_NODE_DEVICE_NAME_BYTES - 1));
      if (record == null) {
        gpupool_node_store_u64(Fields.u64(device, GRANTED_AT), 0);
      }
    }
    header.device_count(devices.size());
  }

  /** Writes a new table's header (all but the magic), then the magic last with a release store. */
  static void initialise(gpupool_node_table t, int ownerUid) {
    t.header().layout_version(GPUPOOL_NODE_TABLE_LAYOUT_VERSION)
        .header_size(HEADER_SIZE).table_size(TABLE_SIZE).max_devices(MAX_DEVICES).max_jobs(MAX_JOBS)
        .owner_uid(ownerUid).created_unix_ns(Fields.unixNanos()).next_job_id(1);
    gpupool_node_store_u64(Fields.u64(t.header(), MAGIC_AT), Fields.magicWord(GPUPOOL_NODE_TABLE_MAGIC));
  }

  private gpupool_node_table table() {
    if (table == null) {
      throw new IllegalStateException("node table " + path + " is closed");
    }
    return table;
  }

  private gpupool_node_job job(int entry) {
    Objects.checkIndex(entry, MAX_JOBS);
    return table().jobs(entry);
  }

  private gpupool_node_job running(int entry) {
    gpupool_node_job slot = job(entry);
    if (state(entry) != GPUPOOL_JOB_RUNNING) {
      throw new IllegalStateException("node table " + path + ": entry " + entry + " is not RUNNING");
    }
    return slot;
  }

  private int state(int entry) {
    return gpupool_node_load_state(Fields.u32(job(entry), STATE_AT));
  }

  private gpupool_node_slice slice(int device) {
    Objects.checkIndex(device, MAX_DEVICES);
    return table().slices(device);
  }

  private gpupool_node_device device(int device) {
    Objects.checkIndex(device, table().header().device_count());
    return table.devices(device);
  }
}
