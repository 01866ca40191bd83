package io.gpupool.agent.slicing;

import java.util.List;

/** What the time-slice scheduler shows: one entry per device, published by the scheduler thread. */
public record SliceStatus(List<Device> devices) {
  public static final SliceStatus NONE = new SliceStatus(List.of());

  /**
   * @param mode "off" (time slicing disabled), "open" (at most one job: no gate) or "gated"
   * @param holderJobId the job holding the current slice; 0: none (open, or a hand-over)
   */
  public record Device(int ordinal, String mode, long holderJobId, boolean oversubscribed, List<Job> jobs) {}

  /**
   * One job on one device.
   *
   * @param share its share of the device time used by all jobs on the device over the recent
   *     window (about {@link ShareWindow#WINDOW_NANOS}); 0 when the device was unused
   * @param targetShare its weight's share among the jobs that used the device in that window
   *     (or have work now)
   */
  public record Job(long jobId, long weight, double share, double targetShare, long deviceNanos, long waitNanos,
      long slices, long swappedBytes) {}

  public Device device(int ordinal) {
    for (Device d : devices) if (d.ordinal() == ordinal) return d;
    return null;
  }
}
