package io.gpupool.simulate;

import java.util.Set;

/**
 * One row of a pod list (Alibaba openb schema): what a task asked for and, when the file has
 * times, when it was created, scheduled and deleted in the traced cluster (seconds).
 *
 * @param line the row's line in its file (for messages)
 * @param gpus GPUs asked for (num_gpu); 0: a CPU-only task
 * @param gpuMilli thousandths of each GPU asked for (gpu_milli): 1000 a whole GPU, less a share
 * @param gpuModels the GPU models it may run on (gpu_spec, split at '|'); empty: any
 * @param creation when it was submitted, or {@link #NO_TIME} in a file without times
 * @param scheduled when it started in the trace, or {@link #NO_TIME} if it never did
 * @param deletion when it ended (or was withdrawn), or {@link #NO_TIME} in a file without times
 */
public record TraceTask(int line, String name, long cpuMilli, long memoryMib, int gpus, int gpuMilli,
    Set<String> gpuModels, String qos, String phase, long creation, long scheduled, long deletion) {
  public static final long NO_TIME = -1;

  /** Whether it started in the traced cluster (a file without times: assumed so). */
  public boolean ranInTrace() {
    return creation == NO_TIME || scheduled != NO_TIME;
  }

  /** How long it ran in the trace, in seconds; infinite in a file without times. */
  public double runSeconds() {
    return creation == NO_TIME ? Double.POSITIVE_INFINITY : deletion - scheduled;
  }

  /** The share of each of its GPUs it asked for, 0..1. */
  public double gpuFraction() {
    return gpuMilli / 1000.0;
  }
}
