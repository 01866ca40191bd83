package io.gpupool.agent.web;

import io.gpupool.proto.v1.DeviceShare;
import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;

/**
 * One fixed node state used by the metrics, server and page tests: two 80 GiB GPUs, GPU 1
 * idle (nothing granted); two running jobs on GPU 0, "notebook" an idle grant (1 of 16 GiB);
 * one job waiting for two GPUs with 64 GiB free each. GPU 0 is time-sliced (gated), "train-llm"
 * holds the slice and had 70% of the device time (its weight's target: 2/3); GPU 1 is open.
 */
final class Fixtures {

  static final long GIB = 1L << 30;
  /** 2024-06-01T12:00:00Z. */
  static final long NOW = 1_717_243_200_000L;

  private Fixtures() {}

  static Status status() {
    return Status.newBuilder()
        .setUnixMs(NOW)
        .setAgentVersion("0.1.0-test")
        .setSimulated(true)
        .addDevices(DeviceStatus.newBuilder().setOrdinal(0).setName("NVIDIA H100 80GB HBM3")
            .setTotalBytes(80 * GIB).setGrantedBytes(40 * GIB).setUsedBytes(21 * GIB)
            .setSlicing("gated").setHolderJobId(1)
            .addShares(DeviceShare.newBuilder().setJobId(1).setWeight(100).setShare(0.7).setTargetShare(2.0 / 3))
            .addShares(DeviceShare.newBuilder().setJobId(2).setWeight(50).setShare(0.3).setTargetShare(1.0 / 3)))
        .addDevices(DeviceStatus.newBuilder().setOrdinal(1).setName("NVIDIA H100 80GB HBM3")
            .setTotalBytes(80 * GIB).setSlicing("open"))
        .addJobs(JobStatus.newBuilder().setJobId(1).setKey("j1-a7f3").setName("train-llm")
            .setTeam("nlp").setUid(1000).setState(JobStatus.State.RUNNING).setWeight(100)
            .setMemoryBytes(24 * GIB).setGpus(1).addDevices(0).addUsedBytes(20 * GIB)
            .setSubmittedUnixMs(NOW - 7_300_000).setStartedUnixMs(NOW - 7_200_000)
            .addCommand("python").addCommand("train.py").addPids(4242)
            .addDeviceSeconds(700.5).addWaitSeconds(12.25).addSlices(9000).addSwappedBytes(0))
        .addJobs(JobStatus.newBuilder().setJobId(2).setKey("j2-b9c1").setName("notebook")
            .setTeam("vision").setUid(1001).setState(JobStatus.State.RUNNING).setWeight(50)
            .setMemoryBytes(16 * GIB).setGpus(1).addDevices(0).addUsedBytes(1 * GIB)
            .setSubmittedUnixMs(NOW - 3_700_000).setStartedUnixMs(NOW - 3_600_000)
            .addCommand("jupyter").addPids(5151)
            .addDeviceSeconds(300.25).addWaitSeconds(40).addSlices(3000).addSwappedBytes(2 * GIB))
        .addJobs(JobStatus.newBuilder().setJobId(3).setName("big-sweep")
            .setTeam("nlp").setUid(1000).setState(JobStatus.State.WAITING).setWeight(100)
            .setMemoryBytes(64 * GIB).setGpus(2)
            .setSubmittedUnixMs(NOW - 600_000)
            .addCommand("python").addCommand("sweep.py"))
        .build();
  }
}
