package io.gpupool.cli;

import io.gpupool.agent.AgentClient;
import io.gpupool.proto.v1.Admitted;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.Finished;
import io.gpupool.proto.v1.Submit;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * `gpupool run`: asks the agent for a grant, waits in its queue if need be, then runs the
 * command under the shim with the job's identity and quota and returns its exit code.
 *
 * <p>Exit codes, as env(1) and docker run: the command's own; 125 when gpupool itself failed
 * (no agent, refused); 126 when the command cannot be run; 127 when it is not found.
 */
@Command(name = "run", description = "Run a command as a job: with a GPU memory quota, on GPUs the agent grants.")
final class RunCommand implements Callable<Integer> {
  static final int EXIT_GPUPOOL = 125;

  @Spec CommandSpec spec;

  @Option(names = "--memory", paramLabel = "SIZE",
      description = "GPU memory per GPU, e.g. 4GiB (default: the whole GPU).")
  String memory;

  @Option(names = "--gpus", paramLabel = "N", defaultValue = "1", description = "GPUs (default: ${DEFAULT-VALUE}).")
  int gpus;

  @Option(names = "--weight", paramLabel = "W", defaultValue = "100",
      description = "Time-slice weight, 1..10000 (default: ${DEFAULT-VALUE}).")
  int weight;

  @Option(names = "--name", paramLabel = "NAME", description = "Job name (default: the command's name).")
  String name;

  @Option(names = "--team", paramLabel = "TEAM", defaultValue = "", description = "Team, for reports.")
  String team;

  @Option(names = "--no-wait", description = "Fail instead of waiting when the GPUs are busy.")
  boolean noWait;

  @Option(names = "--socket", paramLabel = "PATH", description = "The agent's socket (default: $GPUPOOL_SOCKET, else /tmp/gpupool/agent.sock).")
  Path socket;

  @Option(names = "--remote", paramLabel = "HOST:PORT", description = {
      "Run CMD here against a pooled GPU of the agent at HOST:PORT (its --listen): CMD loads the forwarding",
      "driver <gpupool home>/lib/remote/libcuda.so.1; no local GPU, driver or agent is needed.",
      "gpupools://HOST[:PORT]: over TLS (an agent with --tls-cert); gpupool://HOST[:PORT]: plain."})
  String remote;

  @Option(names = "--trust", paramLabel = "PEM", description = {
      "With --remote gpupools://: the certificates to trust (a CA, or the agent's self-signed one;",
      "default: $GPUPOOL_REMOTE_TRUST, else the system's trust store)."})
  Path trust;

  @Option(names = "--token", paramLabel = "TOKEN", description = "With --remote: the token (default: $GPUPOOL_TOKEN).")
  String token;

  @Parameters(arity = "1..*", paramLabel = "CMD", description = "The command and its arguments (after --).")
  List<String> command;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    long bytes = 0;
    if (memory != null) {
      try {
        bytes = Sizes.parse(memory);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), "--memory: " + e.getMessage());
      }
      if (bytes == 0) throw new ParameterException(spec.commandLine(), "--memory: must be more than 0");
    }
    if (gpus < 1 || gpus > 16) throw new ParameterException(spec.commandLine(), "--gpus: " + gpus + " is not in 1..16");
    if (weight < 1 || weight > 10_000) throw new ParameterException(spec.commandLine(), "--weight: " + weight + " is not in 1..10000");
    String jobName = name != null ? name : Path.of(command.get(0)).getFileName().toString();
    if (remote != null) return runRemote(bytes, jobName, err);
    Path socketPath = AgentClient.socketPath(socket, System.getenv());
    Path home = Path.of(System.getProperty("gpupool.home", "."));
    Path shim = io.gpupool.agent.JobEnvironment.shim(home);
    if (!Files.isRegularFile(shim)) {
      err.println("gpupool run: the shim is missing: " + shim + " (build with `mvn -B -DskipTests package`)");
      return EXIT_GPUPOOL;
    }

    Submit submit = Submit.newBuilder()
        .setMemoryBytes(bytes).setGpus(gpus).setWeight(weight).setName(jobName).setTeam(team)
        .setNoWait(noWait).addAllCommand(command).build();
    long reconnectUntil = 0;
    for (;;) {
      AgentClient client;
      try {
        client = AgentClient.connect(socketPath);
      } catch (AgentClient.NoAgentException e) {
        if (System.currentTimeMillis() < reconnectUntil) {
          Thread.sleep(500);
          continue;
        }
        err.println("gpupool run: " + e.getMessage());
        return EXIT_GPUPOOL;
      }
      try (client) {
        Admitted admitted = awaitAdmission(client, submit, err);
        if (admitted == null) {
          // The agent went away while the job waited (a restart): ask the next one, for a while.
          if (reconnectUntil == 0) reconnectUntil = System.currentTimeMillis() + RECONNECT_MS;
          if (System.currentTimeMillis() >= reconnectUntil) {
            err.println("gpupool run: the agent went away while the job waited, and none came back within "
                + RECONNECT_MS / 1000 + " s");
            return EXIT_GPUPOOL;
          }
          err.println("gpupool run: lost the agent while waiting; submitting again");
          Thread.sleep(500);
          continue;
        }
        if (admitted.getJobId() < 0) return EXIT_GPUPOOL; // refused; already said why
        int code = runCommand(admitted, home, shim, err);
        try {
          client.send(AgentRequest.newBuilder().setFinished(Finished.newBuilder().setExitCode(code)).build());
        } catch (IOException agentGone) {
          // the agent restarted meanwhile: the new one sees the job end by itself
        }
        return code;
      }
    }
  }

  /** How long a waiting job looks for an agent that went away (restarts take seconds). */
  static final long RECONNECT_MS = 60_000;
  private static final Admitted REFUSED = Admitted.newBuilder().setJobId(-1).build();

  /**
   * Submits and waits for admission: the grant; {@link #REFUSED} when the agent refused (said on
   * stderr); null when the agent went away before deciding.
   */
  private Admitted awaitAdmission(AgentClient client, Submit submit, PrintWriter err) {
    try {
      client.send(AgentRequest.newBuilder().setSubmit(submit).build());
      for (;;) {
        Optional<AgentReply> reply = client.receive();
        if (reply.isEmpty()) return null;
        AgentReply r = reply.get();
        switch (r.getReplyCase()) {
          case QUEUED -> err.printf("gpupool run: %s: %d job%s ahead%n", r.getQueued().getReason(),
              r.getQueued().getAhead(), r.getQueued().getAhead() == 1 ? "" : "s");
          case ADMITTED -> {
            return r.getAdmitted();
          }
          case ERROR -> {
            if (r.getError().getCode() == io.gpupool.proto.v1.Error.Code.UNAVAILABLE) return null;
            err.println("gpupool run: " + r.getError().getMessage() + " (" + r.getError().getCode() + ")");
            return REFUSED;
          }
          default -> {
            err.println("gpupool run: unexpected reply from the agent: " + r.getReplyCase());
            return REFUSED;
          }
        }
        err.flush();
      }
    } catch (IOException e) {
      return null;
    } finally {
      err.flush();
    }
  }

  /** --remote: the command runs here, its driver calls go to a worker of the remote agent. */
  private int runRemote(long bytes, String jobName, PrintWriter err) throws InterruptedException {
    boolean tls = remote.startsWith("gpupools://");
    if (!remote.matches("[^\\s:/?#@]+:\\d{1,5}") && !remote.matches("gpupools?://[^\\s:/?#@]+(:\\d{1,5})?/?")) {
      throw new ParameterException(spec.commandLine(), "--remote: '" + remote
          + "' is not HOST:PORT, gpupool://HOST[:PORT] or (TLS) gpupools://HOST[:PORT]");
    }
    if (trust != null && !tls) {
      throw new ParameterException(spec.commandLine(), "--trust is for TLS: use --remote gpupools://HOST:PORT");
    }
    if (trust != null && !Files.isReadable(trust)) {
      throw new ParameterException(spec.commandLine(), "--trust: cannot read " + trust);
    }
    if (gpus != 1) throw new ParameterException(spec.commandLine(), "--remote: a remote session has 1 GPU");
    String tok = token != null ? token : System.getenv("GPUPOOL_TOKEN");
    if (tok == null || tok.isEmpty()) {
      err.println("gpupool run: --remote needs a token: --token or GPUPOOL_TOKEN (the agent's admin makes one with `gpupool token create`)");
      return EXIT_GPUPOOL;
    }
    Path home = Path.of(System.getProperty("gpupool.home", "."));
    Path lib = home.resolve("lib/remote");
    if (!Files.isRegularFile(lib.resolve("libcuda.so.1"))) {
      err.println("gpupool run: the forwarding driver is missing: " + lib.resolve("libcuda.so.1"));
      return EXIT_GPUPOOL;
    }
    ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
    var env = pb.environment();
    env.merge("LD_LIBRARY_PATH", lib.toString(), (old, l) -> l + ":" + old);
    env.put("GPUPOOL_REMOTE", remote);
    if (trust != null) env.put("GPUPOOL_REMOTE_TRUST", trust.toAbsolutePath().toString());
    env.put("GPUPOOL_TOKEN", tok);
    if (bytes > 0) env.put("GPUPOOL_REMOTE_MEMORY", Long.toString(bytes));
    env.put("GPUPOOL_JOB_NAME", jobName);
    if (!team.isEmpty()) env.put("GPUPOOL_TEAM", team);
    Process process;
    try {
      process = pb.start();
    } catch (IOException e) {
      err.println("gpupool run: cannot run " + command.get(0) + ": " + e.getMessage());
      return e.getMessage() != null && e.getMessage().contains("error=2,") ? 127 : 126;
    }
    return process.waitFor();
  }

  private int runCommand(Admitted admitted, Path home, Path shim, PrintWriter err) throws InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
    io.gpupool.agent.JobEnvironment.apply(pb.environment(), admitted, home);
    Process process;
    try {
      process = pb.start();
    } catch (IOException e) {
      boolean missing = e.getMessage() != null && e.getMessage().contains("error=2,");
      err.println("gpupool run: cannot run " + command.get(0) + ": " + e.getMessage());
      return missing ? 127 : 126;
    }
    // Ending gpupool run (Ctrl-C, `gpupool cancel`) ends the command: SIGTERM, as the shell would.
    Thread forward = new Thread(() -> {
      process.destroy();
      try {
        process.waitFor();
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    }, "gpupool-run-stop");
    Runtime.getRuntime().addShutdownHook(forward);
    int code = process.waitFor();
    try {
      Runtime.getRuntime().removeShutdownHook(forward);
    } catch (IllegalStateException shuttingDown) {
      // the hook is already running
    }
    return code;
  }
}
