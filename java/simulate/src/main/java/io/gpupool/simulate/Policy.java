package io.gpupool.simulate;

import java.util.Locale;

/** How a trace task's GPU request is put to the agent's placement. */
public enum Policy {
  /** The common baseline: every task holds whole GPUs exclusively; a fractional request takes a whole GPU. */
  STATIC,
  /** gpupool: a fractional request is a quota of that share of the device's memory, beside others, time-sliced. */
  POOLED;

  /**
   * The per-GPU quota asked of placement, in thousandths of a device ({@link Cluster#DEVICE_UNITS});
   * 0 asks for whole devices, as `gpupool run` without --memory does.
   */
  long requestPerGpu(TraceTask task) {
    return this == STATIC || task.gpuMilli() >= Cluster.DEVICE_UNITS ? 0 : task.gpuMilli();
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** "static" or "pooled"; IllegalArgumentException naming the text otherwise. */
  public static Policy parse(String text) {
    for (Policy p : values()) if (p.label().equals(text.trim())) return p;
    throw new IllegalArgumentException("'" + text + "' is not a policy (static, pooled)");
  }
}
