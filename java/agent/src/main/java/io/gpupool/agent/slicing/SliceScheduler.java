package io.gpupool.agent.slicing;

import io.gpupool.region.NodeTable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's time-slice scheduler: one thread for all devices ({@code gpupool-slicer}), apart
 * from the agent's core thread so that neither waits for the other.
 *
 * <p>Threading: the core thread hands over the whole set of running jobs with {@link #setJobs}
 * (an immutable list; the scheduler picks up the latest one at its next step); any thread reads
 * {@link #status()}, a snapshot the scheduler thread replaces about every 100 ms. Everything
 * else, the node table's slice fields included, is written only by the scheduler thread (or by
 * the caller of {@link #step} in tests, which then must not {@link #start} it). Nothing a job
 * does to its region escapes the thread: every step of every device is guarded, and an error is
 * logged (once per message) and the device tried again at the next step.
 */
public final class SliceScheduler implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SliceScheduler.class.getName());
  private static final long STATUS_PERIOD_NS = 100_000_000L;

  private final NodeTable table;
  private final SliceConfig config;
  private final Liveness liveness;
  private final LongSupplier clock;
  private final List<DeviceSlicer> slicers = new ArrayList<>();
  private final AtomicReference<List<SlicedJob>> handOff = new AtomicReference<>();
  private final Map<Long, JobGates> gates = new HashMap<>();
  private boolean firstJobSet = true;
  private volatile SliceStatus status = SliceStatus.NONE;
  private long nextStatusNs;
  private String lastError;
  private volatile boolean running;
  private Thread thread;

  /**
   * Takes over slices[d] of every device of the table: each starts OPEN with this config's
   * quantum, flags and depth.
   */
  public SliceScheduler(NodeTable table, SliceConfig config, Liveness liveness, LongSupplier clock) {
    this.table = table;
    this.config = config;
    this.liveness = liveness;
    this.clock = clock;
    var devices = table.devices();
    for (int d = 0; d < devices.size(); d++) slicers.add(new DeviceSlicer(d, devices.get(d).totalBytes(), table, config));
    publishStatus(clock.getAsLong());
  }

  public SliceConfig config() {
    return config;
  }

  /** The running jobs now; any thread (the agent's core thread). */
  public void setJobs(List<SlicedJob> jobs) {
    handOff.set(List.copyOf(jobs));
    Thread t = thread;
    if (t != null) LockSupport.unpark(t);
  }

  public SliceStatus status() {
    return status;
  }

  /** Starts the scheduler thread. */
  public synchronized void start() {
    if (thread != null) return;
    running = true;
    thread = new Thread(this::run, "gpupool-slicer");
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    while (running) {
      long wait = step(clock.getAsLong());
      LockSupport.parkNanos(wait);
    }
  }

  /** One step of every device at {@code nowNs}; returns how long to wait for the next (ns). */
  long step(long nowNs) {
    long wait = config.slowPollNanos();
    try {
      applyJobSet(nowNs);
    } catch (RuntimeException e) {
      logOnce("applying the job set", e);
    }
    for (DeviceSlicer slicer : slicers) {
      try {
        wait = Math.min(wait, slicer.tick(nowNs));
      } catch (RuntimeException | InternalError e) { // InternalError: a fault in a memory access
        logOnce("device " + slicer.device(), e);
      }
    }
    if (nowNs - nextStatusNs >= 0) publishStatus(nowNs);
    return wait;
  }

  private void applyJobSet(long nowNs) {
    List<SlicedJob> jobs = handOff.getAndSet(null);
    if (jobs == null) return;
    Map<Long, SlicedJob> byId = new HashMap<>();
    for (SlicedJob j : jobs) byId.put(j.jobId(), j);
    for (Long id : new ArrayList<>(gates.keySet())) {
      if (!byId.containsKey(id)) gates.remove(id).close();
    }
    for (SlicedJob j : jobs) {
      JobGates g = gates.get(j.jobId());
      if (g == null) {
        // Jobs in the first set may have run before this agent started (an adopting restart).
        gates.put(j.jobId(), new JobGates(j, liveness, config.graceNanos(), nowNs, firstJobSet));
      } else {
        g.update(j);
      }
    }
    firstJobSet = false;
    for (DeviceSlicer slicer : slicers) {
      List<JobGates> on = new ArrayList<>();
      for (JobGates g : gates.values()) if (g.job().has(slicer.device())) on.add(g);
      on.sort((a, b) -> Long.compare(a.job().jobId(), b.job().jobId()));
      slicer.setJobs(on);
    }
  }

  private void publishStatus(long nowNs) {
    nextStatusNs = nowNs + STATUS_PERIOD_NS;
    List<SliceStatus.Device> devices = new ArrayList<>();
    for (DeviceSlicer slicer : slicers) {
      try {
        devices.add(slicer.status());
      } catch (RuntimeException e) {
        logOnce("status of device " + slicer.device(), e);
      }
    }
    status = new SliceStatus(List.copyOf(devices));
  }

  private void logOnce(String what, Throwable e) {
    String message = what + ": " + e;
    if (message.equals(lastError)) return;
    lastError = message;
    LOG.log(Level.WARNING, "time slicing: " + message, e);
  }

  /**
   * Stops the thread and opens every device's gate: jobs go on without the agent, sharing the
   * devices concurrently (a new agent takes the gates over again).
   */
  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      running = false;
      t = thread;
    }
    if (t != null) {
      LockSupport.unpark(t);
      try {
        t.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (DeviceSlicer slicer : slicers) {
      try {
        slicer.release();
      } catch (RuntimeException e) {
        logOnce("opening device " + slicer.device(), e);
      }
    }
    for (JobGates g : gates.values()) g.close();
    gates.clear();
  }
}
