package io.gpupool.agent.slicing;

import io.gpupool.region.Processes;

/** Whether the process {@code pid} that started at {@code startTime} still runs. */
@FunctionalInterface
public interface Liveness {
  Liveness PROC = Processes::alive;

  boolean alive(int pid, long startTime);
}
