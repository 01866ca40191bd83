package io.gpupool.agent.remote;

import io.gpupool.agent.JobEnvironment;
import io.gpupool.proto.v1.Admitted;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Starts the worker process of a remote session: the worker command (a JVM running
 * {@code io.gpupool.remote.WorkerMain}) in the admitted job's environment — under the shim, with
 * the session's quota — and its one-time secret in GPUPOOL_WORKER_SECRET. The worker announces
 * its port with one line, {@code gpupool-worker listening HOST:PORT}; anything else it prints
 * goes to the agent's stderr.
 */
public final class WorkerLauncher {
  private static final Pattern LISTENING = Pattern.compile("gpupool-worker listening (\\S+):(\\d+)");
  static final long START_TIMEOUT_S = 60;

  private final List<String> command;
  private final Path home;

  /**
   * @param command e.g. {@code [<java>, -cp, <class path>, io.gpupool.remote.WorkerMain]}
   * @param home the install tree (the shim, the sim)
   */
  public WorkerLauncher(List<String> command, Path home) {
    this.command = List.copyOf(command);
    this.home = home;
  }

  /** A started worker: its process and where it listens. */
  public record Worker(Process process, String host, int port) {}

  public Worker start(Admitted admitted, String bindHost, byte[] secret) throws IOException {
    // Without the shim the worker would run without the session's quota: refuse instead.
    if (!java.nio.file.Files.isRegularFile(JobEnvironment.shim(home))) {
      throw new IOException("the shim is missing: " + JobEnvironment.shim(home));
    }
    List<String> cmd = new ArrayList<>(command);
    cmd.add("--bind");
    cmd.add(bindHost);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
    JobEnvironment.apply(pb.environment(), admitted, home);
    pb.environment().put("GPUPOOL_WORKER_SECRET", HexFormat.of().formatHex(secret));
    Process p = pb.start();
    CompletableFuture<Matcher> announced = new CompletableFuture<>();
    Thread reader = new Thread(() -> readStdout(p.getInputStream(), announced), "gpupool-worker-" + p.pid());
    reader.setDaemon(true);
    reader.start();
    try {
      Matcher m = announced.get(START_TIMEOUT_S, TimeUnit.SECONDS);
      return new Worker(p, m.group(1), Integer.parseInt(m.group(2)));
    } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
      p.destroyForcibly();
      throw new IOException("the worker did not start: " + (e.getCause() != null ? e.getCause().getMessage() : "no port within "
          + START_TIMEOUT_S + " s"), e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting a worker", e);
    }
  }

  private static void readStdout(InputStream in, CompletableFuture<Matcher> announced) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        Matcher m = LISTENING.matcher(line);
        if (!announced.isDone() && m.matches()) {
          announced.complete(m);
        } else {
          System.err.println("[worker] " + line);
        }
      }
      announced.completeExceptionally(new IOException("the worker exited before saying where it listens"));
    } catch (IOException e) {
      announced.completeExceptionally(e);
    }
  }
}
