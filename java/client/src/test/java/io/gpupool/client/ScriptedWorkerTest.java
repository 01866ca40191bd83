package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.Reply;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Base of the tests that run the remote back end against a {@link ScriptedPeer} playing the
 * worker: a fresh peer per test, a {@link RemoteGpu} attached to it by {@link #attach}, both
 * closed after the test.
 */
abstract class ScriptedWorkerTest {
  static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  ScriptedPeer worker;
  RemoteGpu gpu;

  @BeforeEach
  void startWorker() throws Exception {
    worker = new ScriptedPeer();
  }

  @AfterEach
  void stopWorker() throws Exception {
    if (gpu != null) {
      gpu.close();
    }
    worker.close();
  }

  /** Attaches to the scripted worker, which checks the secret and then runs {@code script}. */
  CompletableFuture<Void> attach(Consumer<ScriptedPeer.Conn> script) {
    CompletableFuture<Void> done = worker.serve(conn -> {
      assertArrayEquals(SECRET, conn.welcome());
      script.accept(conn);
    });
    gpu = new RemoteGpu(RemoteBackend.attach("127.0.0.1", worker.port(), SECRET, null), "scripted");
    return done;
  }

  static Reply.Builder reply(Call call) {
    return Reply.newBuilder().setSeq(call.getSeq());
  }
}
