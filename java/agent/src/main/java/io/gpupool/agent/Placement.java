package io.gpupool.agent;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Memory-aware placement: which devices a job gets, given what is already granted.
 *
 * <p>A job asks for {@code gpus} distinct devices and a quota of {@code bytesPerGpu} on each
 * (0: the whole device, which then must have nothing granted). A device can take the job when
 * its quota fits beside the quotas already granted on it: {@code granted + quota <= total}.
 * Among the devices that can, the fullest are chosen first (best fit, as HAMi's "binpack"):
 * small jobs pack onto partly used GPUs and whole GPUs stay free for jobs that need them. Ties
 * go to the lower ordinal, so placement is deterministic.
 */
public final class Placement {
  private Placement() {}

  /** One device as placement sees it. */
  public record DeviceLoad(int ordinal, long totalBytes, long grantedBytes) {
    long freeBytes() {
      return Math.max(0, totalBytes - grantedBytes);
    }
  }

  /** The quota a job gets on {@code device}: its request, or the whole device for 0. */
  public static long quotaOn(DeviceLoad device, long bytesPerGpu) {
    return bytesPerGpu == 0 ? device.totalBytes() : bytesPerGpu;
  }

  /** Whether the job could ever be placed on these devices if nothing else were granted. */
  public static boolean everFits(List<DeviceLoad> devices, int gpus, long bytesPerGpu) {
    List<DeviceLoad> empty = new ArrayList<>();
    for (DeviceLoad d : devices) empty.add(new DeviceLoad(d.ordinal(), d.totalBytes(), 0));
    return place(empty, gpus, bytesPerGpu).isPresent();
  }

  /** The devices for the job now, in the job's order, or empty when it does not fit. */
  public static Optional<List<Integer>> place(List<DeviceLoad> devices, int gpus, long bytesPerGpu) {
    if (gpus <= 0 || bytesPerGpu < 0) throw new IllegalArgumentException("gpus >= 1 and bytes >= 0");
    List<DeviceLoad> candidates = new ArrayList<>();
    for (DeviceLoad d : devices) {
      boolean fits = bytesPerGpu == 0 ? d.grantedBytes() == 0 : d.freeBytes() >= bytesPerGpu;
      if (fits) candidates.add(d);
    }
    if (candidates.size() < gpus) return Optional.empty();
    candidates.sort(Comparator.comparingLong((DeviceLoad d) -> d.freeBytes() - quotaOn(d, bytesPerGpu))
        .thenComparingInt(DeviceLoad::ordinal));
    List<Integer> chosen = new ArrayList<>();
    for (int i = 0; i < gpus; i++) chosen.add(candidates.get(i).ordinal());
    chosen.sort(Integer::compare);
    return Optional.of(chosen);
  }
}
