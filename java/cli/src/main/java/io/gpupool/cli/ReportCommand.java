package io.gpupool.cli;

import io.gpupool.agent.report.ReportFormatter;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.Report;
import io.gpupool.proto.v1.ReportRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "report", description = "GPU memory-hours granted vs. used, and wall time, per job and per team.")
final class ReportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--since", paramLabel = "AGE", defaultValue = "7d",
      description = "How far back: 30m, 12h, 7d (default: ${DEFAULT-VALUE}).")
  String since;

  @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "csv", description = "csv or html (default: ${DEFAULT-VALUE}).")
  String format;

  @Option(names = "--socket", paramLabel = "PATH", description = "The agent's socket (default: $GPUPOOL_SOCKET, else /tmp/gpupool/agent.sock).")
  Path socket;

  @Override
  public Integer call() throws Exception {
    if (!format.equals("csv") && !format.equals("html")) {
      throw new ParameterException(spec.commandLine(), "--format: '" + format + "' is not csv or html");
    }
    long sinceMs = System.currentTimeMillis() - parseAge(since).toMillis();
    AgentReply reply = AgentCommands.call(socket,
        AgentRequest.newBuilder().setReport(ReportRequest.newBuilder().setSinceUnixMs(sinceMs)).build());
    Report report = AgentCommands.expect(reply, AgentReply.ReplyCase.REPORT).getReport();
    spec.commandLine().getOut().print(format.equals("csv") ? ReportFormatter.toCsv(report) : ReportFormatter.toHtml(report));
    return 0;
  }

  private Duration parseAge(String text) {
    try {
      if (text.length() >= 2) {
        long n = Long.parseLong(text.substring(0, text.length() - 1));
        if (n >= 0) {
          switch (text.charAt(text.length() - 1)) {
            case 'm': return Duration.ofMinutes(n);
            case 'h': return Duration.ofHours(n);
            case 'd': return Duration.ofDays(n);
            default: break;
          }
        }
      }
    } catch (NumberFormatException | ArithmeticException e) {
      // falls through to the usage error
    }
    throw new ParameterException(spec.commandLine(), "--since: '" + text + "' is not an age like 30m, 12h or 7d");
  }
}
