package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real `gpupool agent --sim 2 --listen 127.0.0.1:0` (with `--tls-cert/--tls-key` when given)
 * for the remote end-to-end tests, with a token of its own from `gpupool token create`. It keeps
 * the processes the test starts against it and, closed, ends them all and removes the agent's
 * node table.
 */
final class RemoteAgent implements AutoCloseable {
  final Path socket;
  final String token;
  final int port;
  private final List<JavaProcess> started = new ArrayList<>();

  private RemoteAgent(Path socket, String token, int port) {
    this.socket = socket;
    this.token = token;
    this.port = port;
  }

  /** A plain agent. */
  static RemoteAgent start(Path dir, String tokenName) throws Exception {
    return start(dir, tokenName, null, null);
  }

  /** An agent whose listener speaks TLS with this certificate and key (both null: plain). */
  static RemoteAgent start(Path dir, String tokenName, Path tlsCert, Path tlsKey) throws Exception {
    Path socket = dir.resolve("agent.sock");
    Path state = dir.resolve("state");
    GpupoolRun created = GpupoolRun.of("token", "create", "--name", tokenName, "--state", state.toString());
    assertEquals(0, created.exitCode(), created.err());
    String token = created.out().trim();
    assertTrue(token.startsWith("gpt_"), token);
    List<String> args = new ArrayList<>(List.of("agent", "--sim", "2", "--socket", socket.toString(), "--http", "off",
        "--state", state.toString(), "--listen", "127.0.0.1:0"));
    if (tlsCert != null) args.addAll(List.of("--tls-cert", tlsCert.toString(), "--tls-key", tlsKey.toString()));
    JavaProcess agent = JavaProcess.gpupool(args);
    String line = agent.awaitOut(l -> l.startsWith("remote sessions: "));
    Matcher m = Pattern.compile("remote sessions: 127\\.0\\.0\\.1:(\\d+)" + (tlsCert != null ? " \\(TLS\\)" : ""))
        .matcher(line);
    if (!m.find()) {
      agent.close();
      throw new AssertionError("unexpected listener line: " + line);
    }
    RemoteAgent a = new RemoteAgent(socket, token, Integer.parseInt(m.group(1)));
    a.track(agent);
    return a;
  }

  /** host:port of the listener. */
  String address() {
    return "127.0.0.1:" + port;
  }

  /** Ends {@code p} with the agent. */
  JavaProcess track(JavaProcess p) {
    started.add(p);
    return p;
  }

  int runningJobs() {
    GpupoolRun r = GpupoolRun.of("status", "--json", "--socket", socket.toString());
    return r.out().split("\"state\": \"RUNNING\"", -1).length - 1;
  }

  void awaitRunningJobs(int n) throws InterruptedException {
    long deadline = System.nanoTime() + JavaProcess.PATIENCE.toNanos();
    while (runningJobs() != n) {
      if (System.nanoTime() > deadline) throw new AssertionError("expected " + n + " running jobs");
      Thread.sleep(100);
    }
  }

  @Override
  public void close() throws Exception {
    for (JavaProcess p : started) p.close();
    for (JavaProcess p : started) p.process.waitFor();
    Files.deleteIfExists(io.gpupool.region.NodeTable.defaultPath(io.gpupool.agent.AgentOptions.instanceFor(socket)));
  }
}
