package io.gpupool.agent.slicing;

import java.util.Map;
import java.util.Set;

/**
 * Which job to swap out before a slice on an oversubscribed device (README "Oversubscription"):
 * a pure function of what the jobs' gates show, no I/O. Used by {@link DeviceSlicer}.
 */
final class EvictionChoice {
  private EvictionChoice() {}

  /**
   * The job to ask to swap out so that {@code job}'s limit fits beside the others' resident
   * memory, or -1 when it fits already or nobody is left to ask: the least recently run other
   * job with memory resident that was not evicted since it last ran (ties: the lower id).
   *
   * @param samples every job's latest sample on the device ({@link DeviceSample#residentBytes})
   * @param lastRunNs when each job's last slice began (absent: never)
   * @param evictedSinceRun jobs asked to swap out since their last slice (not asked again)
   */
  static long victim(long job, long limit, long totalBytes, Map<Long, DeviceSample> samples, Map<Long, Long> lastRunNs,
      Set<Long> evictedSinceRun) {
    long resident = 0;
    long candidate = -1;
    long candidateRun = Long.MAX_VALUE;
    for (Map.Entry<Long, DeviceSample> e : samples.entrySet()) {
      long id = e.getKey();
      if (id == job) continue;
      long bytes = e.getValue().residentBytes();
      resident = bytes > Long.MAX_VALUE - resident ? Long.MAX_VALUE : resident + bytes;
      long ran = lastRunNs.getOrDefault(id, Long.MIN_VALUE);
      if (bytes > 0 && !evictedSinceRun.contains(id) && (ran < candidateRun || (ran == candidateRun && id < candidate))) {
        candidate = id;
        candidateRun = ran;
      }
    }
    return resident <= totalBytes - Math.min(limit, totalBytes) ? -1 : candidate;
  }
}
