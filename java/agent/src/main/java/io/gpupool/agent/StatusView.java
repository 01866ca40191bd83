package io.gpupool.agent;

import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import io.gpupool.region.DeviceRecord;
import java.util.List;

/** The agent's state as a {@link Status} message: what `gpupool status`, /metrics and the page show. */
final class StatusView {
  private StatusView() {}

  static Status build(Scheduler scheduler, boolean simulated) {
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
      status.addJobs(job(j, JobStatus.State.RUNNING));
    }
    for (Job j : scheduler.waiting()) status.addJobs(job(j, JobStatus.State.WAITING));
    for (int d = 0; d < devices.size(); d++) {
      status.addDevices(DeviceStatus.newBuilder()
          .setOrdinal(d)
          .setName(devices.get(d).name())
          .setTotalBytes(devices.get(d).totalBytes())
          .setGrantedBytes(granted[d])
          .setUsedBytes(used[d]));
    }
    return status.build();
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
