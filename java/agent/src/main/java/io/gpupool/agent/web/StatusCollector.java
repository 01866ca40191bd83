package io.gpupool.agent.web;

import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot.InfoDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Turns the agent's {@link Status} into Prometheus snapshots at scrape time.
 *
 * <p>Why a collector and not registered gauges: the agent's state lives in one place (its
 * admission table) and is read as one consistent {@code Status}; gauges kept in sync by hand
 * would drift, and series of finished jobs would have to be removed explicitly. Reading the
 * {@code Status} on each scrape gives one coherent picture, and a finished job's series simply
 * stop being produced.
 *
 * <p>Names follow the 1.x client's rules: gauges carrying {@link Unit#BYTES} must end in
 * {@code _bytes} (they do, so the client leaves them as they are), and the info metric is
 * named {@code gpupool_job}: the client's text writer appends the {@code _info} suffix, so it
 * is exposed as {@code gpupool_job_info}.
 */
public final class StatusCollector implements MultiCollector {

  private final Supplier<Status> status;

  /** @param status read once per scrape; must not return null */
  public StatusCollector(Supplier<Status> status) {
    this.status = Objects.requireNonNull(status, "status");
  }

  @Override
  public MetricSnapshots collect() {
    Status s = Objects.requireNonNull(status.get(), "status supplier returned null");

    GaugeSnapshot.Builder total = bytesGauge("gpupool_device_memory_total_bytes",
        "Device memory of each GPU managed by the agent.");
    GaugeSnapshot.Builder used = bytesGauge("gpupool_device_memory_used_bytes",
        "Device memory held by running jobs on each GPU (shim accounting).");
    GaugeSnapshot.Builder granted = bytesGauge("gpupool_device_memory_granted_bytes",
        "Sum of the quotas of the running jobs on each GPU.");
    GaugeSnapshot.Builder jobLimit = bytesGauge("gpupool_job_memory_limit_bytes",
        "Memory quota of a running job on one of its GPUs.");
    GaugeSnapshot.Builder jobUsed = bytesGauge("gpupool_job_memory_used_bytes",
        "Memory held by a running job on one of its GPUs.");
    CounterSnapshot.Builder deviceSeconds = CounterSnapshot.builder().name("gpupool_job_device_seconds")
        .help("Device time of a job's completed gated work on one of its GPUs (time slicing; measured with events).")
        .unit(Unit.SECONDS);
    CounterSnapshot.Builder waitSeconds = CounterSnapshot.builder().name("gpupool_job_wait_seconds")
        .help("Time a job's threads waited at the time-slice gate of one of its GPUs.").unit(Unit.SECONDS);
    CounterSnapshot.Builder slices = CounterSnapshot.builder().name("gpupool_job_slices")
        .help("Time slices a job was granted on one of its GPUs.");
    CounterSnapshot.Builder swapped = CounterSnapshot.builder().name("gpupool_job_swapped_bytes")
        .help("Bytes of a job's memory swapped out to host and back in on one of its GPUs.").unit(Unit.BYTES);
    GaugeSnapshot.Builder share = GaugeSnapshot.builder().name("gpupool_job_device_share")
        .help("A job's share of the device time used on one of its GPUs over the last ~5 s (0..1).");
    InfoSnapshot.Builder jobInfo = InfoSnapshot.builder()
        .name("gpupool_job")
        .help("Running and waiting jobs: name, team, user and state.");

    Map<Long, String> jobLabels = new HashMap<>();
    for (JobStatus j : s.getJobsList()) jobLabels.put(j.getJobId(), jobLabel(j));
    Map<Integer, Long> deviceTotals = new HashMap<>();
    for (DeviceStatus d : s.getDevicesList()) {
      for (var sh : d.getSharesList()) {
        String job = jobLabels.get(sh.getJobId());
        if (job != null) {
          share.dataPoint(GaugeDataPointSnapshot.builder()
              .labels(Labels.of("job", job, "device", Integer.toString(d.getOrdinal()))).value(sh.getShare()).build());
        }
      }
      Labels labels = Labels.of("device", Integer.toString(d.getOrdinal()));
      deviceTotals.put(d.getOrdinal(), d.getTotalBytes());
      total.dataPoint(point(labels, d.getTotalBytes()));
      used.dataPoint(point(labels, d.getUsedBytes()));
      granted.dataPoint(point(labels, d.getGrantedBytes()));
    }

    int waiting = 0;
    int running = 0;
    for (JobStatus j : s.getJobsList()) {
      boolean isRunning = j.getState() == JobStatus.State.RUNNING;
      boolean isWaiting = j.getState() == JobStatus.State.WAITING;
      if (!isRunning && !isWaiting) {
        continue;
      }
      String job = jobLabel(j);
      jobInfo.dataPoint(InfoDataPointSnapshot.builder()
          .labels(Labels.of("job", job, "name", j.getName(), "team", j.getTeam(),
              "uid", Integer.toUnsignedString(j.getUid()),
              "state", j.getState().name().toLowerCase(Locale.ROOT)))
          .build());
      if (isWaiting) {
        waiting++;
        continue;
      }
      running++;
      for (int i = 0; i < j.getDevicesCount(); i++) {
        int device = j.getDevices(i);
        Labels labels = Labels.of("job", job, "device", Integer.toString(device));
        // A quota of 0 means "the whole GPU": report the device's memory as the limit.
        long limit = j.getMemoryBytes() != 0 ? j.getMemoryBytes()
            : deviceTotals.getOrDefault(device, 0L);
        jobLimit.dataPoint(point(labels, limit));
        jobUsed.dataPoint(point(labels, i < j.getUsedBytesCount() ? j.getUsedBytes(i) : 0));
        if (i < j.getDeviceSecondsCount()) {
          deviceSeconds.dataPoint(counter(labels, j.getDeviceSeconds(i)));
          waitSeconds.dataPoint(counter(labels, j.getWaitSeconds(i)));
          slices.dataPoint(counter(labels, j.getSlices(i)));
          swapped.dataPoint(counter(labels, j.getSwappedBytes(i)));
        }
      }
    }

    return MetricSnapshots.of(
        total.build(), used.build(), granted.build(), jobLimit.build(), jobUsed.build(),
        deviceSeconds.build(), waitSeconds.build(), slices.build(), swapped.build(), share.build(),
        jobInfo.build(),
        countGauge("gpupool_jobs_waiting", "Jobs waiting for admission.", waiting),
        countGauge("gpupool_jobs_running", "Jobs admitted and running.", running));
  }

  /** The job's key; a waiting job may not have one yet, so its id stands in. */
  static String jobLabel(JobStatus j) {
    return j.getKey().isEmpty() ? Long.toUnsignedString(j.getJobId()) : j.getKey();
  }

  private static GaugeSnapshot.Builder bytesGauge(String name, String help) {
    return GaugeSnapshot.builder().name(name).help(help).unit(Unit.BYTES);
  }

  private static GaugeSnapshot countGauge(String name, String help, int value) {
    return GaugeSnapshot.builder().name(name).help(help)
        .dataPoint(GaugeDataPointSnapshot.builder().value(value).build())
        .build();
  }

  private static CounterDataPointSnapshot counter(Labels labels, double value) {
    return CounterDataPointSnapshot.builder().labels(labels).value(Math.max(0, value)).build();
  }

  /** Byte counts are unsigned 64-bit in the protocol. */
  private static GaugeDataPointSnapshot point(Labels labels, long unsignedBytes) {
    double value = unsignedBytes >= 0 ? unsignedBytes
        : Double.parseDouble(Long.toUnsignedString(unsignedBytes));
    return GaugeDataPointSnapshot.builder().labels(labels).value(value).build();
  }
}
