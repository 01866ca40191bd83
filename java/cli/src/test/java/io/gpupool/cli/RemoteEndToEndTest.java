package io.gpupool.cli;

import static io.gpupool.client.KernelArg.arg;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.client.DeviceBuffer;
import io.gpupool.client.GpuException;
import io.gpupool.client.GpuPool;
import io.gpupool.client.GpuRequest;
import io.gpupool.client.Kernel;
import io.gpupool.client.LaunchConfig;
import io.gpupool.client.RemoteGpu;
import io.gpupool.client.SessionRefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote GPUs end to end: a real `gpupool agent --sim 2 --listen` process, a token from
 * `gpupool token create`, sessions from the Java API and from a native program through the
 * forwarding libcuda.so.1 (`gpupool run --remote`), each served by its own worker process under
 * the shim with the session's quota.
 */
class RemoteEndToEndTest {
  private static final long MIB = 1L << 20;

  @TempDir Path dir;
  private Path socket;
  private String remote;
  private String token;
  private final List<JavaProcess> started = new ArrayList<>();

  @BeforeEach
  void startAgent() throws Exception {
    socket = dir.resolve("agent.sock");
    Path state = dir.resolve("state");
    GpupoolRun created = GpupoolRun.of("token", "create", "--name", "e2e", "--state", state.toString());
    assertEquals(0, created.exitCode(), created.err());
    token = created.out().trim();
    assertTrue(token.startsWith("gpt_"), token);
    JavaProcess agent = JavaProcess.gpupool(List.of("agent", "--sim", "2", "--socket", socket.toString(),
        "--http", "off", "--state", state.toString(), "--listen", "127.0.0.1:0"));
    started.add(agent);
    String line = agent.awaitOut(l -> l.startsWith("remote sessions: "));
    Matcher m = Pattern.compile("remote sessions: (\\S+:\\d+)").matcher(line);
    assertTrue(m.find(), line);
    remote = m.group(1);
  }

  @AfterEach
  void stop() throws Exception {
    for (JavaProcess p : started) p.close();
    for (JavaProcess p : started) p.process.waitFor();
    Files.deleteIfExists(io.gpupool.region.NodeTable.defaultPath(io.gpupool.agent.AgentOptions.instanceFor(socket)));
  }

  private int runningJobs() {
    GpupoolRun r = GpupoolRun.of("status", "--json", "--socket", socket.toString());
    return r.out().split("\"state\": \"RUNNING\"", -1).length - 1;
  }

  private void awaitRunningJobs(int n) throws InterruptedException {
    long deadline = System.nanoTime() + JavaProcess.PATIENCE.toNanos();
    while (runningJobs() != n) {
      if (System.nanoTime() > deadline) throw new AssertionError("expected " + n + " running jobs");
      Thread.sleep(100);
    }
  }

  @Test
  void javaApiSessionRunsSaxpyUnderItsQuota() throws Exception {
    Path ptx = Path.of(System.getProperty("gpupool.kernels.dir"), "saxpy.ptx");
    GpuPool pool = GpuPool.connect("gpupool://" + remote + "?token=" + token + "&name=java-e2e&team=ml");
    try (RemoteGpu gpu = pool.acquire(GpuRequest.memory(256 * MIB))) {
      assertEquals(256 * MIB, gpu.memoryInfo().totalBytes(), "the worker's shim shows the session's quota");
      assertEquals(1, runningJobs());
      int n = 1 << 16;
      float[] x = new float[n];
      float[] y = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = i;
        y[i] = 1;
      }
      try (DeviceBuffer dx = gpu.allocate(4L * n); DeviceBuffer dy = gpu.allocate(4L * n)) {
        dx.copyFrom(x);
        dy.copyFrom(y);
        Kernel saxpy = gpu.loadModule(ptx).function("saxpy");
        saxpy.launch(LaunchConfig.grid((n + 255) / 256).block(256), arg(n), arg(2.0f), arg(dx), arg(dy));
        float[] out = new float[n];
        dy.copyTo(out);
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = 2.0f * i + 1;
        assertArrayEquals(expected, out);
      }
      GpuException oom = assertThrows(GpuException.class, () -> gpu.allocate(512 * MIB));
      assertEquals("CUDA_ERROR_OUT_OF_MEMORY", oom.errorName(), oom.getMessage());
    }
    awaitRunningJobs(0); // the worker exited with the session; the grant is released
  }

  @Test
  void theJavaExamplesRunOnAPooledGpu() throws Exception {
    Path examples = Path.of(System.getProperty("gpupool.test.root"), "examples", "java");
    String uri = "gpupool://" + remote + "?token=" + token + "&memory=512MiB&name=example";
    for (String example : List.of("Saxpy.java", "Sgemm.java")) {
      ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
          examples.resolve(example).toString(), uri, System.getProperty("gpupool.kernels.dir"), "64")
          .redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertEquals(0, p.waitFor(), example + ": " + out);
      assertTrue(out.contains("-> OK"), example + ": " + out);
      assertTrue(!out.contains(token), "the token is not printed");
    }
    awaitRunningJobs(0);
  }

  @Test
  void aWrongTokenIsRefusedBeforeAnyWork() {
    GpuPool pool = GpuPool.connect("gpupool://" + remote + "?token=gpt_wrong");
    SessionRefusedException e = assertThrows(SessionRefusedException.class, pool::acquire);
    assertEquals(SessionRefusedException.Reason.BAD_TOKEN, e.reason());
    assertEquals(0, runningJobs());
  }

  @Test
  void nativeProgramRunsThroughTheForwardingDriver() throws Exception {
    JavaProcess job = JavaProcess.gpupool(List.of("run", "--remote", remote, "--token", token, "--memory", "512MiB",
        "--name", "native-e2e", "--", JavaProcess.jobProbe().toString()));
    started.add(job);
    job.send("info");
    assertEquals("info devices=1 total=" + 512 * MIB + " free=" + 512 * MIB + " rc=CUDA_SUCCESS", job.nextOut());
    job.send("alloc " + 768 * MIB);
    assertEquals("alloc " + 768 * MIB + " -> CUDA_ERROR_OUT_OF_MEMORY", job.nextOut());
    job.send("alloc " + 256 * MIB);
    assertEquals("alloc " + 256 * MIB + " -> CUDA_SUCCESS", job.nextOut());
    // VMM memory counts against the same quota (the worker's shim accounts cuMemCreate).
    job.send("vmm " + 512 * MIB);
    assertEquals("vmm " + 512 * MIB + " -> CUDA_ERROR_OUT_OF_MEMORY", job.nextOut());
    job.send("vmm " + 128 * MIB);
    assertEquals("vmm " + 128 * MIB + " -> CUDA_SUCCESS", job.nextOut());
    job.send("info");
    assertEquals("info devices=1 total=" + 512 * MIB + " free=" + 128 * MIB + " rc=CUDA_SUCCESS", job.nextOut());
    assertEquals(1, runningJobs());
    job.send("exit 5");
    assertEquals(5, job.waitFor());
    awaitRunningJobs(0);
  }

  @Test
  void aJCudaProgramRunsUnmodifiedThroughTheForwardingDriver() throws Exception {
    // JCuda's JNI library links libcuda.so.1; `gpupool run --remote` puts the forwarding one
    // first on LD_LIBRARY_PATH, so the child JVM never loads a local driver.
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    String ptx = io.gpupool.driver.SimulatedDriver.ptx("saxpy").toString();
    JavaProcess job = JavaProcess.gpupool(List.of("run", "--remote", remote, "--token", token, "--memory", "256MiB",
        "--name", "jcuda-e2e", "--", java, "-cp", classPath, JCudaSaxpyChild.class.getName(), ptx));
    started.add(job);
    Map<String, String> answers = new HashMap<>();
    for (String line = job.nextOut(); !line.equals("done"); line = job.nextOut()) {
      int eq = line.indexOf('=');
      assertTrue(eq > 0, "unexpected output: " + line);
      answers.put(line.substring(0, eq), line.substring(eq + 1));
    }
    // The session's quota is the device the program sees: proof that it ran on the pooled GPU.
    assertEquals(String.valueOf(256 * MIB), answers.get("total"), answers.toString());
    assertEquals("CUDA_SUCCESS", answers.get("launch"), answers.toString());
    assertEquals("CUDA_SUCCESS", answers.get("synchronize"), answers.toString());
    assertEquals("CUDA_SUCCESS", answers.get("copyBack"), answers.toString());
    assertEquals("0", answers.get("wrongElements"), answers.toString());
    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", answers.get("allocWholeDevice"), answers.toString());
    assertEquals(0, job.waitFor());
    awaitRunningJobs(0);
  }
}
