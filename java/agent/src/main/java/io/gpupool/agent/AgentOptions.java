package io.gpupool.agent;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import io.gpupool.agent.slicing.SliceConfig;

/**
 * How an agent is set up; validated by whoever parses user input (the CLI), checked here again.
 *
 * @param socket the Unix socket `gpupool run` talks to
 * @param http where /metrics and the status page are served; null: not served
 * @param stateDir where history is kept across restarts
 * @param tableInstance the node table's instance name (/dev/shm/gpupool-node-&lt;uid&gt;-&lt;instance&gt;)
 * @param simulated whether the devices are the simulated driver's
 * @param jobEnvironment extra environment every admitted job gets (e.g. the sim's settings)
 * @param monitorPeriodMs how often jobs are checked for liveness and usage is sampled
 * @param slicing the time-slice scheduler's settings (`--time-slice`, `--oversubscribe`)
 */
public record AgentOptions(Path socket, InetSocketAddress http, Path stateDir, String tableInstance,
    boolean simulated, Map<String, String> jobEnvironment, long monitorPeriodMs, SliceConfig slicing) {
  /** Quotas on an oversubscribed device may add up to this many times its memory. */
  public static final int OVERSUBSCRIBE_FACTOR = 4;

  /** Time slicing with the default quantum, no oversubscription. */
  public AgentOptions(Path socket, InetSocketAddress http, Path stateDir, String tableInstance,
      boolean simulated, Map<String, String> jobEnvironment, long monitorPeriodMs) {
    this(socket, http, stateDir, tableInstance, simulated, jobEnvironment, monitorPeriodMs,
        SliceConfig.of(true, SliceConfig.DEFAULT_QUANTUM_NANOS, java.util.Set.of()));
  }

  public AgentOptions {
    Objects.requireNonNull(slicing, "slicing");
    Objects.requireNonNull(socket, "socket");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(tableInstance, "tableInstance");
    jobEnvironment = Map.copyOf(jobEnvironment);
    if (monitorPeriodMs < 10) throw new IllegalArgumentException("monitorPeriodMs must be >= 10");
  }

  /** The node table instance for a socket path: agents on different sockets get different tables. */
  public static String instanceFor(Path socket) {
    String abs = socket.toAbsolutePath().normalize().toString();
    return String.format("%08x", abs.hashCode());
  }
}
