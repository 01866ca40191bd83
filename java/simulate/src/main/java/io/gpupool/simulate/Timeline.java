package io.gpupool.simulate;

import java.util.Arrays;

/**
 * The cluster over time, piecewise constant: from {@code start[i]} until the next start (or the
 * end), a share {@code allocated[i]} of all GPU capacity was granted, a share {@code busy[i]} of
 * all device time was used, and {@code waiting[i]} tasks were queued.
 */
public record Timeline(double[] start, double[] allocated, double[] busy, int[] waiting, double end) {
  /** Time averages over {@code buckets} equal spans of [first start, end], for plots. */
  public Timeline resample(int buckets) {
    if (start.length == 0 || buckets < 1 || !(end > start[0])) return this;
    double from = start[0];
    double width = (end - from) / buckets;
    double[] s = new double[buckets];
    double[] a = new double[buckets];
    double[] b = new double[buckets];
    double[] w = new double[buckets];
    int i = 0;
    for (int k = 0; k < buckets; k++) {
      double lo = from + k * width;
      double hi = k == buckets - 1 ? end : lo + width;
      s[k] = lo;
      while (i + 1 < start.length && start[i + 1] <= lo) i++;
      for (int j = i; j < start.length && start[j] < hi; j++) {
        double segEnd = j + 1 < start.length ? start[j + 1] : end;
        double overlap = Math.min(hi, segEnd) - Math.max(lo, start[j]);
        if (overlap <= 0) continue;
        a[k] += allocated[j] * overlap;
        b[k] += busy[j] * overlap;
        w[k] += waiting[j] * overlap;
      }
      a[k] /= hi - lo;
      b[k] /= hi - lo;
      w[k] /= hi - lo;
    }
    int[] waitingRounded = new int[buckets];
    for (int k = 0; k < buckets; k++) waitingRounded[k] = (int) Math.round(w[k]);
    return new Timeline(s, a, b, waitingRounded, end);
  }

  /** The same timeline, then nothing allocated, used or waiting from its end to {@code later}. */
  public Timeline idleUntil(double later) {
    if (!(later > end)) return this;
    int n = start.length;
    double[] s = Arrays.copyOf(start, n + 1);
    double[] a = Arrays.copyOf(allocated, n + 1);
    double[] b = Arrays.copyOf(busy, n + 1);
    int[] w = Arrays.copyOf(waiting, n + 1);
    s[n] = end;
    return new Timeline(s, a, b, w, later);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Timeline t && Arrays.equals(start, t.start) && Arrays.equals(allocated, t.allocated)
        && Arrays.equals(busy, t.busy) && Arrays.equals(waiting, t.waiting) && end == t.end;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(start) * 31 + Double.hashCode(end);
  }
}
