package io.gpupool.agent.slicing;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;

/**
 * Weighted fair sharing of one device by virtual time: the decisions of the time-slice
 * scheduler, with no I/O, no threads and no clock of its own (every time is passed in), so the
 * agent's scheduler and the trace-replay simulator make the same choices.
 *
 * <p>Each joined job has a virtual time: the device time charged to it divided by its weight.
 * A slice goes to the job with pending work whose virtual time is least (ties: the one picked least
 * recently, then the lower job id), so over time each contending job's device time approaches its weight's share of the
 * device. Sleeping earns no credit (as Linux CFS): a job that joins starts at the virtual-time
 * floor, a monotonic value that follows the least virtual time of the jobs that were contending,
 * and a job that has pending work again after it had none starts at no less than the floor minus
 * one slice (a quantum of the lightest joined job's virtual time: CFS's sleeper bonus). A
 * contending job lags the others by at most about that much, so a brief pause between two of its
 * submissions (host work between kernels, a descheduled thread) costs it nothing; a late joiner
 * gets no burst, a long sleeper at most one slice's worth, and an idle job costs the busy ones
 * nothing.
 *
 * <p>Work-conserving: only jobs with pending work get slices; a holder with nothing pending
 * gives the device up at once when someone waits, and a holder that nobody waits for keeps it
 * past its quantum.
 *
 * <p>Not thread-safe: one owner (a scheduler thread, a simulator) calls it.
 */
public final class SlicePolicy {
  private final long quantumNanos;
  private final Map<Long, Long> weights = new HashMap<>();
  private final Map<Long, Double> virtualNanos = new HashMap<>();
  /** When each job was last picked (a count of picks): ties go to the one that waited longest. */
  private final Map<Long, Long> lastPicked = new HashMap<>();
  private long picks;
  /** Jobs that had pending work at the last {@link #next}: a job outside it is waking up. */
  private Set<Long> contending = new HashSet<>();
  private double floor;

  /** @param quantumNanos the longest slice while others wait; at least 1 */
  public SlicePolicy(long quantumNanos) {
    if (quantumNanos < 1) throw new IllegalArgumentException("quantum: " + quantumNanos + " ns is not positive");
    this.quantumNanos = quantumNanos;
  }

  public long quantumNanos() {
    return quantumNanos;
  }

  /** Adds a job (no-op if joined): it starts at the current floor. @param weight at least 1 */
  public void join(long jobId, long weight) {
    checkWeight(jobId, weight);
    if (weights.containsKey(jobId)) return;
    weights.put(jobId, weight);
    virtualNanos.put(jobId, currentFloor());
  }

  /** Changes a joined job's weight; device time charged from now on counts at the new weight. */
  public void setWeight(long jobId, long weight) {
    checkWeight(jobId, weight);
    if (weights.containsKey(jobId)) weights.put(jobId, weight);
  }

  public void leave(long jobId) {
    weights.remove(jobId);
    virtualNanos.remove(jobId);
    lastPicked.remove(jobId);
    contending.remove(jobId);
  }

  public boolean isJoined(long jobId) {
    return weights.containsKey(jobId);
  }

  public Set<Long> jobs() {
    return Set.copyOf(weights.keySet());
  }

  /** Charges device time the job used (measured on the device); ignored for unknown jobs. */
  public void charge(long jobId, long deviceNanos) {
    if (deviceNanos <= 0) return;
    Long weight = weights.get(jobId);
    if (weight == null) return;
    virtualNanos.merge(jobId, (double) deviceNanos / weight, Double::sum);
  }

  /** The job's virtual time (device nanoseconds per unit of weight), or NaN if not joined. */
  public double virtualTime(long jobId) {
    return virtualNanos.getOrDefault(jobId, Double.NaN);
  }

  /**
   * The job that should hold the device next among {@code pending} (the joined jobs with
   * pending work; others are ignored), or empty when none has any. Call it whenever the device
   * is to be (re)assigned; it also records who contends, so that a job missing from one call
   * and present in a later one is treated as waking up.
   */
  public OptionalLong next(Set<Long> pending) {
    double base = currentFloor();
    floor = base;
    double wakeBonus = (double) quantumNanos / weights.values().stream().mapToLong(Long::longValue).min().orElse(1);
    Set<Long> now = new HashSet<>();
    long best = 0;
    double bestTime = Double.POSITIVE_INFINITY;
    for (long job : new TreeSet<>(pending)) {
      Double time = virtualNanos.get(job);
      if (time == null) continue;
      if (!contending.contains(job) && time < base - wakeBonus) {
        time = base - wakeBonus; // woke up: sleeping earns no credit beyond one slice
        virtualNanos.put(job, time);
      }
      now.add(job);
      if (time < bestTime || (time == bestTime && lastPicked.getOrDefault(job, 0L) < lastPicked.getOrDefault(best, 0L))) {
        bestTime = time;
        best = job;
      }
    }
    contending = now;
    if (now.isEmpty()) return OptionalLong.empty();
    floor = Math.max(floor, bestTime);
    lastPicked.put(best, ++picks);
    return OptionalLong.of(best);
  }

  /**
   * Whether the holder's slice should end now.
   *
   * @param elapsedInSliceNanos time since the slice began
   * @param holderPending whether the holder has pending work
   * @param othersPending whether another joined job has pending work
   */
  public boolean shouldPreempt(long holder, long elapsedInSliceNanos, boolean holderPending, boolean othersPending) {
    if (!othersPending) return false; // nobody waits: keep the device busy with the holder
    if (!weights.containsKey(holder) || !holderPending) return true;
    return elapsedInSliceNanos >= quantumNanos;
  }

  /**
   * Steady-state shares of one device at fluid granularity (weighted max-min fairness, water
   * filling): a job never gets more than it demands, and what is left is split among the others
   * by weight. See {@link FairShares#of}.
   */
  public static <K> Map<K, Double> shares(Map<K, Long> weights, Map<K, Double> demands) {
    return FairShares.of(weights, demands);
  }

  /** The floor, caught up with the least virtual time of the jobs that were contending. */
  private double currentFloor() {
    double least = Double.POSITIVE_INFINITY;
    for (long job : contending) {
      Double time = virtualNanos.get(job);
      if (time != null) least = Math.min(least, time);
    }
    return least == Double.POSITIVE_INFINITY ? floor : Math.max(floor, least);
  }

  private static void checkWeight(long jobId, long weight) {
    if (weight < 1) throw new IllegalArgumentException("job " + jobId + ": weight " + weight + " is not positive");
  }
}
