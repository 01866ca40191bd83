package io.gpupool.simulate;

import java.util.Locale;

/**
 * How the cluster's one queue of waiting tasks lets them start. The agent serves one node and
 * starts its jobs strictly in order ({@code io.gpupool.agent.AdmissionQueue}); across a cluster
 * the queue belongs to the cluster's scheduler (Kubernetes, DESIGN.md), and Kubernetes' job
 * queue Kueue offers both rules below under these names ({@code StrictFIFO}, its default
 * {@code BestEffortFIFO}).
 */
public enum QueueDiscipline {
  /**
   * The agent's rule applied to the whole cluster (the default: issue 7 replays through the
   * agent's admission code): a head that fits nowhere holds up every task behind it, so a large
   * task is never starved, and the whole cluster idles while it waits.
   */
  STRICT_FIFO,
  /**
   * Tasks are tried in arrival order and every one that fits starts; one that does not fit
   * holds up nobody. Nothing idles behind a large task, but a large task can be overtaken
   * indefinitely (starved) by small ones that keep fitting.
   */
  BEST_EFFORT_FIFO;

  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** "strict-fifo" or "best-effort-fifo"; IllegalArgumentException naming the text otherwise. */
  public static QueueDiscipline parse(String text) {
    for (QueueDiscipline q : values()) if (q.label().equals(text.trim())) return q;
    throw new IllegalArgumentException("'" + text + "' is not a queue discipline (strict-fifo, best-effort-fifo)");
  }
}
