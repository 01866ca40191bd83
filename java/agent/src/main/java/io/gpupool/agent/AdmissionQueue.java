package io.gpupool.agent;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Strict FIFO admission: the rule by which waiting jobs start, with no I/O and no clock, so the
 * agent's {@link Scheduler} and the trace simulator ({@code io.gpupool.simulate}) start jobs by
 * the same code.
 *
 * <p>A new job starts at once only when nobody waits and it fits; otherwise it joins the back of
 * the queue. After a release, jobs start from the head while the head fits. A head that does not
 * fit holds up everyone behind it (no backfill), so a large job is never starved by a stream of
 * small ones. Whether a job fits, and what starting it means (placement, the grant), is the
 * caller's {@link Admitter}.
 *
 * <p>Not thread-safe: one owner (the agent's core thread, a simulator).
 */
public final class AdmissionQueue<J> {
  /** Places and grants a job now if it fits: true when it started. */
  @FunctionalInterface
  public interface Admitter<J> {
    boolean tryAdmit(J job);
  }

  private final Deque<J> waiting = new ArrayDeque<>();

  /** Starts the job now if nobody waits and it fits; false: the caller queues or refuses it. */
  public boolean admitNow(J job, Admitter<J> admitter) {
    return waiting.isEmpty() && admitter.tryAdmit(job);
  }

  /** Puts a job that could not start at the back of the queue. */
  public void enqueue(J job) {
    waiting.addLast(job);
  }

  /** Starts jobs from the head while the head fits; returns how many started. */
  public int admitWaiting(Admitter<J> admitter) {
    int started = 0;
    while (!waiting.isEmpty() && admitter.tryAdmit(waiting.peekFirst())) {
      waiting.removeFirst();
      started++;
    }
    return started;
  }

  /** Takes a waiting job out of the queue; false if it was not waiting. */
  public boolean remove(J job) {
    return waiting.remove(job);
  }

  /** The job first in line, or null when nobody waits. */
  public J head() {
    return waiting.peekFirst();
  }

  public boolean isEmpty() {
    return waiting.isEmpty();
  }

  public int size() {
    return waiting.size();
  }

  /** The waiting jobs, first in line first (a copy). */
  public List<J> snapshot() {
    return new ArrayList<>(waiting);
  }
}
