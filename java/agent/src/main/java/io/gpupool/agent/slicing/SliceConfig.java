package io.gpupool.agent.slicing;

import java.util.Set;

/**
 * How the time-slice scheduler runs.
 *
 * @param enabled false: {@code --time-slice off}, every device stays OPEN (jobs sharing a device
 *     run concurrently, without a gate)
 * @param quantumNanos the longest slice while others wait
 * @param oversubscribed the devices whose quotas may exceed their memory (swapping on)
 * @param drainTimeoutNanos how long a hand-over waits for the old holder's in-flight work before
 *     it goes on anyway
 * @param evictTimeoutNanos how long an eviction waits for the victim's swap-out before it goes on
 *     anyway; also the longest a holder's swap-in delays the start of its quantum ({@link SliceClock})
 * @param graceNanos a job that submitted within this time still counts as having pending work
 * @param fastPollNanos the poll period while a hand-over runs or a job waits
 * @param slowPollNanos the poll period otherwise
 */
public record SliceConfig(boolean enabled, long quantumNanos, Set<Integer> oversubscribed, long drainTimeoutNanos,
    long evictTimeoutNanos, long graceNanos, long fastPollNanos, long slowPollNanos) {
  /**
   * The most gated operations a process keeps in flight (slices[d].depth) while another job on
   * the device waits: one, so a slice overruns by at most one operation.
   */
  public static final int CONTENDED_DEPTH = 1;
  /**
   * The same while nobody else on the device waits: a queue deep enough to hide the host's
   * reaction time from short kernels. The shim also keeps what it queues within a tenth of the
   * quantum of device time (gate_internal.h), which bounds the overrun when someone starts waiting.
   */
  public static final int UNCONTENDED_DEPTH = 64;
  public static final long DEFAULT_QUANTUM_NANOS = 50_000_000L;

  public SliceConfig {
    oversubscribed = Set.copyOf(oversubscribed);
    if (quantumNanos < 1_000_000L) throw new IllegalArgumentException("quantum below 1 ms");
  }

  /** The agent's defaults with this quantum and these oversubscribed devices. */
  public static SliceConfig of(boolean enabled, long quantumNanos, Set<Integer> oversubscribed) {
    return new SliceConfig(enabled, quantumNanos, oversubscribed, 2_000_000_000L, 10_000_000_000L, 2_000_000L,
        150_000L, 1_000_000L);
  }
}
