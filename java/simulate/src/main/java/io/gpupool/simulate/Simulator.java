package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Replays a trace on simulated nodes with a virtual clock: discrete events (submissions,
 * completions), the time between them skipped; no threads, no sleeping, no wall clock.
 *
 * <p>Decisions are the agent's: submissions start strictly in order through its AdmissionQueue
 * (or, with {@link QueueDiscipline#BEST_EFFORT_FIFO}, the cluster scheduler's alternative that
 * lets later tasks past one that does not fit; see {@link ClusterQueue}), each placed by {@link
 * Cluster} (the agent's Placement within a node), and
 * co-located tasks share a device's time by {@link DeviceTime} (the agent's SlicePolicy shares).
 * When a task starts or ends, the shares of the devices it touches are recomputed, every task on
 * them gets its new rate, and its completion is predicted again (a stale prediction is skipped).
 * At equal times completions come before submissions, and submissions go in file order.
 *
 * <p>A file without times (fill mode): task i is submitted at second i and never ends, so the
 * replay shows how far each policy fills the cluster before the first task that cannot start.
 */
public final class Simulator {
  private record Completion(double time, SimTask task, int version) {}

  private final Policy policy;
  private final Cluster cluster;
  private final DeviceTime deviceTime;
  private final Recorder recorder;
  private final QueueDiscipline discipline;
  private final ClusterQueue queue;
  private final PriorityQueue<Completion> completions = new PriorityQueue<>(
      Comparator.comparingDouble(Completion::time).thenComparingInt(c -> c.task().order));
  private final Map<String, Boolean> everFits = new HashMap<>();
  private final List<SimTask> started = new ArrayList<>();
  private final int nodes;
  private double now;
  private long grantedUnits;
  private double busyDevices;
  private int refused;
  private int completed;
  private int fragmented;
  private boolean fragmentedStale = true;

  private Simulator(List<ClusterNode> nodes, Policy policy, QueueDiscipline discipline) {
    this.policy = policy;
    this.discipline = discipline;
    this.queue = new ClusterQueue(discipline);
    this.nodes = nodes.size();
    this.cluster = new Cluster(nodes);
    this.deviceTime = new DeviceTime(cluster.deviceCount());
    this.recorder = new Recorder(cluster.deviceCount());
  }

  /** {@link #run(Trace, List, Policy, Demand, QueueDiscipline)} with the agent's strict FIFO. */
  public static SimulationResult run(Trace trace, List<ClusterNode> nodes, Policy policy, Demand demand) {
    return run(trace, nodes, policy, demand, QueueDiscipline.STRICT_FIFO);
  }

  /** Replays every GPU task of the trace that ran in it (see {@link TaskCounts}) under the policy. */
  public static SimulationResult run(Trace trace, List<ClusterNode> nodes, Policy policy, Demand demand,
      QueueDiscipline discipline) {
    if (nodes.isEmpty()) throw new IllegalArgumentException("no nodes to replay on");
    return new Simulator(nodes, policy, discipline).replay(trace, demand);
  }

  private SimulationResult replay(Trace trace, Demand demand) {
    List<SimTask> arrivals = new ArrayList<>();
    int cpuOnly = 0;
    int neverRan = 0;
    for (TraceTask t : trace.tasks()) {
      if (t.gpus() == 0) {
        cpuOnly++;
      } else if (!t.ranInTrace()) {
        neverRan++;
      } else {
        double at = trace.timed() ? t.creation() : arrivals.size() + cpuOnly + neverRan;
        arrivals.add(new SimTask(t, arrivals.size(), at, policy.requestPerGpu(t), demand.of(t)));
      }
    }
    arrivals.sort(Comparator.comparingDouble((SimTask t) -> t.arrival).thenComparingInt(t -> t.order));
    if (!arrivals.isEmpty()) now = arrivals.get(0).arrival;

    int next = 0;
    while (true) {
      Completion c = completions.peek();
      if (c != null && c.version() != c.task().version) {
        completions.poll(); // predicted under a rate that has since changed
        continue;
      }
      boolean arrival = next < arrivals.size();
      if (c == null && !arrival) break;
      if (c != null && (!arrival || c.time() <= arrivals.get(next).arrival)) {
        completions.poll();
        advanceTo(c.time());
        finish(c.task());
      } else {
        SimTask t = arrivals.get(next++);
        advanceTo(t.arrival);
        submit(t);
      }
    }
    advanceTo(now); // opens the recorder's window even when nothing ever ran

    List<Double> delays = new ArrayList<>();
    List<Double> jct = new ArrayList<>();
    for (SimTask t : started) {
      delays.add(t.started - t.arrival);
      if (!Double.isNaN(t.ended)) jct.add(t.ended - t.arrival);
    }
    TaskCounts counts = new TaskCounts(trace.tasks().size(), cpuOnly, neverRan, arrivals.size(), refused,
        started.size(), completed, queue.size());
    var atEnd = new SimulationResult.EndState(grantedUnits / (double) (cluster.deviceCount() * Cluster.DEVICE_UNITS),
        busyDevices / cluster.deviceCount(), fragmentedNow(), queue.size());
    return new SimulationResult(policy, demand, discipline, trace.timed(), nodes, cluster.deviceCount(), counts,
        recorder.first(), recorder.last(), recorder.allocationRate(), recorder.utilisation(),
        recorder.fragmentedGpus(), recorder.fragmentedGpusWhileWaiting(), recorder.waitingShare(),
        new Distribution(unbox(delays)), new Distribution(unbox(jct)), recorder.timeline(), atEnd, recorder.last());
  }

  private void advanceTo(double time) {
    recorder.interval(now, time, grantedUnits, busyDevices, queue.size(), fragmentedNow());
    now = time;
  }

  private void submit(SimTask task) {
    boolean fits = everFits.computeIfAbsent(task.shape,
        k -> cluster.everFits(task.trace.gpus(), task.request, task.trace.gpuModels()));
    if (!fits) {
      refused++;
      return;
    }
    queue.submit(task, this::start);
    fragmentedStale = true;
  }

  /** The admitter: places and starts the task now if it fits. */
  private boolean start(SimTask task) {
    int[] devices = cluster.place(task.trace.gpus(), task.request, task.trace.gpuModels());
    if (devices == null) return false;
    long quota = Cluster.quota(task.request);
    cluster.grant(devices, quota);
    grantedUnits += quota * devices.length;
    task.devices = devices;
    task.shares = new double[devices.length];
    task.started = now;
    task.settledAt = now;
    started.add(task);
    deviceTime.add(task);
    reshare(devices);
    return true;
  }

  private void finish(SimTask task) {
    task.settle(now);
    task.ended = now;
    completed++;
    deviceTime.remove(task);
    cluster.release(task.devices, Cluster.quota(task.request));
    grantedUnits -= Cluster.quota(task.request) * task.devices.length;
    busyDevices -= task.rate * task.devices.length;
    task.rate = 0;
    task.version++;
    reshare(task.devices);
    queue.admitWaiting(this::start);
    fragmentedStale = true;
  }

  /** New shares on these devices; every task on them moves to its new rate. */
  private void reshare(int[] devices) {
    Set<SimTask> touched = new LinkedHashSet<>();
    for (int d : devices) {
      deviceTime.reshare(d);
      touched.addAll(deviceTime.on(d));
    }
    for (SimTask t : touched) {
      double rate = t.leastShare();
      if (rate == t.rate) continue;
      t.settle(now);
      busyDevices += (rate - t.rate) * t.devices.length;
      t.rate = rate;
      t.version++;
      if (rate > 0 && Double.isFinite(t.remaining)) completions.add(new Completion(now + t.remaining / rate, t, t.version));
    }
  }

  /** GPUs partly allocated that cannot take the first waiting task (0 when none waits). */
  private int fragmentedNow() {
    if (!fragmentedStale) return fragmented;
    fragmentedStale = false;
    fragmented = 0;
    SimTask head = queue.head();
    if (head == null) return 0;
    long need = Cluster.quota(head.request);
    Set<String> models = head.trace.gpuModels();
    for (int d = 0; d < cluster.deviceCount(); d++) {
      long granted = cluster.granted(d);
      if (granted == 0 || granted >= Cluster.DEVICE_UNITS) continue;
      if (Cluster.DEVICE_UNITS - granted < need || !models.isEmpty() && !models.contains(cluster.model(d))) fragmented++;
    }
    return fragmented;
  }

  private static double[] unbox(List<Double> values) {
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) out[i] = values.get(i);
    return out;
  }
}
