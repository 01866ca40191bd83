package io.gpupool.agent.slicing;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Each job's recent share of one device's time: cumulative device time per job recorded at most
 * every {@link #STEP_NANOS}, compared with the record about {@link #WINDOW_NANOS} ago.
 */
final class ShareWindow {
  static final long WINDOW_NANOS = 5_000_000_000L;
  static final long STEP_NANOS = 100_000_000L;

  private record Point(long atNs, Map<Long, Long> cumulative) {}

  private final Deque<Point> points = new ArrayDeque<>();

  /** Records the jobs' cumulative device time (a copy is kept). */
  void record(long nowNs, Map<Long, Long> cumulative) {
    if (!points.isEmpty() && nowNs - points.peekLast().atNs() < STEP_NANOS) return;
    points.addLast(new Point(nowNs, Map.copyOf(cumulative)));
    while (points.size() > 2 && nowNs - points.peekFirst().atNs() > WINDOW_NANOS) points.removeFirst();
  }

  /** Device time per job over the window (jobs without a past record count from 0). */
  Map<Long, Long> used(Map<Long, Long> cumulativeNow) {
    Map<Long, Long> used = new HashMap<>();
    Map<Long, Long> then = points.isEmpty() ? Map.of() : points.peekFirst().cumulative();
    cumulativeNow.forEach((job, now) -> used.put(job, Math.max(0, now - then.getOrDefault(job, 0L))));
    return used;
  }
}
