package io.gpupool.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.Cancel;
import io.gpupool.proto.v1.Error;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Submit;
import io.gpupool.region.DeviceRecord;
import io.gpupool.region.JobEntry;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's core without sockets or processes: requests come from recorded connections and
 * peers chosen by the test (the kernel gives them in production), grants are checked in the
 * node table the shim reads.
 */
class AgentTest {
  private static final long GIB = 1L << 30;
  /** This test process: alive, so jobs "launched" by it stay running. */
  private static final int PID = (int) ProcessHandle.current().pid();

  @TempDir Path dir;
  private Agent agent;

  @BeforeEach
  void start() throws Exception {
    String instance = "agenttest-" + PID + "-" + System.nanoTime();
    agent = Agent.start(new AgentOptions(dir.resolve("s.sock"), null, dir.resolve("state"), instance, true,
        Map.of("GPUPOOL_USE_SIM", "1"), 50), List.of(
            new DeviceRecord(8 * GIB, new byte[16], "sim 0"), new DeviceRecord(8 * GIB, new byte[16], "sim 1")));
  }

  @AfterEach
  void stop() throws Exception {
    java.nio.file.Path table = agent.table().path();
    agent.close();
    java.nio.file.Files.deleteIfExists(table);
  }

  /** Replies a connection received, in order. */
  static final class Recorder implements JobConnection {
    final LinkedBlockingQueue<AgentReply> replies = new LinkedBlockingQueue<>();
    volatile boolean closed;

    @Override
    public void send(AgentReply reply) {
      replies.add(reply);
    }

    @Override
    public void sendAndClose(AgentReply reply) {
      replies.add(reply);
      closed = true;
    }

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public boolean isOpen() {
      return !closed;
    }

    AgentReply next() throws InterruptedException {
      AgentReply r = replies.poll(30, TimeUnit.SECONDS);
      if (r == null) throw new AssertionError("no reply");
      return r;
    }
  }

  private Recorder submit(Submit s, Peer peer) {
    Recorder r = new Recorder();
    agent.submit(s, peer, r, j -> { });
    return r;
  }

  @Test
  void grantIsPublishedInTheNodeTableBeforeTheJobHearsOfIt() throws Exception {
    Recorder r = submit(Submit.newBuilder().setMemoryBytes(3 * GIB).setGpus(2).setName("train").setTeam("nlp").build(),
        new Peer(1234, PID));
    AgentReply reply = r.next();
    assertTrue(reply.hasAdmitted(), reply.toString());
    var admitted = reply.getAdmitted();
    assertEquals(List.of(0, 1), admitted.getDevicesList());
    assertEquals(3 * GIB, admitted.getMemoryBytes());
    assertEquals("1", admitted.getEnvironmentMap().get("GPUPOOL_USE_SIM"));
    assertEquals(agent.table().path().toString(), admitted.getTablePath());
    JobEntry entry = agent.table().read(admitted.getTableEntry()).orElseThrow();
    assertEquals(admitted.getJobKey(), entry.key());
    assertEquals(1234, entry.uid());
    assertEquals(3 * GIB, entry.limitBytes()[0]);
    assertEquals(3 * GIB, entry.limitBytes()[1]);
    assertEquals(0, entry.limitBytes()[2]);
    assertEquals(Scheduler.DEFAULT_WEIGHT, entry.weight());
    assertEquals(3 * GIB, agent.table().granted(0));
  }

  @Test
  void onlyTheJobsUserOrRootMayCancelIt() throws Exception {
    Recorder owner = submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(1).setName("mine").build(), new Peer(1000, PID));
    assertTrue(owner.next().hasAdmitted());
    Recorder queued = submit(Submit.newBuilder().setMemoryBytes(8 * GIB).setGpus(2).setName("later").build(),
        new Peer(1000, PID));
    assertTrue(queued.next().hasQueued());

    AgentReply denied = agent.cancel(Cancel.newBuilder().setJob("mine").build(), new Peer(2000, PID)).get();
    assertEquals(Error.Code.PERMISSION_DENIED, denied.getError().getCode());
    assertTrue(denied.getError().getMessage().contains("uid 1000"), denied.toString());
    AgentReply unknownPeer = agent.cancel(Cancel.newBuilder().setJob("mine").build(), Peer.UNKNOWN).get();
    assertEquals(Error.Code.PERMISSION_DENIED, unknownPeer.getError().getCode());

    AgentReply byRoot = agent.cancel(Cancel.newBuilder().setJob("later").build(), new Peer(0, PID)).get();
    assertTrue(byRoot.hasCancelled(), byRoot.toString());
    assertEquals(Error.Code.CANCELLED, queued.next().getError().getCode());
    assertTrue(queued.closed);
    assertEquals(List.of(JobStatus.State.RUNNING),
        agent.status().getJobsList().stream().map(JobStatus::getState).toList());
  }

  @Test
  void aWaitingJobWhoseClientHungUpUnnoticedLeavesTheQueue() throws Exception {
    assertTrue(submit(Submit.newBuilder().setGpus(2).setName("all").build(), new Peer(1, PID)).next().hasAdmitted());
    Recorder gone = submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(1).setName("gone").build(), new Peer(1, PID));
    assertTrue(gone.next().hasQueued());
    long deadline = System.nanoTime() + 30_000_000_000L;
    // status() is a snapshot the core thread publishes: first see the queued job in it
    while (agent.status().getJobsCount() < 2 && System.nanoTime() < deadline) Thread.sleep(20);
    assertEquals(List.of("all", "gone"), agent.status().getJobsList().stream().map(JobStatus::getName).toList());
    gone.closed = true; // no connectionClosed: the close raced the handler learning of the job
    while (agent.status().getJobsCount() > 1 && System.nanoTime() < deadline) Thread.sleep(20);
    assertEquals(List.of("all"), agent.status().getJobsList().stream().map(JobStatus::getName).toList());
  }

  @Test
  void refusesWhatCanNeverRunAndWhatCannotWait() throws Exception {
    assertEquals(Error.Code.NEVER_FITS,
        submit(Submit.newBuilder().setMemoryBytes(9 * GIB).setGpus(1).build(), new Peer(1, PID)).next().getError().getCode());
    assertEquals(Error.Code.NEVER_FITS,
        submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(3).build(), new Peer(1, PID)).next().getError().getCode());
    assertEquals(Error.Code.BAD_REQUEST,
        submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(1).build(), Peer.UNKNOWN).next().getError().getCode());
    assertTrue(submit(Submit.newBuilder().setGpus(2).build(), new Peer(1, PID)).next().hasAdmitted());
    AgentReply busy = submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(1).setNoWait(true).build(),
        new Peer(1, PID)).next();
    assertEquals(Error.Code.NO_CAPACITY, busy.getError().getCode());
  }

  @Test
  void aJobWhoseLauncherIsGoneAndHasNoProcessesIsReleasedAndTheNextStarts() throws Exception {
    Process sleeper = new ProcessBuilder("sleep", "600").start();
    try {
      Recorder first = submit(Submit.newBuilder().setGpus(2).setName("whole").build(),
          new Peer(1, (int) sleeper.pid()));
      assertTrue(first.next().hasAdmitted());
      Recorder second = submit(Submit.newBuilder().setMemoryBytes(GIB).setGpus(1).setName("next").build(),
          new Peer(1, PID));
      AgentReply queued = second.next();
      assertEquals(0, queued.getQueued().getAhead());
      assertEquals("waiting for 1 GiB on 1 GPU", queued.getQueued().getReason());
      sleeper.destroyForcibly().waitFor();
      // The launcher's connection is a Recorder that never closes: tell the agent it did.
      Job whole = findJob("whole");
      agent.connectionClosed(whole, true);
      AgentReply admitted = second.next();
      assertTrue(admitted.hasAdmitted(), admitted.toString());
      // The connection's own close comes after Finished: the end is recorded once.
      agent.connectionClosed(whole);
      var report = agent.report(0);
      assertEquals(1, report.getJobsList().stream().filter(u -> u.getName().equals("whole")).count(), report.toString());
      assertEquals(1, report.getJobsList().stream().filter(u -> u.getName().equals("next")).count(), report.toString());
    } finally {
      sleeper.destroyForcibly();
    }
  }

  private Job findJob(String name) {
    for (JobStatus j : agent.status().getJobsList()) {
      if (j.getName().equals(name)) return agent.jobForTest(j.getJobId());
    }
    throw new AssertionError("no job " + name);
  }
}
