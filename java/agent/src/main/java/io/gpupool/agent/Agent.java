package io.gpupool.agent;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.Cancel;
import io.gpupool.proto.v1.Cancelled;
import io.gpupool.proto.v1.Error;
import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import io.gpupool.proto.v1.Status;
import io.gpupool.proto.v1.Submit;
import io.gpupool.region.DeviceRecord;
import io.gpupool.region.JobEntry;
import io.gpupool.region.NodeTable;
import io.gpupool.region.JobRegion;
import io.gpupool.region.Processes;
import io.gpupool.agent.slicing.Liveness;
import io.gpupool.agent.slicing.SliceScheduler;
import io.gpupool.agent.slicing.SlicedJob;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The node agent's core: jobs, the node table, liveness and history, on one thread.
 *
 * <p>Everything that changes a job runs on the core thread (one {@link ScheduledExecutorService}
 * thread): requests from the socket are posted to it, the periodic check runs on it. Other
 * threads read {@link #status()}, a snapshot replaced after every change.
 *
 * <p>Restarting is safe: jobs do not depend on the agent while they run (the shim reads its
 * quota from the table, which outlives the agent), and a new agent adopts every running entry
 * of the table, so no running job is killed or unlimited by a restart.
 */
public final class Agent implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Agent.class.getName());
  /** After a cancel, how long the job's processes get between SIGTERM and SIGKILL. */
  static final long CANCEL_GRACE_MS = 10_000;

  private final AgentOptions options;
  private final NodeTable table;
  private final Scheduler scheduler;
  private final History history;
  private final JobMonitor monitor;
  private final ScheduledExecutorService core;
  private final SliceScheduler slicer;
  private volatile Status status = Status.getDefaultInstance();

  private Agent(AgentOptions options, NodeTable table, History history) {
    this.options = options;
    this.table = table;
    this.history = history;
    this.scheduler = new Scheduler(table, options.jobEnvironment(), options.slicing().oversubscribed());
    this.slicer = new SliceScheduler(table, options.slicing(), Liveness.PROC, System::nanoTime);
    this.monitor = new JobMonitor(scheduler, history, this::onJobEnded);
    this.core = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gpupool-agent-core");
      t.setDaemon(true);
      return t;
    });
  }

  /** Opens (or creates) the node table for these devices, adopts its running jobs, starts. */
  public static Agent start(AgentOptions options, List<DeviceRecord> devices) throws IOException {
    NodeTable table = NodeTable.openOrCreate(NodeTable.defaultPath(options.tableInstance()), devices);
    Agent agent;
    try {
      agent = new Agent(options, table, new History(options.stateDir()));
    } catch (IOException | RuntimeException e) {
      table.close();
      throw e;
    }
    agent.callOnCore(() -> {
      agent.adoptRunning();
      agent.refreshStatus();
      return null;
    });
    agent.slicer.start();
    agent.core.scheduleWithFixedDelay(agent::tick, options.monitorPeriodMs(), options.monitorPeriodMs(),
        TimeUnit.MILLISECONDS);
    return agent;
  }

  public NodeTable table() {
    return table;
  }

  public AgentOptions options() {
    return options;
  }

  /** The latest snapshot; any thread. */
  public Status status() {
    return status;
  }

  /** Usage since {@code sinceMs}: ended jobs from history and the running ones so far. */
  public Report report(long sinceMs) {
    return callOnCore(() -> {
      long now = System.currentTimeMillis();
      Report.Builder r = Report.newBuilder().setSinceUnixMs(sinceMs).setUntilUnixMs(now);
      for (JobUsage u : history.finishedSince(sinceMs)) r.addJobs(History.clip(u, sinceMs, now));
      for (JobUsage u : monitor.usages(now)) r.addJobs(History.clip(u, sinceMs, now));
      return r.build();
    });
  }

  /** A `gpupool run` asks for a grant; replies go to {@code connection}. */
  void submit(Submit request, Peer peer, JobConnection connection, Consumer<Job> accepted) {
    admit(request, peer, peer.pid(), connection, accepted);
  }

  /**
   * A remote session asks for a grant: a job of the agent's own user (its worker runs as that
   * user), whose launcher is the worker once started ({@link #setLauncher}).
   */
  public void submitRemote(Submit request, int uid, JobConnection connection, Consumer<Job> accepted) {
    admit(request, new Peer(uid, Integer.MAX_VALUE), 0, connection, accepted);
  }

  /** Validates, then queues or admits; {@code launcherPid} 0: not known yet. */
  private void admit(Submit request, Peer peer, int launcherPid, JobConnection connection, Consumer<Job> accepted) {
    core.execute(() -> {
      try {
        String invalid = SubmitValidation.check(request, peer);
        if (invalid != null) {
          connection.sendAndClose(Scheduler.error(Error.Code.BAD_REQUEST, invalid));
          return;
        }
        int gpus = Math.max(1, request.getGpus());
        String never = scheduler.neverFits(request.getMemoryBytes(), gpus);
        if (never != null) {
          connection.sendAndClose(Scheduler.error(Error.Code.NEVER_FITS, never));
          return;
        }
        long id = scheduler.newJobId();
        Job job = new Job(id, SubmitValidation.jobKey(request.getName(), id), peer.uid(), request.getName(),
            request.getTeam(), request.getMemoryBytes(), gpus,
            request.getWeight() == 0 ? Scheduler.DEFAULT_WEIGHT : request.getWeight(),
            request.getCommandList(), System.currentTimeMillis());
        job.connection = connection;
        job.launcherPid = launcherPid;
        job.launcherStartTime = launcherPid > 0 ? Processes.startTime(launcherPid).orElse(0) : 0;
        accepted.accept(job);
        scheduler.submit(job, request.getNoWait());
        refreshStatus();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "submit failed", e);
        connection.sendAndClose(Scheduler.error(Error.Code.UNAVAILABLE, "agent error: " + e));
      }
    });
  }

  /**
   * The process that now carries a running job (a remote session's worker). Completes once the
   * core thread has recorded it: only then may the job's connection close without ending the
   * job, since liveness looks at the connection first and then at this process.
   */
  public CompletableFuture<Void> setLauncher(Job job, long pid) {
    return CompletableFuture.runAsync(() -> {
      job.launcherPid = (int) pid;
      job.launcherStartTime = Processes.startTime((int) pid).orElse(0);
      refreshStatus();
    }, core);
  }

  /** The connection of a job's `gpupool run` closed (its command ended, or it died). */
  public void connectionClosed(Job job) {
    connectionClosed(job, false);
  }

  /** As {@link #connectionClosed(Job)}; {@code finished}: the launcher said its command exited. */
  void connectionClosed(Job job, boolean finished) {
    core.execute(() -> {
      job.connection = null;
      if (finished) job.launcherFinished = true;
      if (job.state == Job.State.WAITING) {
        scheduler.dropWaiting(job);
      } else {
        monitor.check(job, System.currentTimeMillis());
      }
      refreshStatus();
    });
  }

  /** Ends a job; only its user or root may. */
  CompletableFuture<AgentReply> cancel(Cancel request, Peer peer) {
    return CompletableFuture.supplyAsync(() -> {
      Job job;
      try {
        job = scheduler.find(request.getJob()).orElse(null);
      } catch (IllegalArgumentException e) {
        return Scheduler.error(Error.Code.BAD_REQUEST, e.getMessage());
      }
      if (job == null) return Scheduler.error(Error.Code.NOT_FOUND, "no job '" + request.getJob() + "'");
      if (!peer.known()) {
        return Scheduler.error(Error.Code.PERMISSION_DENIED, "the agent cannot tell who is asking "
            + "(no peer credentials on this transport)");
      }
      if (peer.uid() != job.uid && !peer.isRoot()) {
        return Scheduler.error(Error.Code.PERMISSION_DENIED, "job " + job.key + " belongs to uid " + job.uid
            + "; only that user or root may end it");
      }
      boolean wasRunning = job.state == Job.State.RUNNING;
      if (wasRunning) {
        monitor.terminate(job, System.currentTimeMillis());
      } else {
        if (job.connection != null) {
          job.connection.sendAndClose(Scheduler.error(Error.Code.CANCELLED,
              "job " + job.key + " was cancelled by uid " + peer.uid() + " while waiting"));
        }
        scheduler.dropWaiting(job);
      }
      refreshStatus();
      return AgentReply.newBuilder()
          .setCancelled(Cancelled.newBuilder().setJobId(job.id).setWasRunning(wasRunning)).build();
    }, core);
  }

  /** The job with this id (tests). */
  Job jobForTest(long id) {
    return callOnCore(() -> scheduler.jobs().stream().filter(j -> j.id == id).findFirst().orElse(null));
  }

  private void onJobEnded(Job job) {
    if (job.connection != null) job.connection.close();
    scheduler.release(job);
  }

  private void tick() {
    try {
      long now = System.currentTimeMillis();
      monitor.checkAll(now);
      table.heartbeat(now * 1_000_000L);
      refreshStatus();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "periodic check failed", e);
    }
  }

  private void adoptRunning() {
    Map<Long, JobUsage> saved = history.lastCheckpoint();
    for (int entry : table.runningEntries()) {
      JobEntry e = table.read(entry).orElse(null);
      if (e == null) continue;
      Job job = JobMonitor.fromEntry(entry, e, saved.get(e.jobId()));
      scheduler.adopt(job);
      LOG.info("adopted running job " + job.key + " (entry " + entry + ")");
    }
    monitor.checkAll(System.currentTimeMillis());
  }

  /** Publishes the status snapshot and hands the running jobs to the time-slice scheduler. */
  private void refreshStatus() {
    List<SlicedJob> sliced = new ArrayList<>();
    for (Job j : scheduler.jobs()) {
      if (j.state != Job.State.RUNNING || j.tableEntry < 0) continue;
      int[] devices = j.devices.stream().mapToInt(Integer::intValue).toArray();
      sliced.add(new SlicedJob(j.id, j.tableEntry, j.uid, j.key, JobRegion.path(j.uid, j.key), Math.max(1, j.weight),
          devices, j.quotaBytes.clone()));
    }
    slicer.setJobs(sliced);
    status = StatusView.build(scheduler, options.simulated(), slicer.status());
  }

  private <T> T callOnCore(Supplier<T> work) {
    try {
      return CompletableFuture.supplyAsync(work, core).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) throw r;
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Stops serving; running jobs go on under their grants (the table stays), waiting jobs are told
   * the agent is going away.
   */
  @Override
  public void close() {
    try {
      callOnCore(() -> {
        for (Job j : scheduler.waiting()) {
          if (j.connection != null) {
            j.connection.sendAndClose(Scheduler.error(Error.Code.UNAVAILABLE, "the agent is shutting down"));
          }
        }
        history.checkpoint(monitor.usages(System.currentTimeMillis()));
        return null;
      });
    } finally {
      core.shutdownNow();
      slicer.close(); // opens every gate: running jobs go on without the agent
      table.close();
    }
  }
}
