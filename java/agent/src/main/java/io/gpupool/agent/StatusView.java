package io.gpupool.agent;

import io.gpupool.agent.slicing.SliceStatus;
import io.gpupool.proto.v1.DeviceShare;
import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import io.gpupool.region.DeviceRecord;
import java.util.List;

/** The agent's state as a {@link Status} message: what `gpupool status`, /metrics and the page show. */
final class StatusView {
  private StatusView() {}

  static Status build(Scheduler scheduler, boolean simulated) {
    return build(scheduler, simulated, SliceStatus.NONE);
  }

  static Status build(Scheduler scheduler, boolean simulated, SliceStatus slices) {
    List<DeviceRecord> devices = scheduler.devices();
    long[] granted = new long[devices.size()];
    long[] used = new long[devices.size()];
    Status.Builder status = Status.newBuilder()
        .setUnixMs(System.currentTimeMillis())
        .setAgentVersion(StatusView.class.getPackage().getImplementationVersion() == null
            ? "dev" : StatusView.class.getPackage().getImplementationVersion())
        .setSimulated(simulated);
    for (Job j : scheduler.jobs()) {
      if (j.state != Job.State.RUNNING) continue;
      for (int i = 0; i < j.devices.size(); i++) {
        int d = j.devices.get(i);
        if (d < 0 || d >= devices.size()) continue;
        granted[d] += j.quotaBytes[i];
        used[d] += i < j.usedBytes.length ? j.usedBytes[i] : 0;
      }
      status.addJobs(withSlices(job(j, JobStatus.State.RUNNING), slices));
    }
    for (Job j : scheduler.waiting()) status.addJobs(job(j, JobStatus.State.WAITING));
    for (int d = 0; d < devices.size(); d++) {
      DeviceStatus.Builder device = DeviceStatus.newBuilder()
          .setOrdinal(d)
          .setName(devices.get(d).name())
          .setTotalBytes(devices.get(d).totalBytes())
          .setGrantedBytes(granted[d])
          .setUsedBytes(used[d]);
      SliceStatus.Device sliced = slices.device(d);
      if (sliced != null) {
        device.setSlicing(sliced.mode()).setHolderJobId(sliced.holderJobId()).setOversubscribed(sliced.oversubscribed());
        for (SliceStatus.Job j : sliced.jobs()) {
          device.addShares(DeviceShare.newBuilder().setJobId(j.jobId()).setWeight((int) Math.min(Integer.MAX_VALUE, j.weight()))
              .setShare(j.share()).setTargetShare(j.targetShare()));
        }
      }
      status.addDevices(device);
    }
    return status.build();
  }

  /** A running job's time-slice counters, per granted device (zeros where none are known yet). */
  private static JobStatus withSlices(JobStatus job, SliceStatus slices) {
    JobStatus.Builder b = job.toBuilder();
    for (int d : job.getDevicesList()) {
      SliceStatus.Job found = null;
      SliceStatus.Device device = slices.device(d);
      if (device != null) {
        for (SliceStatus.Job j : device.jobs()) if (j.jobId() == job.getJobId()) found = j;
      }
      b.addDeviceSeconds(found == null ? 0 : found.deviceNanos() / 1e9)
          .addWaitSeconds(found == null ? 0 : found.waitNanos() / 1e9)
          .addSlices(found == null ? 0 : found.slices())
          .addSwappedBytes(found == null ? 0 : found.swappedBytes());
    }
    return b.build();
  }

  private static JobStatus job(Job j, JobStatus.State state) {
    JobStatus.Builder b = JobStatus.newBuilder()
        .setJobId(j.id)
        .setKey(j.key)
        .setName(j.name)
        .setTeam(j.team)
        .setUid(j.uid)
        .setState(state)
        .setWeight(j.weight)
        .setMemoryBytes(state == JobStatus.State.RUNNING && j.quotaBytes.length > 0 ? j.quotaBytes[0] : j.bytesPerGpu)
        .setGpus(j.gpus)
        .setSubmittedUnixMs(j.submittedUnixMs)
        .setStartedUnixMs(j.startedUnixMs)
        .addAllCommand(j.command)
        .addAllPids(j.pids);
    if (state == JobStatus.State.RUNNING) {
      b.addAllDevices(j.devices);
      for (int i = 0; i < j.devices.size(); i++) b.addUsedBytes(i < j.usedBytes.length ? j.usedBytes[i] : 0);
    }
    return b.build();
  }
}
