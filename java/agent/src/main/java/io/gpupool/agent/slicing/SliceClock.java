package io.gpupool.agent.slicing;

import java.util.logging.Logger;

/**
 * When the current holder's quantum started, on one device. Confined to the scheduler thread
 * (owned by one {@link DeviceSlicer}).
 *
 * <p>A slice granted to a job with memory swapped out on an oversubscribed device begins with
 * the swap-in: the holder's shim brings its memory back before its first operation, under the
 * slice (swap_in.cc), and that is no useful work. So the quantum is counted from the first tick
 * that shows the swap-in done instead of from the grant:
 * <ul>
 *   <li>its live processes' gate rows show nothing swapped out any more ({@link
 *       DeviceSample#outBytes} 0: each shim raises swapped_in_bytes when its swap-in is done), or
 *   <li>the holder completed device work in the slice: a process runs an operation only after
 *       its memory is back, and memory freed while swapped out stays in the counters for good,
 *       so without this a job that freed some would always wait for the bound.
 * </ul>
 * At the latest, the quantum starts {@code boundNanos} after the grant (the agent passes its
 * eviction timeout: the same memory moved the other way), so a holder whose swap-in fails or
 * never ends keeps the device for at most the bound plus a quantum. Only the quantum's start
 * moves: a holder with nothing pending is preempted as before when another job waits, and the
 * device time charged to jobs is still what their shims measure.
 */
final class SliceClock {
  private static final Logger LOG = Logger.getLogger(SliceClock.class.getName());

  private final int device;
  private final long boundNanos;
  private long holder = -1;
  private long grantNs;
  private long startNs;
  private boolean started = true;

  /** @param boundNanos the longest a swap-in may delay the quantum; at least 0 */
  SliceClock(int device, long boundNanos) {
    if (boundNanos < 0) throw new IllegalArgumentException("swap-in bound: " + boundNanos + " ns is negative");
    this.device = device;
    this.boundNanos = boundNanos;
  }

  /**
   * A slice for {@code job} begins at {@code nowNs}; {@code swappedOut}: part of its memory on
   * the device is swapped out (oversubscribed devices only), so its quantum waits for the swap-in.
   */
  void grant(long job, long nowNs, boolean swappedOut) {
    holder = job;
    grantNs = nowNs;
    startNs = nowNs;
    started = !swappedOut;
  }

  /** How long the holder's quantum has run at {@code nowNs}, given what its gates show now. */
  long elapsed(long nowNs, DeviceSample holderSample) {
    if (!started) {
      if (holderSample.outBytes() == 0 || holderSample.deviceNanos() > 0) {
        started = true;
        startNs = nowNs;
      } else if (nowNs - grantNs >= boundNanos) {
        started = true;
        startNs = grantNs + boundNanos;
        LOG.warning("time slicing: device " + device + ": job " + holder + " still shows "
            + holderSample.outBytes() + " bytes swapped out " + boundNanos / 1_000_000
            + " ms after its slice began; its quantum runs from now");
      }
    }
    return started ? nowNs - startNs : 0;
  }

  /** Whether the quantum is running (false while the holder's swap-in delays it). */
  boolean started() {
    return started;
  }
}
