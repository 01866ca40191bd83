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
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
  private RemoteAgent agent;
  private String remote;
  private String token;

  @BeforeEach
  void startAgent() throws Exception {
    agent = RemoteAgent.start(dir, "e2e");
    remote = agent.address();
    token = agent.token;
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
  }

  @Test
  void javaApiSessionRunsSaxpyUnderItsQuota() throws Exception {
    Path ptx = Path.of(System.getProperty("gpupool.kernels.dir"), "saxpy.ptx");
    GpuPool pool = GpuPool.connect("gpupool://" + remote + "?token=" + token + "&name=java-e2e&team=ml");
    try (RemoteGpu gpu = pool.acquire(GpuRequest.memory(256 * MIB))) {
      assertEquals(256 * MIB, gpu.memoryInfo().totalBytes(), "the worker's shim shows the session's quota");
      assertEquals(1, agent.runningJobs());
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
    agent.awaitRunningJobs(0); // the worker exited with the session; the grant is released
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
    agent.awaitRunningJobs(0);
  }

  @Test
  void aWrongTokenIsRefusedBeforeAnyWork() {
    GpuPool pool = GpuPool.connect("gpupool://" + remote + "?token=gpt_wrong");
    SessionRefusedException e = assertThrows(SessionRefusedException.class, pool::acquire);
    assertEquals(SessionRefusedException.Reason.BAD_TOKEN, e.reason());
    assertEquals(0, agent.runningJobs());
  }

  @Test
  void nativeProgramRunsThroughTheForwardingDriver() throws Exception {
    JavaProcess job = JavaProcess.gpupool(List.of("run", "--remote", remote, "--token", token, "--memory", "512MiB",
        "--name", "native-e2e", "--", JavaProcess.jobProbe().toString()));
    agent.track(job);
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
    assertEquals(1, agent.runningJobs());
    job.send("exit 5");
    assertEquals(5, job.waitFor());
    agent.awaitRunningJobs(0);
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
    agent.track(job);
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
    agent.awaitRunningJobs(0);
  }
}
