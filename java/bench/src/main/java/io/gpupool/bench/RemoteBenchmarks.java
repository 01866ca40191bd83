package io.gpupool.bench;

import static io.gpupool.client.KernelArg.arg;

import io.gpupool.client.DeviceBuffer;
import io.gpupool.client.GpuPool;
import io.gpupool.client.Kernel;
import io.gpupool.client.LaunchConfig;
import io.gpupool.client.RemoteGpu;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Remote GPU costs, each beside its baseline in the same run (bench/remote/run.sh turns them into
 * ratios): a synchronous round trip vs. a raw loopback ping-pong; pipelined launches vs. the same
 * launches in-process; 64 MiB copies vs. raw loopback socket bandwidth moving the same bytes
 * (a 64 MiB array into a 64 MiB array; a cache-resident 1 MiB stream is measured for reference).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class RemoteBenchmarks {
  static final int LAUNCHES = 256;
  static final int COPY_BYTES = 64 << 20;

  private PooledGpus pooled;
  private RemoteGpu local;
  private LoopbackPingPong echo;
  private LoopbackPingPong sink;
  private LoopbackPingPong hotSink;
  private Kernel remoteSpin;
  private Kernel localSpin;
  private DeviceBuffer remoteBuffer;
  private final byte[] host = new byte[COPY_BYTES];
  private final byte[] chunk = new byte[1 << 20];
  // A CtxSynchronize call's frame is about this size.
  private final byte[] smallMessage = new byte[16];

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Path spin = Path.of(System.getProperty("gpupool.kernels.dir", "build/native/kernels"), "spin.ptx");
    pooled = new PooledGpus(1L << 30);
    local = GpuPool.local().acquire();
    remoteSpin = pooled.remote.loadModule(spin).function("spin");
    localSpin = local.loadModule(spin).function("spin");
    remoteBuffer = pooled.remote.allocate(COPY_BYTES);
    echo = new LoopbackPingPong(false, 0, 0);
    sink = new LoopbackPingPong(true, COPY_BYTES, COPY_BYTES);
    hotSink = new LoopbackPingPong(true, COPY_BYTES, chunk.length);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    echo.close();
    sink.close();
    hotSink.close();
    remoteBuffer.close();
    local.close();
    pooled.close();
  }

  @Benchmark
  public void roundTripRawLoopback() throws IOException {
    echo.pingPong(smallMessage);
  }

  @Benchmark
  public void roundTripRemoteSynchronize() {
    pooled.remote.synchronize();
  }

  @Benchmark
  @OperationsPerInvocation(LAUNCHES)
  public void launchesLocal() {
    launch(local, localSpin);
  }

  @Benchmark
  @OperationsPerInvocation(LAUNCHES)
  public void launchesRemotePipelined() {
    launch(pooled.remote, remoteSpin);
  }

  private static void launch(RemoteGpu gpu, Kernel spin) {
    for (int i = 0; i < LAUNCHES; i++) spin.launch(LaunchConfig.grid(1).block(1), arg(0L));
    gpu.synchronize();
  }

  /** The copies' baseline: the bytes a 64 MiB copy moves, from a 64 MiB array into a 64 MiB array. */
  @Benchmark
  public void copy64MiBRawLoopback() throws IOException {
    sink.stream(host, chunk.length, COPY_BYTES);
  }

  /** For reference: one cache-resident 1 MiB array written 64 times into a 1 MiB reader. */
  @Benchmark
  public void copy64MiBRawLoopbackCacheResident() throws IOException {
    hotSink.stream(chunk, chunk.length, COPY_BYTES);
  }

  @Benchmark
  public void copy64MiBRemoteHtoD() {
    remoteBuffer.copyFrom(host);
  }

  @Benchmark
  public void copy64MiBRemoteDtoH() {
    remoteBuffer.copyTo(host);
  }
}
