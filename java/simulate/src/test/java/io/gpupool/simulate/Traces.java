package io.gpupool.simulate;

import java.util.ArrayList;
import java.util.List;
import java.nio.file.Path;
import java.util.Set;

/** Hand-made traces and clusters for the simulator's tests. */
final class Traces {
  private final List<TraceTask> tasks = new ArrayList<>();
  private final boolean timed;

  private Traces(boolean timed) {
    this.timed = timed;
  }

  static Traces timed() {
    return new Traces(true);
  }

  static Traces untimed() {
    return new Traces(false);
  }

  /** A task of `gpus` x `milli`, submitted at `at` (started at once in the trace), running `run` seconds. */
  Traces task(String name, int gpus, int milli, long at, long run) {
    return task(name, gpus, milli, Set.of(), at, at, at + run);
  }

  Traces task(String name, int gpus, int milli, Set<String> models, long creation, long scheduled, long deletion) {
    long none = TraceTask.NO_TIME;
    tasks.add(new TraceTask(tasks.size() + 2, name, 1000, 1024, gpus, milli, models, "LS", "Running",
        timed ? creation : none, timed ? scheduled : none, timed ? deletion : none));
    return this;
  }

  Trace build() {
    return new Trace(Path.of("hand-made.csv"), timed, tasks);
  }

  static List<ClusterNode> nodes(int... gpusPerNode) {
    List<ClusterNode> nodes = new ArrayList<>();
    for (int i = 0; i < gpusPerNode.length; i++) nodes.add(new ClusterNode(i + 2, "n" + i, 64000, 262144, gpusPerNode[i], "P100"));
    return nodes;
  }
}
