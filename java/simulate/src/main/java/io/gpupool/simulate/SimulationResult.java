package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.List;

/**
 * What one replay of a trace under one policy measured. Time averages are over the window
 * [start, end]: from the first submission to the last completion (fill mode: to the last
 * arrival), or a longer one given by {@link #onOneWindow} so that policies compare over the same
 * span.
 *
 * @param queue how waiting tasks were let start
 * @param allocationRate share of all GPU capacity granted to tasks (a whole GPU held = 1, a
 *     quota of 460 thousandths = 0.46), time-averaged
 * @param utilisation share of all device time tasks used (their rates), time-averaged
 * @param fragmentedGpus GPUs partly allocated that cannot take the first waiting task (its
 *     per-GPU request exceeds what is free, or their model is not one it accepts), time-averaged
 *     over the whole window; 0 while nothing waits
 * @param fragmentedGpusWhileWaiting the same, averaged only over the time some task waited
 * @param waitingShare share of the window during which at least one task waited
 * @param queueDelay per started task: start minus submission, seconds
 * @param completionTime per completed task: end minus submission, seconds
 * @param atEnd the cluster when the replay ended (what fill mode reports)
 * @param lastEvent when this replay's last task completed (fill mode: its last submission); end
 *     is later when the window was widened to another replay's
 */
public record SimulationResult(Policy policy, Demand demand, QueueDiscipline queue, boolean timed, int nodes, int gpus, TaskCounts tasks,
    double start, double end, double allocationRate, double utilisation, double fragmentedGpus,
    double fragmentedGpusWhileWaiting, double waitingShare, Distribution queueDelay, Distribution completionTime,
    Timeline timeline, EndState atEnd, double lastEvent) {

  /** The cluster at one moment: shares of all capacity granted and of device time in use, fragmented GPUs, queue. */
  public record EndState(double allocated, double busy, int fragmentedGpus, int waiting) {}

  /** Of the device time granted, the share used: how much of what tasks held they kept busy. */
  public double usedOfAllocated() {
    return allocationRate > 0 ? utilisation / allocationRate : Double.NaN;
  }

  public double window() {
    return end - start;
  }

  /** From the first submission to this replay's own last event (its makespan, when timed). */
  public double ownWindow() {
    return lastEvent - start;
  }

  /**
   * Replays of one trace, each with its time averages taken over the same window: from the
   * earliest start to the latest end among them. Comparing averages over each replay's own
   * window would reward the policy that finishes last (the same work spread over more time
   * looks like lower use). After its own end a timed replay has nothing granted, used or
   * waiting, so its integrals are unchanged and only the span they are divided by grows.
   */
  public static List<SimulationResult> onOneWindow(List<SimulationResult> results) {
    // Fill mode's window is its submissions, the same for every policy.
    for (SimulationResult r : results) if (!r.timed) return results;
    double from = Double.POSITIVE_INFINITY;
    double to = Double.NEGATIVE_INFINITY;
    for (SimulationResult r : results) {
      from = Math.min(from, r.start);
      to = Math.max(to, r.end);
    }
    List<SimulationResult> out = new ArrayList<>(results.size());
    for (SimulationResult r : results) out.add(r.over(from, to));
    return out;
  }

  private SimulationResult over(double from, double to) {
    if (from == start && to == end) return this;
    if (from > start || to < end) throw new IllegalArgumentException("a window only widens");
    double scale = to > from ? window() / (to - from) : 1;
    return new SimulationResult(policy, demand, queue, timed, nodes, gpus, tasks, from, to, allocationRate * scale,
        utilisation * scale, fragmentedGpus * scale, fragmentedGpusWhileWaiting, waitingShare * scale, queueDelay,
        completionTime, timeline.idleUntil(to), atEnd, lastEvent);
  }
}
