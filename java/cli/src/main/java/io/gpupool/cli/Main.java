package io.gpupool.cli;

import io.gpupool.driver.CudaException;
import io.gpupool.driver.DriverUnavailableException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code gpupool} command. Exit codes: 0 success, 1 failure (a CUDA error, a wrong
 * result), 2 usage error (unknown command, bad option).
 */
@Command(
    name = "gpupool",
    description = "Pooled, shared GPUs at the CUDA driver API.",
    mixinStandardHelpOptions = true,
    versionProvider = Version.Provider.class,
    subcommands = {
      DevicesCommand.class,
      AgentCommand.class,
      RunCommand.class,
      StatusCommand.class,
      CancelCommand.class,
      ReportCommand.class,
      TokenCommand.class,
      SimulateCommand.class,
      DemoCommand.class,
      VersionCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "Missing command");
  }

  public static void main(String[] args) {
    // One line per log record: "2026-11-27 03:29:12 INFO io.gpupool.agent.JobMonitor: job x ended".
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    System.exit(run(out, err, args));
  }

  /** Runs the command line and returns the exit code (what tests call). */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setOut(out);
    commandLine.setErr(err);
    commandLine.setExecutionExceptionHandler(
        (exception, cmd, parseResult) -> {
          cmd.getErr().println("gpupool: " + describe(exception));
          cmd.getErr().flush();
          return 1;
        });
    int code = commandLine.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  private static String describe(Exception exception) {
    if (exception instanceof CudaException || exception instanceof DriverUnavailableException) {
      return exception.getMessage();
    }
    String message = exception.getMessage();
    return message == null ? exception.toString() : message;
  }
}
