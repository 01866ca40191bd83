package io.gpupool.cli;

import static io.gpupool.client.KernelArg.arg;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.client.DeviceBuffer;
import io.gpupool.client.GpuPool;
import io.gpupool.client.GpuRequest;
import io.gpupool.client.Kernel;
import io.gpupool.client.LaunchConfig;
import io.gpupool.client.PoolUnavailableException;
import io.gpupool.client.RemoteGpu;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote GPUs over TLS end to end: `gpupool agent --listen 127.0.0.1:0 --tls-cert --tls-key`
 * with a self-signed certificate for localhost (made by openssl), and the Java client with
 * gpupools://localhost:PORT?trust=cert.pem — TLS to the agent and to the session's worker,
 * whose certificate (the agent's) is verified as "localhost" although the Redirect names an IP.
 */
class RemoteTlsEndToEndTest {
  private static final long MIB = 1L << 20;

  @TempDir Path dir;
  private RemoteAgent agent;
  private Path cert;
  private int port;
  private String token;

  @BeforeEach
  void startAgent() throws Exception {
    cert = new SelfSignedCerts(dir).make("localhost", "localhost", "DNS:localhost,IP:127.0.0.1");
    agent = RemoteAgent.start(dir, "tls-e2e", cert, dir.resolve("localhost-key.pem"));
    port = agent.port;
    token = agent.token;
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
  }

  @Test
  void javaApiSessionOverTlsRunsSaxpyUnderItsQuota() throws Exception {
    Path ptx = Path.of(System.getProperty("gpupool.kernels.dir"), "saxpy.ptx");
    GpuPool pool = GpuPool.connect("gpupools://localhost:" + port + "?token=" + token + "&name=tls-e2e&trust=" + cert);
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
    }
    agent.awaitRunningJobs(0); // the worker exited with the session; the grant is released
  }

  @Test
  void aPlainClientFailsClearlyAgainstTheTlsListener() throws Exception {
    GpuPool pool = GpuPool.connect("gpupool://127.0.0.1:" + port + "?token=" + token);
    PoolUnavailableException e = assertThrows(PoolUnavailableException.class, pool::acquire);
    assertTrue(e.getMessage().contains("the agent at 127.0.0.1:" + port), e.getMessage());
    assertTrue(e.getMessage().contains("use gpupools://"), e.getMessage());
    assertFalse(e.getMessage().contains(token), "the token is not in the message");
    assertEquals(0, agent.runningJobs());
  }

  @Test
  void withoutTheRightTrustTheCertificateDoesNotVerify() throws Exception {
    Path other = new SelfSignedCerts(dir).make("other", "other.example", "DNS:other.example");
    GpuPool wrongTrust = GpuPool.connect("gpupools://localhost:" + port + "?token=" + token + "&trust=" + other);
    PoolUnavailableException e = assertThrows(PoolUnavailableException.class, wrongTrust::acquire);
    assertTrue(e.getMessage().contains("the agent at localhost:" + port), e.getMessage());
    assertTrue(e.getMessage().contains("certificate does not verify for 'localhost'"), e.getMessage());

    GpuPool jvmTrust = GpuPool.connect("gpupools://localhost:" + port + "?token=" + token);
    e = assertThrows(PoolUnavailableException.class, jvmTrust::acquire);
    assertTrue(e.getMessage().contains("certificate does not verify"), e.getMessage());
    assertTrue(e.getMessage().contains("JVM's trust store"), e.getMessage());

    assertEquals(0, agent.runningJobs());
  }
}
