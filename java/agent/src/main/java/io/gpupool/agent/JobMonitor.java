package io.gpupool.agent;

import io.gpupool.proto.v1.JobUsage;
import io.gpupool.region.JobEntry;
import io.gpupool.region.JobRegion;
import io.gpupool.region.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Watches running jobs: samples what they use (from each job's own control region, which its
 * shim keeps) and decides when a job has ended.
 *
 * <p>A job lives while its `gpupool run` is connected or alive, or any process holding a slot in
 * its region is alive (a pid counts only with the start time it had, so a reused pid is not
 * mistaken for the job). When none is left — the command exited, or everything was killed,
 * SIGKILL included — the job's usage goes to history, a region left behind by killed processes
 * is removed, and the grant is released. Confined to the agent's core thread.
 */
final class JobMonitor {
  private static final Logger LOG = Logger.getLogger(JobMonitor.class.getName());

  private final Scheduler scheduler;
  private final History history;
  private final Consumer<Job> ended;

  JobMonitor(Scheduler scheduler, History history, Consumer<Job> ended) {
    this.scheduler = scheduler;
    this.history = history;
    this.ended = ended;
  }

  void checkAll(long nowMs) {
    // A client that hung up before its job was known to the connection's handler.
    for (Job job : scheduler.waiting()) {
      if (job.connection == null || !job.connection.isOpen()) scheduler.dropWaiting(job);
    }
    for (Job job : new ArrayList<>(scheduler.jobs())) {
      if (job.state != Job.State.RUNNING) continue;
      check(job, nowMs);
      if (job.cancelRequested && nowMs - job.cancelRequestedAtMs > Agent.CANCEL_GRACE_MS) {
        signal(job, true);
      }
    }
    if (++checkpointCountdown >= 20) {
      checkpointCountdown = 0;
      history.checkpoint(usages(nowMs));
    }
  }

  private int checkpointCountdown;

  /** Samples one running job and ends it if nothing of it is left. */
  void check(Job job, long nowMs) {
    if (job.state != Job.State.RUNNING) return;
    Optional<JobRegion.Snapshot> region = readRegion(job);
    List<Integer> pids = new ArrayList<>();
    long[] used = new long[job.devices.size()];
    if (region.isPresent()) {
      for (JobRegion.Slot slot : region.get().liveSlots()) {
        if (Processes.alive(slot.pid(), slot.startTime())) pids.add(slot.pid());
      }
      long[] regionUsed = region.get().usedBytes();
      for (int i = 0; i < used.length && i < regionUsed.length; i++) used[i] = regionUsed[i];
    }
    boolean launcherAlive = (job.connection != null && job.connection.isOpen()) || (!job.launcherFinished && job.launcherPid > 0
        && Processes.alive(job.launcherPid, job.launcherStartTime));
    if (launcherAlive && job.launcherPid > 0 && !pids.contains(job.launcherPid)) pids.add(0, job.launcherPid);
    sample(job, used, nowMs);
    job.pids = List.copyOf(pids);
    if (!launcherAlive && pids.isEmpty()) {
      history.append(usage(job, nowMs));
      if (region.isPresent()) {
        try {
          Files.deleteIfExists(JobRegion.path(job.uid, job.key));
        } catch (IOException e) {
          LOG.warning("cannot remove the region of ended job " + job.key + ": " + e.getMessage());
        }
      }
      LOG.info("job " + job.key + " ended; its grant is released");
      ended.accept(job);
    }
  }

  /** Cancel: SIGTERM now to the launcher and the job's processes; SIGKILL after the grace time. */
  void terminate(Job job, long nowMs) {
    job.cancelRequested = true;
    job.cancelRequestedAtMs = nowMs;
    signal(job, false);
  }

  private void signal(Job job, boolean kill) {
    List<long[]> targets = new ArrayList<>();
    if (job.launcherPid > 0) targets.add(new long[] {job.launcherPid, job.launcherStartTime});
    readRegion(job).ifPresent(r -> r.liveSlots().forEach(s -> targets.add(new long[] {s.pid(), s.startTime()})));
    for (long[] t : targets) {
      int pid = (int) t[0];
      if (!Processes.alive(pid, t[1])) continue; // gone, or the pid now belongs to someone else
      ProcessHandle.of(pid).ifPresent(h -> {
        if (kill) h.destroyForcibly();
        else h.destroy();
      });
    }
  }

  private Optional<JobRegion.Snapshot> readRegion(Job job) {
    try {
      return JobRegion.read(job.uid, job.key);
    } catch (IOException e) {
      LOG.warning("job " + job.key + ": its region is not readable: " + e.getMessage());
      return Optional.empty();
    }
  }

  private static void sample(Job job, long[] used, long nowMs) {
    double dt = Math.max(0, nowMs - job.lastSampleMs) / 1000.0;
    job.grantedByteSeconds += dt * job.grantedBytesTotal();
    job.usedByteSeconds += dt * job.usedBytesTotal(); // the previous sample holds until now
    job.lastSampleMs = nowMs;
    job.usedBytes = used;
    job.peakUsedBytes = Math.max(job.peakUsedBytes, job.usedBytesTotal());
  }

  List<JobUsage> usages(long nowMs) {
    List<JobUsage> out = new ArrayList<>();
    for (Job j : scheduler.jobs()) {
      if (j.state == Job.State.RUNNING) out.add(usage(j, nowMs).toBuilder().setEndedUnixMs(0).build());
    }
    return out;
  }

  static JobUsage usage(Job job, long nowMs) {
    return JobUsage.newBuilder()
        .setJobId(job.id)
        .setName(job.name)
        .setTeam(job.team)
        .setUid(job.uid)
        .setGpus(job.devices.size())
        .setStartedUnixMs(job.startedUnixMs)
        .setEndedUnixMs(nowMs)
        .setGrantedByteSeconds(job.grantedByteSeconds)
        .setUsedByteSeconds(job.usedByteSeconds)
        .setWallSeconds(Math.max(0, nowMs - job.startedUnixMs) / 1000.0)
        .setPeakUsedBytes(job.peakUsedBytes)
        .build();
  }

  /** A running job as the table describes it, after an agent restart. */
  static Job fromEntry(int entry, JobEntry e, JobUsage saved) {
    int n = e.devices().length;
    long[] quotas = new long[n];
    for (int i = 0; i < n; i++) quotas[i] = e.limitBytes()[e.devices()[i]];
    Job job = new Job(e.jobId(), e.key(), e.uid(), e.name(), e.team(), n > 0 ? quotas[0] : 0, Math.max(1, n),
        (int) e.weight(), List.of(), e.submittedUnixNs() / 1_000_000L);
    job.tableEntry = entry;
    job.launcherPid = e.launcherPid();
    job.launcherStartTime = e.launcherStartTime();
    job.devices = java.util.Arrays.stream(e.devices()).boxed().toList();
    job.quotaBytes = quotas;
    job.usedBytes = new long[n];
    job.startedUnixMs = e.startedUnixNs() / 1_000_000L;
    job.lastSampleMs = System.currentTimeMillis();
    if (saved != null) {
      job.grantedByteSeconds = saved.getGrantedByteSeconds();
      job.usedByteSeconds = saved.getUsedByteSeconds();
      job.peakUsedBytes = saved.getPeakUsedBytes();
    }
    return job;
  }
}
