package io.gpupool.simulate;

import java.nio.file.Path;
import java.util.List;

/**
 * A pod list as read from its file, every row kept in file order.
 *
 * @param timed whether the file has the time columns; without them (e.g. openb's multigpu50
 *     list) tasks arrive one per second in file order and never end (see README: fill mode)
 */
public record Trace(Path file, boolean timed, List<TraceTask> tasks) {
  public Trace {
    tasks = List.copyOf(tasks);
  }
}
