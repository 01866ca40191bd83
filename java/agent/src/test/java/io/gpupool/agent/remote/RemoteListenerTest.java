package io.gpupool.agent.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.agent.Agent;
import io.gpupool.agent.AgentOptions;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.RemoteLimits;
import io.gpupool.proto.v1.ServerMessage;
import io.gpupool.region.DeviceRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's side of remote sessions, with a stand-in worker (a shell that announces a port and
 * sleeps): tokens checked first, admission and queueing, the redirect, the session's end, and
 * hostile handshakes.
 */
class RemoteListenerTest {
  private static final long GIB = 1L << 30;

  @TempDir Path dir;
  private Agent agent;
  private RemoteListener listener;
  private String token;

  @BeforeEach
  void start() throws Exception {
    agent = Agent.start(new AgentOptions(dir.resolve("a.sock"), null, dir.resolve("state"),
        "remotetest-" + ProcessHandle.current().pid() + "-" + System.nanoTime(), true, Map.of(), 50),
        List.of(new DeviceRecord(4 * GIB, new byte[16], "sim")));
    TokenStore tokens = new TokenStore(dir.resolve("state"));
    token = tokens.create("alice");
    // The launcher preloads <home>/lib/libgpupool-shim.so into the worker: here libc stands in
    // for it (harmless to preload), as the stand-in worker is a shell.
    Path libc = java.util.stream.Stream.of("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6").map(Path::of).filter(Files::exists).findFirst().orElseThrow();
    Files.createDirectories(dir.resolve("lib"));
    Files.createSymbolicLink(dir.resolve("lib/libgpupool-shim.so"), libc);
    WorkerLauncher fakeWorker = new WorkerLauncher(
        List.of("sh", "-c", "echo gpupool-worker listening 127.0.0.1:5555; exec sleep 60"), dir);
    listener = RemoteListener.start(agent, new RemoteOptions(new InetSocketAddress("127.0.0.1", 0), null, tokens,
        fakeWorker, 4242, 12040));
  }

  @AfterEach
  void stop() throws IOException {
    listener.close();
    Path table = agent.table().path();
    agent.close();
    Files.deleteIfExists(table);
    ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
  }

  private Socket connect() throws IOException {
    Socket s = new Socket();
    s.connect(listener.address(), 10_000);
    s.setSoTimeout(30_000);
    return s;
  }

  private static Hello.Builder hello(String token) {
    return Hello.newBuilder().setProtocolVersion(RemoteLimits.PROTOCOL_VERSION_VALUE).setToken(token)
        .setMemoryBytes(GIB).setName("remote-test");
  }

  private ServerMessage handshake(Socket s, Hello hello) throws IOException {
    ClientMessage.newBuilder().setHello(hello).build().writeDelimitedTo(s.getOutputStream());
    return ServerMessage.parseDelimitedFrom(s.getInputStream());
  }

  @Test
  void aValidHelloIsAdmittedAndRedirectedToItsWorker() throws Exception {
    try (Socket s = connect()) {
      ServerMessage m = handshake(s, hello(token).build());
      assertTrue(m.hasRedirect(), m.toString());
      assertEquals(5555, m.getRedirect().getPort());
      assertEquals("127.0.0.1", m.getRedirect().getHost());
      assertEquals(32, m.getRedirect().getSecret().size());
      assertEquals(-1, s.getInputStream().read(), "the handshake connection closes after the redirect");
    }
    List<JobStatus> jobs = awaitJobs(1);
    assertEquals(GIB, jobs.get(0).getMemoryBytes());
    assertEquals(4242, jobs.get(0).getUid());
    assertEquals("remote-test", jobs.get(0).getName());
    // The session lives as long as its worker does.
    ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
    awaitJobs(0);
  }

  @Test
  void aSessionThatDoesNotFitWaitsAndIsRedirectedWhenMemoryIsReleased() throws Exception {
    try (Socket first = connect(); Socket second = connect()) {
      assertTrue(handshake(first, hello(token).setMemoryBytes(3 * GIB).build()).hasRedirect());
      ServerMessage queued = handshake(second, hello(token).setMemoryBytes(2 * GIB).build());
      assertTrue(queued.hasQueued(), queued.toString());
      assertEquals("waiting for 2 GiB on 1 GPU", queued.getQueued().getReason());
      ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly); // the first worker ends
      ServerMessage next = ServerMessage.parseDelimitedFrom(second.getInputStream());
      assertTrue(next.hasRedirect(), next.toString());
    }
  }

  @Test
  void aClientThatHangsUpRightAfterHelloLeavesNoJobBehind() throws Exception {
    try (Socket s = connect()) {
      ClientMessage.newBuilder().setHello(hello(token)).build().writeDelimitedTo(s.getOutputStream());
    } // closed before the agent could answer
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (agent.status().getJobsCount() > 0 && System.nanoTime() < deadline) {
      ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
      Thread.sleep(50);
    }
    awaitJobs(0);
  }

  @Test
  void withoutTheShimNoWorkerIsStarted() throws Exception {
    Files.delete(dir.resolve("lib/libgpupool-shim.so"));
    try (Socket s = connect()) {
      ServerMessage m = handshake(s, hello(token).build());
      assertEquals(Refused.Reason.UNAVAILABLE, m.getRefused().getReason(), m.toString());
      assertTrue(m.getRefused().getMessage().contains("the shim is missing"), m.toString());
    }
    awaitJobs(0);
  }

  @Test
  void tokensAreCheckedBeforeAnythingElse() throws Exception {
    assertRefused(hello("gpt_not-a-token").build(), Refused.Reason.BAD_TOKEN);
    assertRefused(hello("").build(), Refused.Reason.BAD_TOKEN);
    // A bad token with a bad version: the token is what is refused.
    assertRefused(hello("wrong").setProtocolVersion(99).build(), Refused.Reason.BAD_TOKEN);
    assertRefused(hello(token).setProtocolVersion(99).build(), Refused.Reason.VERSION);
    // Built for CUDA 13.0; this "driver" supports 12.4.
    assertRefused(hello(token).setClientCudaVersion(13000).build(), Refused.Reason.VERSION);
    assertRefused(hello(token).setMemoryBytes(5 * GIB).build(), Refused.Reason.NEVER_FITS);
    assertRefused(hello(token).setName("bad\nname").build(), Refused.Reason.BAD_REQUEST);
    assertEquals(0, agent.status().getJobsCount(), "no job was started for a refused session");
  }

  private void assertRefused(Hello hello, Refused.Reason reason) throws IOException {
    try (Socket s = connect()) {
      ServerMessage m = handshake(s, hello);
      assertEquals(reason, m.getRefused().getReason(), m.toString());
      assertEquals(-1, s.getInputStream().read(), "closed after Refused");
    }
  }

  @Test
  void randomAndMutatedHandshakesNeverStopTheListener() throws Exception {
    ByteArrayOutputStream valid = new ByteArrayOutputStream();
    ClientMessage.newBuilder().setHello(hello(token)).build().writeDelimitedTo(valid);
    byte[] good = valid.toByteArray();
    Random random = new Random(42);
    for (int i = 0; i < 200; i++) {
      byte[] frame;
      switch (i % 4) {
        case 0 -> { // random bytes
          frame = new byte[1 + random.nextInt(200)];
          random.nextBytes(frame);
        }
        case 1 -> { // the valid Hello with bits flipped
          frame = good.clone();
          for (int f = 0; f < 1 + random.nextInt(4); f++) frame[random.nextInt(frame.length)] ^= (byte) (1 << random.nextInt(8));
        }
        case 2 -> frame = java.util.Arrays.copyOf(good, random.nextInt(good.length)); // truncated
        default -> frame = new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f}; // 268 MB announced
      }
      try (Socket s = connect()) {
        OutputStream out = s.getOutputStream();
        out.write(frame);
        out.flush();
        s.shutdownOutput();
        InputStream in = s.getInputStream();
        ServerMessage.parseDelimitedFrom(in); // whatever it answers (Refused, Redirect for a lucky flip, nothing)
      } catch (IOException expected) {
        // reset or a reply cut short: fine, as long as the listener lives
      }
    }
    // Lucky flips make valid Hellos: their (stand-in) workers may still be starting; end them all.
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (agent.status().getJobsCount() > 0 && System.nanoTime() < deadline) {
      ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
      Thread.sleep(50);
    }
    awaitJobs(0);
    try (Socket s = connect()) {
      assertTrue(handshake(s, hello(token).build()).hasRedirect(), "still serving after 200 hostile handshakes");
    }
  }

  private List<JobStatus> awaitJobs(int n) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < deadline) {
      List<JobStatus> jobs = agent.status().getJobsList();
      if (jobs.size() == n) return jobs;
      Thread.sleep(50);
    }
    throw new AssertionError("expected " + n + " jobs, status: " + agent.status());
  }
}
