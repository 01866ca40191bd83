package io.gpupool.agent;

import io.gpupool.proto.v1.Admitted;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.Error;
import io.gpupool.proto.v1.Queued;
import io.gpupool.region.DeviceRecord;
import io.gpupool.region.JobEntry;
import io.gpupool.region.NodeTable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Admission, the waiting queue and grants; the node table is written only from here.
 *
 * <p>Jobs start in the order they were submitted ({@link AdmissionQueue}, the rule the trace
 * simulator shares): a job that does not fit now waits, and the jobs behind it wait too (no
 * backfill), so a large job is never starved by a stream of small ones.
 * Each grant is published in the node table (quota per device, weight) before the job is told
 * it may start; each release frees the table entry first and then admits from the head of the
 * queue. Confined to the agent's core thread.
 */
final class Scheduler {
  static final int DEFAULT_WEIGHT = 100;

  private final NodeTable table;
  private final List<DeviceRecord> devices;
  private final Map<String, String> jobEnvironment;
  private final Map<Long, Job> jobs = new LinkedHashMap<>();
  private final AdmissionQueue<Job> waiting = new AdmissionQueue<>();

  /** Devices whose quotas may add up to {@link AgentOptions#OVERSUBSCRIBE_FACTOR} times their memory. */
  private final java.util.Set<Integer> oversubscribed;

  Scheduler(NodeTable table, Map<String, String> jobEnvironment, java.util.Set<Integer> oversubscribed) {
    this.table = table;
    this.devices = table.devices();
    this.jobEnvironment = jobEnvironment;
    this.oversubscribed = java.util.Set.copyOf(oversubscribed);
  }

  Collection<Job> jobs() {
    return jobs.values();
  }

  List<Job> waiting() {
    return waiting.snapshot();
  }

  List<DeviceRecord> devices() {
    return devices;
  }

  long newJobId() {
    return table.nextJobId();
  }

  Optional<Job> find(String idKeyOrName) {
    for (Job j : jobs.values()) {
      if (Long.toString(j.id).equals(idKeyOrName) || j.key.equals(idKeyOrName)) return Optional.of(j);
    }
    Job byName = null;
    for (Job j : jobs.values()) {
      if (j.name.equals(idKeyOrName)) {
        if (byName != null) throw new IllegalArgumentException(
            "more than one job is named '" + idKeyOrName + "': give its id or key");
        byName = j;
      }
    }
    return Optional.ofNullable(byName);
  }

  /** Why the job can never run here, or null if it could once enough is released. */
  String neverFits(long bytesPerGpu, int gpus) {
    if (gpus > devices.size()) {
      return "the job asks for " + gpus + " GPUs and this node has " + devices.size();
    }
    // Each job must fit its device's memory, oversubscribed or not.
    List<Placement.DeviceLoad> physical = new ArrayList<>();
    for (int d = 0; d < devices.size(); d++) physical.add(new Placement.DeviceLoad(d, devices.get(d).totalBytes(), 0));
    if (!Placement.everFits(physical, gpus, bytesPerGpu)) {
      return "no GPU of this node has " + Sizes.format(bytesPerGpu) + " (largest: "
          + Sizes.format(devices.stream().mapToLong(DeviceRecord::totalBytes).max().orElse(0)) + ")";
    }
    return null;
  }

  /** A new job: admitted now if it is first in line and fits, else queued (or refused). */
  void submit(Job job, boolean noWait) {
    jobs.put(job.id, job);
    if (waiting.admitNow(job, this::tryAdmit)) return;
    if (noWait) {
      jobs.remove(job.id);
      String why = waiting.isEmpty() ? "nothing fits now: " + waitReason(job)
          : waiting.size() + " job(s) are waiting before it";
      job.connection.sendAndClose(error(Error.Code.NO_CAPACITY, "--no-wait: " + why));
      return;
    }
    waiting.enqueue(job);
    sendQueued(job, waiting.size() - 1);
  }

  /** Takes a waiting job out of the queue (its client went away or it was cancelled). */
  void dropWaiting(Job job) {
    if (waiting.remove(job)) {
      jobs.remove(job.id);
      admitWaiting();
    }
  }

  /** Ends a running job's grant: the entry is freed, and waiting jobs may start. */
  void release(Job job) {
    if (job.state != Job.State.RUNNING) return;
    job.state = Job.State.ENDED; // a late second report of its end is ignored
    jobs.remove(job.id);
    if (job.tableEntry >= 0) {
      table.release(job.tableEntry);
      job.tableEntry = -1;
    }
    recomputeGranted();
    admitWaiting();
  }

  /** Re-creates a running job from the node table after an agent restart. */
  void adopt(Job job) {
    job.state = Job.State.RUNNING;
    jobs.put(job.id, job);
  }

  /** Admits from the head of the queue while the head fits; tells the others their place. */
  void admitWaiting() {
    waiting.admitWaiting(this::tryAdmit);
    int ahead = 0;
    for (Job j : waiting.snapshot()) sendQueued(j, ahead++);
  }

  private boolean tryAdmit(Job job) {
    Optional<List<Integer>> placed = Placement.place(loads(), job.gpus, job.bytesPerGpu);
    if (placed.isEmpty()) return false;
    OptionalInt entry = table.freeEntry();
    if (entry.isEmpty()) return false; // the table is full: wait for a release
    List<Integer> chosen = placed.get();
    long[] limits = new long[table.maxDevices()];
    long[] quotas = new long[chosen.size()];
    int[] ordinals = new int[chosen.size()];
    for (int i = 0; i < chosen.size(); i++) {
      int d = chosen.get(i);
      quotas[i] = job.bytesPerGpu == 0 ? devices.get(d).totalBytes() : job.bytesPerGpu;
      limits[d] = quotas[i];
      ordinals[i] = d;
    }
    long now = System.currentTimeMillis();
    table.publish(entry.getAsInt(), new JobEntry(job.id, job.uid, job.key, job.name, job.team,
        job.launcherPid, job.launcherStartTime, job.submittedUnixMs * 1_000_000L, now * 1_000_000L,
        job.weight, ordinals, limits, 0));
    job.tableEntry = entry.getAsInt();
    job.devices = List.copyOf(chosen);
    job.quotaBytes = quotas;
    job.usedBytes = new long[chosen.size()];
    job.state = Job.State.RUNNING;
    job.startedUnixMs = now;
    job.lastSampleMs = now;
    recomputeGranted();

    Admitted.Builder admitted = Admitted.newBuilder()
        .setJobId(job.id)
        .setJobKey(job.key)
        .setTablePath(table.path().toString())
        .setTableEntry(job.tableEntry)
        .addAllDevices(chosen)
        .setMemoryBytes(quotas[0])
        .putAllEnvironment(jobEnvironment);
    if (job.connection != null) job.connection.send(AgentReply.newBuilder().setAdmitted(admitted).build());
    return true;
  }

  private void recomputeGranted() {
    long[] granted = new long[devices.size()];
    for (Job j : jobs.values()) {
      if (j.state != Job.State.RUNNING) continue;
      for (int i = 0; i < j.devices.size(); i++) granted[j.devices.get(i)] += j.quotaBytes[i];
    }
    for (int d = 0; d < granted.length; d++) table.setGranted(d, granted[d]);
  }

  List<Placement.DeviceLoad> loads() {
    List<Placement.DeviceLoad> loads = new ArrayList<>();
    for (int d = 0; d < devices.size(); d++) {
      long total = devices.get(d).totalBytes();
      long capacity = oversubscribed.contains(d) && total <= Long.MAX_VALUE / AgentOptions.OVERSUBSCRIBE_FACTOR
          ? total * AgentOptions.OVERSUBSCRIBE_FACTOR : total;
      loads.add(new Placement.DeviceLoad(d, capacity, table.granted(d)));
    }
    return loads;
  }

  private String waitReason(Job job) {
    String what = job.bytesPerGpu == 0 ? "a whole GPU" : Sizes.format(job.bytesPerGpu);
    return "waiting for " + what + " on " + job.gpus + (job.gpus == 1 ? " GPU" : " GPUs");
  }

  private void sendQueued(Job job, int ahead) {
    if (job.connection == null) return;
    job.connection.send(AgentReply.newBuilder()
        .setQueued(Queued.newBuilder().setJobId(job.id).setAhead(ahead).setReason(waitReason(job)))
        .build());
  }

  static AgentReply error(Error.Code code, String message) {
    return AgentReply.newBuilder().setError(Error.newBuilder().setCode(code).setMessage(message)).build();
  }
}
