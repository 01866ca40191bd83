package io.gpupool.simulate;

import java.util.Locale;

/**
 * How much of a device's time a running task would use if it had the device to itself. A task's
 * work is fixed by the trace either way: {@code gpu_milli/1000 x its run time} device-seconds on
 * each of its GPUs (what it got in the traced cluster, whose GPU sharing capped a task at its
 * share).
 */
public enum Demand {
  /** It uses at most the share it asked for: alone it runs exactly as long as in the trace. */
  REQUEST,
  /**
   * It is compute-bound and takes any device time it is given: alone on a GPU it finishes in
   * {@code gpu_milli/1000} of its trace time; sharing a GPU, time slicing decides.
   */
  WHOLE;

  double of(TraceTask task) {
    return this == REQUEST ? task.gpuFraction() : 1.0;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Demand parse(String text) {
    for (Demand d : values()) if (d.label().equals(text.trim())) return d;
    throw new IllegalArgumentException("'" + text + "' is not a demand model (request, whole)");
  }
}
