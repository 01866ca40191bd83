package io.gpupool.simulate;

import java.util.Arrays;

/**
 * Integrates the cluster's state over virtual time and keeps it as a {@link Timeline}. The
 * simulator calls {@link #interval} for each span between two events with the state that held
 * during it. Not thread-safe.
 */
final class Recorder {
  private final int gpus;
  private double allocated; // ∫ granted units dt
  private double busy; // ∫ busy devices dt
  private double fragmented; // ∫ fragmented GPUs dt
  private double waitingTime; // ∫ [a task waits] dt
  private double first = Double.NaN;
  private double last = Double.NaN;

  private double[] start = new double[1024];
  private double[] alloc = new double[1024];
  private double[] used = new double[1024];
  private int[] queued = new int[1024];
  private int segments;

  Recorder(int gpus) {
    this.gpus = gpus;
  }

  /** The state from {@code from} to {@code to}: units granted, busy devices, waiting tasks, fragmented GPUs. */
  void interval(double from, double to, long grantedUnits, double busyDevices, int waiting, int fragmentedGpus) {
    if (Double.isNaN(first)) first = from;
    last = to;
    if (!(to > from)) return;
    double dt = to - from;
    allocated += grantedUnits * dt;
    busy += busyDevices * dt;
    fragmented += fragmentedGpus * dt;
    if (waiting > 0) waitingTime += dt;
    double a = grantedUnits / (double) (gpus * Cluster.DEVICE_UNITS);
    double b = busyDevices / gpus;
    if (segments > 0 && alloc[segments - 1] == a && used[segments - 1] == b && queued[segments - 1] == waiting) return;
    if (segments == start.length) grow();
    start[segments] = from;
    alloc[segments] = a;
    used[segments] = b;
    queued[segments] = waiting;
    segments++;
  }

  double first() {
    return Double.isNaN(first) ? 0 : first;
  }

  double last() {
    return Double.isNaN(last) ? 0 : last;
  }

  double window() {
    return last() - first();
  }

  double allocationRate() {
    return share(allocated / Cluster.DEVICE_UNITS);
  }

  double utilisation() {
    return share(busy);
  }

  double fragmentedGpus() {
    return window() > 0 ? fragmented / window() : 0;
  }

  double fragmentedGpusWhileWaiting() {
    return waitingTime > 0 ? fragmented / waitingTime : 0;
  }

  double waitingShare() {
    return window() > 0 ? waitingTime / window() : 0;
  }

  Timeline timeline() {
    return new Timeline(Arrays.copyOf(start, segments), Arrays.copyOf(alloc, segments), Arrays.copyOf(used, segments),
        Arrays.copyOf(queued, segments), last());
  }

  private double share(double gpuSeconds) {
    return window() > 0 ? gpuSeconds / (gpus * window()) : 0;
  }

  private void grow() {
    int n = start.length * 2;
    start = Arrays.copyOf(start, n);
    alloc = Arrays.copyOf(alloc, n);
    used = Arrays.copyOf(used, n);
    queued = Arrays.copyOf(queued, n);
  }
}
