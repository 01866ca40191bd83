package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpupool.remote.WorkerLimits;
import io.gpupool.remote.WorkerServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract through remote.proto against a real worker ({@link WorkerServer}, in this
 * JVM on the simulated driver), attached with its secret as after the agent's Redirect.
 */
class RemoteGpuTest extends GpuBackendContractTest {
  private final List<WorkerServer> workers = new ArrayList<>();

  @Override
  protected RemoteGpu acquire() {
    // A session's memory is freed when its worker sees the connection close: wait for that.
    for (WorkerServer previous : workers) {
      try {
        previous.finished().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("a previous worker did not finish", e);
      }
    }
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    WorkerServer worker;
    try {
      worker = WorkerServer.start("127.0.0.1", secret, WorkerLimits.defaults());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    workers.add(worker);
    RemoteBackend backend = RemoteBackend.attach("127.0.0.1", worker.address().getPort(), secret, null);
    return new RemoteGpu(backend, "worker " + worker.address());
  }

  // Runs before the superclass's @AfterEach: the session ends first, then its worker.
  @AfterEach
  void stopWorkers() {
    if (gpu != null) {
      gpu.close();
    }
    workers.forEach(WorkerServer::close);
  }

  @Test
  void aWrongSecretIsRefused() throws IOException {
    byte[] secret = new byte[32];
    try (WorkerServer worker = WorkerServer.start("127.0.0.1", secret, WorkerLimits.defaults())) {
      byte[] wrong = new byte[32];
      wrong[0] = 1;
      GpuPoolException e = assertThrows(GpuPoolException.class,
          () -> RemoteBackend.attach("127.0.0.1", worker.address().getPort(), wrong, null));
      if (e instanceof SessionRefusedException) {
        assertEquals(SessionRefusedException.Reason.BAD_TOKEN, ((SessionRefusedException) e).reason(), e.getMessage());
      }
    }
  }
}
