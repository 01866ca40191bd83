package io.gpupool.cli;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.Cancel;
import io.gpupool.proto.v1.Cancelled;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "cancel", description = {
    "End a job: a waiting one leaves the queue; a running one gets SIGTERM, and SIGKILL 10 s later.",
    "Only the job's user or root may."})
final class CancelCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "JOB", description = "The job's id, key or name.")
  String job;

  @Option(names = "--socket", paramLabel = "PATH", description = "The agent's socket (default: $GPUPOOL_SOCKET, else /tmp/gpupool/agent.sock).")
  Path socket;

  @Override
  public Integer call() throws Exception {
    AgentReply reply = AgentCommands.call(socket, AgentRequest.newBuilder().setCancel(Cancel.newBuilder().setJob(job)).build());
    Cancelled c = AgentCommands.expect(reply, AgentReply.ReplyCase.CANCELLED).getCancelled();
    spec.commandLine().getOut().printf("job %d %s%n", c.getJobId(),
        c.getWasRunning() ? "is being stopped" : "left the queue");
    return 0;
  }
}
