package io.gpupool.cli;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.agent.AgentClient;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.DeviceShare;
import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import io.gpupool.proto.v1.StatusRequest;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "status", description = "Show the node's GPUs, running and waiting jobs, granted vs. used memory.")
final class StatusCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "Print a gpupool.v1.Status as JSON (protobuf's JSON mapping).")
  boolean json;

  @Option(names = "--socket", paramLabel = "PATH", description = "The agent's socket (default: $GPUPOOL_SOCKET, else /tmp/gpupool/agent.sock).")
  Path socket;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    AgentReply reply = AgentCommands.call(socket, AgentRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
    Status s = AgentCommands.expect(reply, AgentReply.ReplyCase.STATUS).getStatus();
    if (json) {
      out.println(JsonFormat.printer().alwaysPrintFieldsWithNoPresence().print(s));
      return 0;
    }
    out.printf("%-4s %-28s %10s %10s %10s %10s%n", "GPU", "NAME", "TOTAL", "GRANTED", "USED", "FREE");
    for (DeviceStatus d : s.getDevicesList()) {
      out.printf("%-4d %-28s %10s %10s %10s %10s%s%n", d.getOrdinal(), truncate(d.getName(), 28),
          Sizes.format(d.getTotalBytes()), Sizes.format(d.getGrantedBytes()), Sizes.format(d.getUsedBytes()),
          Sizes.format(Math.max(0, d.getTotalBytes() - d.getGrantedBytes())), d.getGrantedBytes() == 0 ? "  idle" : "");
    }
    for (DeviceStatus d : s.getDevicesList()) {
      if (!d.getSlicing().equals("gated")) continue;
      out.printf("GPU %d time-sliced%s, slice held by %s%n", d.getOrdinal(), d.getOversubscribed() ? " (oversubscribed)" : "",
          d.getHolderJobId() == 0 ? "nobody (hand-over or idle)" : "job " + d.getHolderJobId());
    }
    out.println();
    out.printf("%-6s %-24s %-10s %-7s %-8s %-7s %12s %12s  %s%n", "ID", "JOB", "TEAM", "UID", "STATE", "GPUS", "QUOTA/GPU",
        "USED", "SHARE (TARGET)");
    int waiting = 0;
    for (JobStatus j : s.getJobsList()) {
      long used = j.getUsedBytesList().stream().mapToLong(Long::longValue).sum();
      boolean running = j.getState() == JobStatus.State.RUNNING;
      if (!running) waiting++;
      out.printf("%-6d %-24s %-10s %-7d %-8s %-7s %12s %12s  %s%n", j.getJobId(), truncate(j.getKey(), 24),
          truncate(j.getTeam(), 10), j.getUid(), running ? "running" : "waiting",
          running ? j.getDevicesList().toString().replace(" ", "") : String.valueOf(j.getGpus()),
          j.getMemoryBytes() == 0 ? "whole" : Sizes.format(j.getMemoryBytes()), running ? Sizes.format(used) : "-",
          running ? shares(s, j) : "-");
    }
    if (s.getJobsCount() == 0) out.println("(no jobs)");
    out.printf("%n%d running, %d waiting%s%n", s.getJobsCount() - waiting, waiting, s.getSimulated() ? "; simulated GPUs" : "");
    return 0;
  }

  /** The job's recent share of each of its devices and its weight's target, e.g. "70% (67%)". */
  static String shares(Status s, JobStatus j) {
    StringBuilder out = new StringBuilder();
    for (int ordinal : j.getDevicesList()) {
      for (DeviceStatus d : s.getDevicesList()) {
        if (d.getOrdinal() != ordinal) continue;
        for (DeviceShare share : d.getSharesList()) {
          if (share.getJobId() != j.getJobId()) continue;
          if (out.length() > 0) out.append(", ");
          out.append(String.format("%.0f%% (%.0f%%)", 100 * share.getShare(), 100 * share.getTargetShare()));
        }
      }
    }
    return out.length() == 0 ? "-" : out.toString();
  }

  private static String truncate(String s, int n) {
    return s.length() <= n ? s : s.substring(0, n - 1) + "~";
  }
}
