package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent end to end: a real `gpupool agent --sim 2` process (two simulated 4 GiB GPUs, from
 * the surefire environment), real `gpupool run` processes, the shim and the sim under
 * {@code job_probe}, a CUDA program that does what its stdin says.
 */
class AgentEndToEndTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  @TempDir Path dir;
  private Path socket;
  private JavaProcess agent;
  private String http;
  private final List<JavaProcess> started = new ArrayList<>();

  @BeforeEach
  void startAgent() throws Exception {
    socket = dir.resolve("agent.sock");
    agent = startAgentProcess();
  }

  private JavaProcess startAgentProcess() throws Exception {
    JavaProcess a = track(JavaProcess.gpupool(List.of("agent", "--sim", "2", "--socket", socket.toString(),
        "--http", "127.0.0.1:0", "--state", dir.resolve("state").toString())));
    String line = a.awaitOut(l -> l.startsWith("status page: "));
    Matcher m = Pattern.compile("http://([^/ ]+)/").matcher(line);
    assertTrue(m.find(), line);
    http = "http://" + m.group(1);
    return a;
  }

  @AfterEach
  void stopAll() throws IOException {
    for (JavaProcess p : started) p.close();
    for (JavaProcess p : started) {
      try {
        p.process.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // The node table outlives agents on purpose (restarts); a test's agent is gone for good.
    Files.deleteIfExists(io.gpupool.region.NodeTable.defaultPath(io.gpupool.agent.AgentOptions.instanceFor(socket)));
  }

  private JavaProcess track(JavaProcess p) {
    started.add(p);
    return p;
  }

  private JavaProcess run(String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of("run", "--socket", socket.toString()));
    args.addAll(List.of(options));
    args.add("--");
    args.add(JavaProcess.jobProbe().toString());
    return track(JavaProcess.gpupool(args));
  }

  private Status status() throws Exception {
    GpupoolRun r = GpupoolRun.of("status", "--json", "--socket", socket.toString());
    assertEquals(0, r.exitCode(), r.err());
    Status.Builder s = Status.newBuilder();
    JsonFormat.parser().merge(r.out(), s);
    return s.build();
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + JavaProcess.PATIENCE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for: " + what);
      Thread.sleep(100);
    }
  }

  private BooleanSupplier statusSays(java.util.function.Predicate<Status> p) {
    return () -> {
      try {
        return p.test(status());
      } catch (Exception e) {
        return false;
      }
    };
  }

  private String get(String path) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(http + path)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), path);
    return r.body();
  }

  @Test
  void jobRunsUnderItsQuotaAndReturnsItsExitCode() throws Exception {
    JavaProcess job = run("--memory", "1GiB", "--name", "small", "--team", "vision");
    job.send("info");
    assertEquals("info devices=1 total=" + GIB + " free=" + GIB + " rc=CUDA_SUCCESS", job.nextOut());
    job.send("alloc " + 1536 * MIB);
    assertEquals("alloc " + 1536 * MIB + " -> CUDA_ERROR_OUT_OF_MEMORY", job.nextOut());
    job.send("alloc " + 512 * MIB);
    assertEquals("alloc " + 512 * MIB + " -> CUDA_SUCCESS", job.nextOut());

    Status s = status();
    assertEquals(1, s.getJobsCount());
    JobStatus j = s.getJobs(0);
    assertEquals(JobStatus.State.RUNNING, j.getState());
    assertEquals("small", j.getName());
    assertEquals("vision", j.getTeam());
    assertEquals(GIB, j.getMemoryBytes());
    assertEquals(GIB, s.getDevices(j.getDevices(0)).getGrantedBytes());

    String key = j.getKey();
    await("the agent samples 512 MiB used", () -> {
      try {
        return get("/metrics").contains("gpupool_job_memory_used_bytes{device=\"" + j.getDevices(0) + "\",job=\"" + key + "\"} "
            + (double) (512 * MIB));
      } catch (Exception e) {
        return false;
      }
    });
    String metrics = get("/metrics");
    assertTrue(metrics.contains("gpupool_job_memory_limit_bytes{device=\"" + j.getDevices(0) + "\",job=\"" + key + "\"} "
        + (double) GIB), metrics);
    assertTrue(metrics.contains("gpupool_jobs_waiting 0"), metrics);

    // The status page, rendered by a real browser from the live agent.
    String dom = HeadlessChromium.dumpDom(http + "/");
    assertTrue(dom.contains("data-job-key=\"" + key + "\""), dom);
    assertTrue(dom.contains("small") && dom.contains("vision"), dom);
    HeadlessChromium.screenshot(http + "/", Path.of("target", "test-output", "agent-e2e-status-page.png"));

    job.send("exit 7");
    assertEquals(7, job.waitFor());
    await("the grant is released", statusSays(st -> st.getJobsCount() == 0 && st.getDevices(0).getGrantedBytes() == 0
        && st.getDevices(1).getGrantedBytes() == 0));

    GpupoolRun csv = GpupoolRun.of("report", "--since", "1h", "--format", "csv", "--socket", socket.toString());
    assertEquals(0, csv.exitCode(), csv.err());
    assertTrue(csv.out().contains("small"), csv.out());
    assertTrue(csv.out().contains("vision"), csv.out());
    GpupoolRun html = GpupoolRun.of("report", "--format", "html", "--socket", socket.toString());
    assertEquals(0, html.exitCode(), html.err());
    assertTrue(html.out().contains("<svg"), html.out());
  }

  @Test
  void jobsWaitInOrderAndStartWhenMemoryIsReleased() throws Exception {
    JavaProcess big = run("--memory", "3GiB", "--gpus", "2", "--name", "big");
    big.send("info");
    assertEquals("info devices=2 total=" + 3 * GIB + " free=" + 3 * GIB + " rc=CUDA_SUCCESS", big.nextOut());

    JavaProcess second = run("--memory", "2GiB", "--name", "second");
    second.awaitErr(l -> l.equals("gpupool run: waiting for 2 GiB on 1 GPU: 0 jobs ahead"));
    // 1 GiB would fit beside `big`, but jobs start in order.
    JavaProcess third = run("--memory", "1GiB", "--name", "third");
    third.awaitErr(l -> l.equals("gpupool run: waiting for 1 GiB on 1 GPU: 1 job ahead"));
    Status s = status();
    assertEquals(List.of(JobStatus.State.RUNNING, JobStatus.State.WAITING, JobStatus.State.WAITING),
        s.getJobsList().stream().map(JobStatus::getState).toList());
    assertTrue(get("/metrics").contains("gpupool_jobs_waiting 2"));

    JavaProcess impatient = run("--memory", "1GiB", "--no-wait");
    assertEquals(RunCommand.EXIT_GPUPOOL, impatient.waitFor());
    assertTrue(impatient.drainErr().contains("NO_CAPACITY"), impatient.drainErr());

    big.send("exit 0");
    assertEquals(0, big.waitFor());
    second.send("info");
    assertEquals("info devices=1 total=" + 2 * GIB + " free=" + 2 * GIB + " rc=CUDA_SUCCESS", second.nextOut());
    third.send("info");
    assertEquals("info devices=1 total=" + GIB + " free=" + GIB + " rc=CUDA_SUCCESS", third.nextOut());
    second.send("exit 0");
    third.send("exit 0");
    assertEquals(0, second.waitFor());
    assertEquals(0, third.waitFor());
  }

  @Test
  void aJobThatCanNeverFitIsRefusedAtOnce() throws Exception {
    JavaProcess huge = run("--memory", "5GiB");
    assertEquals(RunCommand.EXIT_GPUPOOL, huge.waitFor());
    assertTrue(huge.drainErr().contains("NEVER_FITS"), huge.drainErr());
    JavaProcess many = run("--memory", "1GiB", "--gpus", "3");
    assertEquals(RunCommand.EXIT_GPUPOOL, many.waitFor());
    assertTrue(many.drainErr().contains("this node has 2"), many.drainErr());
  }

  @Test
  void restartingTheAgentNeitherKillsNorUnlimitsRunningJobs() throws Exception {
    JavaProcess before = run("--memory", "1GiB", "--name", "before-restart", "--team", "history");
    before.send("exit 0");
    assertEquals(0, before.waitFor());
    await("the first job is recorded", statusSays(st -> st.getJobsCount() == 0));
    JavaProcess job = run("--memory", "1GiB", "--name", "survivor");
    job.send("alloc " + 512 * MIB);
    assertEquals("alloc " + 512 * MIB + " -> CUDA_SUCCESS", job.nextOut());

    agent.process.destroyForcibly(); // SIGKILL: no goodbye
    agent.process.waitFor();
    agent = startAgentProcess();

    Status s = status();
    assertEquals(1, s.getJobsCount(), s.toString());
    assertEquals("survivor", s.getJobs(0).getName());
    assertEquals(GIB, s.getJobs(0).getMemoryBytes());
    job.send("alloc " + 768 * MIB);
    assertEquals("alloc " + 768 * MIB + " -> CUDA_ERROR_OUT_OF_MEMORY", job.nextOut());
    job.send("alloc " + 256 * MIB);
    assertEquals("alloc " + 256 * MIB + " -> CUDA_SUCCESS", job.nextOut());

    job.send("exit 0");
    assertEquals(0, job.waitFor());
    await("the new agent sees the job end", statusSays(st -> st.getJobsCount() == 0));

    // History survives the restart: both jobs are in the report, the first one from before it.
    GpupoolRun csv = GpupoolRun.of("report", "--since", "1h", "--socket", socket.toString());
    assertEquals(0, csv.exitCode(), csv.err());
    assertTrue(csv.out().contains("before-restart"), csv.out());
    assertTrue(csv.out().contains("survivor"), csv.out());
  }

  @Test
  void aWaitingJobSubmitsAgainToTheRestartedAgent() throws Exception {
    JavaProcess holder = run("--gpus", "2", "--name", "holder");
    holder.send("info");
    holder.nextOut();
    JavaProcess waiter = run("--memory", "1GiB", "--name", "waiter");
    waiter.awaitErr(l -> l.contains("waiting for 1 GiB on 1 GPU: 0 jobs ahead"));

    agent.process.destroyForcibly();
    agent.process.waitFor();
    waiter.awaitErr(l -> l.contains("lost the agent while waiting; submitting again"));
    agent = startAgentProcess();
    waiter.awaitErr(l -> l.contains("waiting for 1 GiB on 1 GPU: 0 jobs ahead"));

    holder.send("exit 0");
    assertEquals(0, holder.waitFor());
    waiter.send("info");
    assertEquals("info devices=1 total=" + GIB + " free=" + GIB + " rc=CUDA_SUCCESS", waiter.nextOut());
    waiter.send("exit 0");
    assertEquals(0, waiter.waitFor());
  }

  @Test
  void aJobWhoseProcessesAreKilledIsCleanedUp() throws Exception {
    JavaProcess job = run("--memory", "2GiB", "--name", "doomed");
    job.send("alloc " + GIB);
    assertEquals("alloc " + GIB + " -> CUDA_SUCCESS", job.nextOut());
    job.process.descendants().forEach(ProcessHandle::destroyForcibly);
    job.process.destroyForcibly();
    await("the grant of the killed job is released", statusSays(st -> st.getJobsCount() == 0
        && st.getDevices(0).getGrantedBytes() == 0 && st.getDevices(1).getGrantedBytes() == 0));
  }

  @Test
  void cancelEndsARunningJob() throws Exception {
    JavaProcess job = run("--memory", "1GiB", "--name", "victim");
    job.send("info");
    job.nextOut();
    GpupoolRun c = GpupoolRun.of("cancel", "victim", "--socket", socket.toString());
    assertEquals(0, c.exitCode(), c.err());
    assertTrue(c.out().contains("is being stopped"), c.out());
    int code = job.waitFor();
    assertTrue(code != 0, "a cancelled job does not exit 0");
    await("the cancelled job is gone", statusSays(st -> st.getJobsCount() == 0));
  }

  /** Sends raw bytes on the agent's socket and returns the reply, or null if it just closed. */
  private io.gpupool.proto.v1.AgentReply raw(byte[] bytes) throws IOException {
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      ch.connect(java.net.UnixDomainSocketAddress.of(socket));
      ch.write(java.nio.ByteBuffer.wrap(bytes));
      return io.gpupool.proto.v1.AgentReply.parseDelimitedFrom(java.nio.channels.Channels.newInputStream(ch));
    }
  }

  private static byte[] delimited(com.google.protobuf.MessageLite m) throws IOException {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    m.writeDelimitedTo(b);
    return b.toByteArray();
  }

  @Test
  void malformedAndHostileRequestsGetAnErrorAndTheAgentStaysUp() throws Exception {
    io.gpupool.proto.v1.Error.Code bad = io.gpupool.proto.v1.Error.Code.BAD_REQUEST;
    // Not protobuf at all.
    assertEquals(bad, raw(new byte[] {5, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}).getError().getCode());
    // A 2 GiB frame announced.
    assertEquals(bad, raw(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07}).getError().getCode());
    // An empty request.
    assertEquals(bad, raw(delimited(io.gpupool.proto.v1.AgentRequest.getDefaultInstance())).getError().getCode());
    // A name with a newline in it, and an absurd weight.
    io.gpupool.proto.v1.AgentReply r = raw(delimited(io.gpupool.proto.v1.AgentRequest.newBuilder()
        .setSubmit(io.gpupool.proto.v1.Submit.newBuilder().setName("a\nb").setGpus(1)).build()));
    assertEquals(bad, r.getError().getCode());
    assertTrue(r.getError().getMessage().contains("name"), r.toString());
    r = raw(delimited(io.gpupool.proto.v1.AgentRequest.newBuilder()
        .setSubmit(io.gpupool.proto.v1.Submit.newBuilder().setWeight(1_000_000).setGpus(1)).build()));
    assertEquals(bad, r.getError().getCode());
    // Two requests on one connection.
    byte[] status = delimited(io.gpupool.proto.v1.AgentRequest.newBuilder()
        .setStatus(io.gpupool.proto.v1.StatusRequest.getDefaultInstance()).build());
    byte[] twice = new byte[status.length * 2];
    System.arraycopy(status, 0, twice, 0, status.length);
    System.arraycopy(status, 0, twice, status.length, status.length);
    assertTrue(raw(twice).hasStatus());
    // Cancelling what does not exist.
    assertEquals(io.gpupool.proto.v1.Error.Code.NOT_FOUND, raw(delimited(io.gpupool.proto.v1.AgentRequest.newBuilder()
        .setCancel(io.gpupool.proto.v1.Cancel.newBuilder().setJob("nope")).build())).getError().getCode());

    // Still serving.
    assertEquals(2, status().getDevicesCount());
    JavaProcess job = run("--memory", "1GiB");
    job.send("exit 0");
    assertEquals(0, job.waitFor());
  }

  @Test
  void withoutAnAgentRunSaysHowToStartOne() throws Exception {
    Path nowhere = dir.resolve("no-agent.sock");
    JavaProcess job = track(JavaProcess.gpupool(List.of("run", "--socket", nowhere.toString(), "--", "true")));
    assertEquals(RunCommand.EXIT_GPUPOOL, job.waitFor());
    String err = job.drainErr();
    assertTrue(err.contains("no gpupool agent at " + nowhere), err);
    assertTrue(err.contains("gpupool agent --sim"), err);
    assertTrue(Files.notExists(nowhere));
  }
}
