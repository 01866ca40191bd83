package io.gpupool.cli;

import io.gpupool.agent.Agent;
import io.gpupool.agent.AgentClient;
import io.gpupool.agent.AgentOptions;
import io.gpupool.agent.LocalSocketServer;
import io.gpupool.agent.slicing.SliceConfig;
import io.gpupool.agent.remote.RemoteListener;
import io.gpupool.agent.remote.RemoteOptions;
import io.gpupool.agent.remote.TokenStore;
import io.gpupool.agent.remote.WorkerLauncher;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.gpupool.agent.web.StatusHttpServer;
import io.gpupool.driver.Cuda;
import io.gpupool.driver.DeviceProperties;
import io.gpupool.region.DeviceRecord;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "agent", description = {
    "Run the node agent: own this node's GPUs, admit jobs from `gpupool run`, serve metrics and the status page.",
    "Stopping or restarting it leaves running jobs running under their quotas."})
final class AgentCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--sim", paramLabel = "N",
      description = "Use N simulated GPUs (the simulated driver) instead of the node's real ones.")
  Integer sim;

  @Option(names = "--socket", paramLabel = "PATH",
      description = "Unix socket for jobs and commands (default: $GPUPOOL_SOCKET, else /tmp/gpupool/agent.sock).")
  Path socket;

  @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:9400",
      description = "Where /metrics and the status page are served (default: ${DEFAULT-VALUE}; 'off': nowhere).")
  String http;

  @Option(names = "--state", paramLabel = "DIR",
      description = "Where history is kept (default: $XDG_STATE_HOME/gpupool, else ~/.local/state/gpupool).")
  Path state;

  @Option(names = "--listen", paramLabel = "HOST:PORT",
      description = "Serve remote sessions (clients without a GPU) on this TCP address; tokens from `gpupool token create`.")
  String listen;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "With --listen: TLS certificate chain (PEM).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "With --listen: TLS private key (PKCS#8 PEM).")
  Path tlsKey;

  @Option(names = "--time-slice", paramLabel = "QUANTUM", defaultValue = "50ms",
      description = {"Time-slice GPUs that several jobs share: each gets its weight's share of device time, in slices of at"
          + " most QUANTUM (e.g. 50ms, 20ms, 1s; default: ${DEFAULT-VALUE}). A GPU with one job is not gated.",
          "'off': jobs sharing a GPU run concurrently, without a gate."})
  String timeSlice;

  @Option(names = "--oversubscribe", paramLabel = "GPUS", arity = "0..1", fallbackValue = "all",
      description = {"Let quotas on these GPUs add up to " + AgentOptions.OVERSUBSCRIBE_FACTOR + "x their memory (each job"
          + " still at most one GPU's memory): before a job's slice, the jobs that do not fit beside it are swapped to"
          + " host memory. GPUS: 'all' (the default with no value) or physical ordinals, e.g. 0,2. Needs time slicing."})
  String oversubscribe;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Map<String, String> env = System.getenv();
    Path socketPath = AgentClient.socketPath(socket, env);
    InetSocketAddress httpAddress = parseHttp(http);
    InetSocketAddress listenAddress = listen == null ? null : parseAddress("--listen", listen);
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
    }
    if (tlsCert != null && listenAddress == null) {
      throw new ParameterException(spec.commandLine(), "--tls-cert/--tls-key need --listen");
    }
    Path stateDir = state != null ? state : defaultStateDir(env);
    if (sim != null && (sim < 1 || sim > 16)) {
      throw new ParameterException(spec.commandLine(), "--sim: " + sim + " is not in 1..16");
    }
    if (sim != null && !String.valueOf(sim).equals(env.get("GPUPOOL_SIM_DEVICES"))) {
      // dist/bin/gpupool sets this from --sim before the JVM (and the driver) start.
      throw new ParameterException(spec.commandLine(),
          "--sim " + sim + ": start the agent through dist/bin/gpupool (or ./gpupool), which selects the simulated driver");
    }
    if (env.get("CUDA_VISIBLE_DEVICES") != null) {
      // Grants name physical ordinals (node_table.h): the driver's numbering with nothing hidden.
      throw new ParameterException(spec.commandLine(), "CUDA_VISIBLE_DEVICES is set ('"
          + env.get("CUDA_VISIBLE_DEVICES") + "'): the agent manages every GPU of the node; unset it");
    }
    List<DeviceRecord> devices = new ArrayList<>();
    for (DeviceProperties d : Cuda.devices()) devices.add(new DeviceRecord(d.totalMemoryBytes(), d.uuid(), d.name()));
    if (devices.isEmpty()) throw new IllegalStateException("the driver shows no CUDA devices");

    Map<String, String> jobEnv = sim != null ? simJobEnvironment(env) : Map.of();
    SliceConfig slicing = SliceOptions.parse(spec.commandLine(), timeSlice, oversubscribe, devices.size());
    AgentOptions options = new AgentOptions(socketPath, httpAddress, stateDir, AgentOptions.instanceFor(socketPath),
        sim != null, jobEnv, 500, slicing);

    CountDownLatch stop = new CountDownLatch(1);
    try (Agent agent = Agent.start(options, devices);
         LocalSocketServer server = LocalSocketServer.start(agent, socketPath);
         StatusHttpServer web = httpAddress == null ? null
             : new StatusHttpServer(httpAddress.getHostString(), httpAddress.getPort(), agent::status, agent::report);
         RemoteListener remote = listenAddress == null ? null : RemoteListener.start(agent, remoteOptions(listenAddress, stateDir))) {
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "gpupool-agent-stop"));
      out.printf("gpupool agent: %d %s GPU(s); socket %s%s; node table %s; state %s%n", devices.size(),
          sim != null ? "simulated" : "", socketPath, server.epoll() ? "" : " (NIO: no peer credentials)",
          agent.table().path(), stateDir);
      out.println("time slicing: " + SliceOptions.describe(slicing));
      if (remote != null) out.printf("remote sessions: %s%s%n", hostPort(remote.address()), tlsCert != null ? " (TLS)" : "");
      if (web != null) out.printf("status page: http://%s/   metrics: http://%s/metrics%n",
          hostPort(web.address()), hostPort(web.address()));
      out.flush();
      stop.await();
    }
    return 0;
  }

  /** What jobs of an agent on the simulated driver need: the sim, configured as the agent's. */
  static Map<String, String> simJobEnvironment(Map<String, String> env) {
    Map<String, String> jobEnv = new LinkedHashMap<>();
    jobEnv.put("GPUPOOL_USE_SIM", "1");
    for (String k : List.of("GPUPOOL_SIM_DEVICES", "GPUPOOL_SIM_MEMORY", "GPUPOOL_SIM_NAME")) {
      if (env.get(k) != null) jobEnv.put(k, env.get(k));
    }
    return jobEnv;
  }

  static String hostPort(InetSocketAddress a) {
    return a.getHostString() + ":" + a.getPort();
  }

  private RemoteOptions remoteOptions(InetSocketAddress address, Path stateDir) throws Exception {
    Path home = Path.of(System.getProperty("gpupool.home", "."));
    List<String> worker = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dgpupool.home=" + home, "-cp", System.getProperty("java.class.path"), "io.gpupool.remote.WorkerMain"));
    if (tlsCert != null) {
      // The session's calls go to the worker: it speaks TLS with the same certificate.
      worker.addAll(List.of("--tls-cert", tlsCert.toAbsolutePath().toString(), "--tls-key", tlsKey.toAbsolutePath().toString()));
    }
    SslContext ssl = tlsCert == null ? null : SslContextBuilder.forServer(tlsCert.toFile(), tlsKey.toFile()).build();
    return new RemoteOptions(address, ssl, new TokenStore(stateDir), new WorkerLauncher(worker, home),
        io.gpupool.region.Processes.euid(), io.gpupool.driver.Cuda.driverVersion());
  }

  private InetSocketAddress parseHttp(String value) {
    if (value == null || value.equals("off")) return null;
    return parseAddress("--http", value);
  }

  private InetSocketAddress parseAddress(String option, String value) {
    int colon = value.lastIndexOf(':');
    try {
      if (colon <= 0) throw new NumberFormatException();
      int port = Integer.parseInt(value.substring(colon + 1));
      if (port < 0 || port > 65535) throw new NumberFormatException();
      return new InetSocketAddress(value.substring(0, colon), port);
    } catch (NumberFormatException e) {
      throw new ParameterException(spec.commandLine(), option + ": '" + value + "' is not HOST:PORT");
    }
  }

  static Path defaultStateDir(Map<String, String> env) {
    String xdg = env.get("XDG_STATE_HOME");
    if (xdg != null && !xdg.isEmpty()) return Path.of(xdg, "gpupool");
    return Path.of(System.getProperty("user.home"), ".local", "state", "gpupool");
  }
}
