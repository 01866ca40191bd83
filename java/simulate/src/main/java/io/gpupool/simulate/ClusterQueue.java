package io.gpupool.simulate;

import io.gpupool.agent.AdmissionQueue;
import io.gpupool.agent.AdmissionQueue.Admitter;
import java.util.HashSet;
import java.util.Set;

/**
 * The cluster's queue of waiting tasks under a {@link QueueDiscipline}. Strict FIFO is the
 * agent's {@link AdmissionQueue} unchanged; best-effort FIFO keeps the same queue (so the head,
 * the oldest waiting task, means the same) and only adds the pass that lets later tasks past
 * one that does not fit. Not thread-safe: owned by one {@link Simulator}.
 */
final class ClusterQueue {
  private final QueueDiscipline discipline;
  private final AdmissionQueue<SimTask> waiting = new AdmissionQueue<>();

  ClusterQueue(QueueDiscipline discipline) {
    this.discipline = discipline;
  }

  /** A new task: started now by {@code start} if the discipline lets it and it fits, else queued. */
  void submit(SimTask task, Admitter<SimTask> start) {
    boolean started = discipline == QueueDiscipline.STRICT_FIFO ? waiting.admitNow(task, start) : start.tryAdmit(task);
    if (!started) waiting.enqueue(task);
  }

  /** After capacity was released: starts waiting tasks as the discipline allows. */
  void admitWaiting(Admitter<SimTask> start) {
    if (discipline == QueueDiscipline.STRICT_FIFO) {
      waiting.admitWaiting(start);
      return;
    }
    // Placing only takes capacity during the pass, so a shape that did not fit will not fit
    // later in the same pass: skipping it keeps a long queue's pass to one try per shape.
    Set<String> full = new HashSet<>();
    for (SimTask task : waiting.snapshot()) {
      if (full.contains(task.shape)) continue;
      if (start.tryAdmit(task)) {
        waiting.remove(task);
      } else {
        full.add(task.shape);
      }
    }
  }

  /** The oldest waiting task, or null. */
  SimTask head() {
    return waiting.head();
  }

  int size() {
    return waiting.size();
  }
}
