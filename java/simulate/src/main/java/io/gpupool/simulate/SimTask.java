package io.gpupool.simulate;

/**
 * A replayed task's state in one simulation: what it asks of placement, and once started, its
 * devices, its share of each device's time and how much work is left. Owned by one Simulator.
 */
final class SimTask {
  final TraceTask trace;
  /** Its place in arrival order (ties in time go by file order). */
  final int order;
  final double arrival;
  /** Per-GPU quota asked of placement, thousandths of a device; 0: whole devices. */
  final long request;
  /** What placement sees of it (GPUs, per-GPU request, models): tasks of one shape fit the same places. */
  final String shape;
  /** Share of a device's time it would use alone, 0..1. */
  final double demand;
  /** Device-seconds still to run on each of its GPUs (infinite in fill mode). */
  double remaining;

  double started = Double.NaN;
  double ended = Double.NaN;
  int[] devices;
  /** Its share of each of its devices' time, as SlicePolicy.shares gave it. */
  double[] shares;
  /** Device-seconds per second on each of its GPUs: the least of its shares (its GPUs step together). */
  double rate;
  /** When remaining was last brought up to date. */
  double settledAt;
  /** Bumped at each rate change, so a completion predicted under an older rate is ignored. */
  int version;

  SimTask(TraceTask trace, int order, double arrival, long request, double demand) {
    this.trace = trace;
    this.order = order;
    this.arrival = arrival;
    this.request = request;
    this.shape = trace.gpus() + "x" + request + "@" + trace.gpuModels();
    this.demand = demand;
    this.remaining = trace.runSeconds() * trace.gpuFraction();
  }

  /** Brings remaining up to {@code now} at the current rate. */
  void settle(double now) {
    if (rate > 0 && now > settledAt) remaining = Math.max(0, remaining - rate * (now - settledAt));
    settledAt = now;
  }

  int slot(int device) {
    for (int i = 0; i < devices.length; i++) if (devices[i] == device) return i;
    throw new IllegalStateException("task " + trace.name() + " does not run on device " + device);
  }

  double leastShare() {
    double least = Double.POSITIVE_INFINITY;
    for (double s : shares) least = Math.min(least, s);
    return least;
  }
}
