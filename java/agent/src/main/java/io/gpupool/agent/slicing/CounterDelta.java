package io.gpupool.agent.slicing;

/**
 * Deltas of a counter that another process owns and only ever increases (a gate's device_ns,
 * wait_ns, swap totals). Whatever the other side writes is only its own problem: a value that
 * goes backwards, or jumps further than the time since the last read allows, counts as no
 * change, and the next delta starts from it. That also absorbs a 64-bit value read torn while
 * it crosses a 2^32 boundary (an error of about 2^32, i.e. 4.3 s of nanoseconds), at the cost of
 * the real change in one or two reads.
 */
final class CounterDelta {
  /** Slack over the time elapsed: work completed in one read may have run for a while before it. */
  static final long SLACK_NANOS = 3_000_000_000L;

  private CounterDelta() {}

  /**
   * The plausible increase from {@code last} to {@code now} of a time counter, read
   * {@code elapsedNanos} apart; 0 if it is implausible.
   */
  static long time(long last, long now, long elapsedNanos) {
    long delta = now - last;
    if (last < 0 || now < 0 || delta < 0) return 0;
    return delta <= Math.max(0, elapsedNanos) + SLACK_NANOS ? delta : 0;
  }

  /** The increase from {@code last} to {@code now} of a byte counter; 0 if it went backwards. */
  static long bytes(long last, long now) {
    long delta = now - last;
    return last >= 0 && now >= 0 && delta > 0 ? delta : 0;
  }
}
