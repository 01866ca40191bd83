package io.gpupool.simulate;

import java.util.Arrays;

/**
 * A set of per-task durations (seconds), sorted. Percentiles are nearest-rank: the p-th is the
 * smallest value with at least p% of the values at or below it (of 0, 10, 20, 30: p50 = 10,
 * p95 = 30), so every percentile is a duration some task really had.
 */
public record Distribution(double[] sorted) {
  public Distribution {
    sorted = sorted.clone();
    Arrays.sort(sorted);
  }

  public int count() {
    return sorted.length;
  }

  /** NaN when empty. */
  public double percentile(double p) {
    if (!(p > 0 && p <= 100)) throw new IllegalArgumentException("percentile " + p + " is not in (0, 100]");
    if (sorted.length == 0) return Double.NaN;
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(1, rank) - 1];
  }

  public double mean() {
    if (sorted.length == 0) return Double.NaN;
    double sum = 0;
    for (double v : sorted) sum += v;
    return sum / sorted.length;
  }

  public double max() {
    return sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1];
  }

  /** The share of values at or below {@code x}, 0..1 (the empirical CDF). */
  public double atOrBelow(double x) {
    if (sorted.length == 0) return Double.NaN;
    int lo = 0;
    int hi = sorted.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return (double) lo / sorted.length;
  }
}
