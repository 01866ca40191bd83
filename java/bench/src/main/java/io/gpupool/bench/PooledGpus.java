package io.gpupool.bench;

import io.gpupool.agent.Agent;
import io.gpupool.agent.AgentOptions;
import io.gpupool.agent.remote.RemoteListener;
import io.gpupool.agent.remote.RemoteOptions;
import io.gpupool.agent.remote.TokenStore;
import io.gpupool.agent.remote.WorkerLauncher;
import io.gpupool.client.GpuPool;
import io.gpupool.client.GpuRequest;
import io.gpupool.client.RemoteGpu;
import io.gpupool.region.DeviceRecord;
import io.gpupool.region.Processes;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A remote GPU as users get one: an agent (in this JVM) listening on loopback, a session admitted
 * with a token, its worker a separate process under the shim on the simulated driver. Needs
 * {@code -Dgpupool.home=<dir with lib/libgpupool-shim.so and lib/sim>} and the sim on
 * LD_LIBRARY_PATH (bench/remote/run.sh sets both).
 */
final class PooledGpus implements AutoCloseable {
  private final Path dir;
  private final Agent agent;
  private final RemoteListener listener;
  final RemoteGpu remote;

  PooledGpus(long memoryBytes) throws IOException {
    Path home = Path.of(System.getProperty("gpupool.home", "build/native"));
    dir = Files.createTempDirectory("gpupool-bench-");
    agent = Agent.start(new AgentOptions(dir.resolve("agent.sock"), null, dir.resolve("state"),
        "bench-" + ProcessHandle.current().pid(), true, Map.of("GPUPOOL_USE_SIM", "1"), 500),
        List.of(new DeviceRecord(16L << 30, new byte[16], "gpupool simulated GPU")));
    TokenStore tokens = new TokenStore(dir.resolve("state"));
    String token = tokens.create("bench");
    List<String> worker = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "io.gpupool.remote.WorkerMain");
    listener = RemoteListener.start(agent, new RemoteOptions(new InetSocketAddress("127.0.0.1", 0), null, tokens,
        new WorkerLauncher(worker, home), Processes.euid(), 0));
    InetSocketAddress at = listener.address();
    remote = GpuPool.connect("gpupool://127.0.0.1:" + at.getPort() + "?token=" + token + "&name=bench")
        .acquire(GpuRequest.memory(memoryBytes));
  }

  @Override
  public void close() throws IOException {
    remote.close();
    listener.close();
    Path table = agent.table().path();
    agent.close();
    Files.deleteIfExists(table);
  }
}
