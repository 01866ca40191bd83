package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.Queued;
import io.gpupool.proto.v1.Redirect;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.ServerMessage;
import java.net.ServerSocket;
import java.net.URI;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The client's side of Hello → Queued* → Redirect → Attach, against a scripted agent and worker. */
class AgentHandshakeTest {
  private static final byte[] SECRET = new byte[32];

  @Test
  void helloQueuedRedirectAttach() throws Exception {
    try (ScriptedPeer agent = new ScriptedPeer(); ScriptedPeer worker = new ScriptedPeer()) {
      CompletableFuture<Hello> hello = new CompletableFuture<>();
      CompletableFuture<Void> agentScript = agent.serve(conn -> {
        hello.complete(conn.read().getHello());
        conn.send(ServerMessage.newBuilder().setQueued(Queued.newBuilder().setJobId(12).setAhead(1)).build());
        conn.send(ServerMessage.newBuilder().setQueued(Queued.newBuilder().setJobId(12).setAhead(0)).build());
        conn.send(ServerMessage.newBuilder().setRedirect(Redirect.newBuilder().setHost("")
            .setPort(worker.port()).setSecret(ByteString.copyFrom(SECRET)).setJobId(12)).build());
        assertNull(conn.read(), "the agent connection stays open until the session ends");
      });
      CompletableFuture<Void> workerScript = worker.serve(conn -> {
        assertArrayEquals(SECRET, conn.welcome());
        assertNull(conn.read());
      });
      GpuPool pool = GpuPool.connect(URI.create("gpupool://127.0.0.1:" + agent.port()
          + "?token=s3cret&memory=2GiB&name=train&team=vision"));
      try (RemoteGpu gpu = pool.acquire(GpuRequest.memory(1L << 30).team("speech"))) {
        assertEquals("scripted GPU", gpu.device().name());
        assertTrue(gpu.toString().contains("job 12"), gpu.toString());
      }
      Hello h = hello.get(20, TimeUnit.SECONDS);
      assertEquals(1, h.getProtocolVersion());
      assertEquals("s3cret", h.getToken());
      assertEquals(1L << 30, h.getMemoryBytes(), "the request's memory over the URI's");
      assertEquals("train", h.getName());
      assertEquals("speech", h.getTeam());
      assertFalse(h.getNoWait());
      assertEquals(AgentHandshake.CLIENT_CUDA_VERSION, h.getClientCudaVersion());
      agentScript.get(20, TimeUnit.SECONDS);
      workerScript.get(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRefusalSaysWhy() throws Exception {
    try (ScriptedPeer agent = new ScriptedPeer()) {
      CompletableFuture<Void> script = agent.serve(conn -> {
        ClientMessage m = conn.read();
        assertEquals("", m.getHello().getToken());
        assertEquals(2L << 30, m.getHello().getMemoryBytes(), "the URI's memory");
        conn.send(ServerMessage.newBuilder().setRefused(Refused.newBuilder()
            .setReason(Refused.Reason.BAD_TOKEN).setMessage("no token given")).build());
      });
      GpuPool pool = GpuPool.connect(URI.create("gpupool://127.0.0.1:" + agent.port() + "?memory=2GiB"));
      SessionRefusedException e = assertThrows(SessionRefusedException.class, () -> pool.acquire(GpuRequest.any()));
      assertEquals(SessionRefusedException.Reason.BAD_TOKEN, e.reason());
      assertEquals("the agent at 127.0.0.1:" + agent.port()
          + " refused the session: bad or missing token (no token given)", e.getMessage());
      script.get(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void anAgentThatIsNotThereIsUnavailable() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    GpuPool pool = GpuPool.connect(URI.create("gpupool://127.0.0.1:" + port + "?token=t"));
    PoolUnavailableException e = assertThrows(PoolUnavailableException.class, pool::acquire);
    assertTrue(e.getMessage().startsWith("cannot reach the agent at 127.0.0.1:" + port), e.getMessage());
  }

  @Test
  void addresses() {
    assertEquals(0, PoolUri.parse(URI.create("local:0")).ordinal());
    assertEquals(1, PoolUri.parse(URI.create("local:1")).ordinal());
    assertTrue(PoolUri.parse(URI.create("local:/")).local());
    assertNotNull(GpuPool.connect("local:"));
    PoolUri remote = PoolUri.parse(URI.create("gpupool://gpu-node?token=a%20b&memory=512MiB&noWait=true"));
    assertEquals(PoolUri.DEFAULT_PORT, remote.port());
    assertEquals("a b", remote.token());
    assertEquals(512L << 20, remote.memoryBytes());
    assertTrue(remote.noWait());
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> GpuPool.connect(URI.create("gpupool://h?token=secret&memroy=1G")));
    assertFalse(unknown.getMessage().contains("secret"), "the token is never in a message");
    assertThrows(IllegalArgumentException.class, () -> GpuPool.connect(URI.create("http://h")));
    assertThrows(IllegalArgumentException.class, () -> GpuPool.connect(URI.create("gpupool://h?memory=lots")));
  }
}
