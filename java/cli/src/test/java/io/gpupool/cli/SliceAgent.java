package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.agent.AgentOptions;
import io.gpupool.proto.v1.DeviceStatus;
import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import io.gpupool.region.NodeTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A real {@code gpupool agent --sim 2} process for the time-slicing end-to-end tests, and the
 * {@code gpupool run} processes started against it; {@link #close} kills them all and removes
 * the agent's node table (it outlives agents on purpose).
 */
final class SliceAgent implements AutoCloseable {
  final Path socket;
  private JavaProcess agent;
  private final List<JavaProcess> started = new ArrayList<>();

  private SliceAgent(Path socket) {
    this.socket = socket;
  }

  /** Starts an agent with these extra options, its environment extended by {@code env}. */
  static SliceAgent start(Path dir, List<String> options, Map<String, String> env) throws Exception {
    SliceAgent a = new SliceAgent(dir.resolve("agent.sock"));
    List<String> args = new ArrayList<>(List.of("agent", "--sim", "2", "--socket", a.socket.toString(),
        "--http", "off", "--state", dir.resolve("state").toString()));
    args.addAll(options);
    a.agent = JavaProcess.gpupool(args, env);
    a.agent.awaitOut(l -> l.startsWith("time slicing: "));
    return a;
  }

  private JavaProcess track(JavaProcess p) {
    started.add(p);
    return p;
  }

  /** {@code gpupool run OPTIONS -- spin_job SPIN_ARGS}. */
  JavaProcess spin(List<String> runOptions, String... spinArgs) throws IOException {
    List<String> command = new ArrayList<>(List.of(JavaProcess.spinJob().toString()));
    command.addAll(List.of(spinArgs));
    return run(runOptions, command);
  }

  JavaProcess run(List<String> runOptions, List<String> command) throws IOException {
    List<String> args = new ArrayList<>(List.of("run", "--socket", socket.toString()));
    args.addAll(runOptions);
    args.add("--");
    args.addAll(command);
    return track(JavaProcess.gpupool(args));
  }

  Status status() throws Exception {
    GpupoolRun r = GpupoolRun.of("status", "--json", "--socket", socket.toString());
    assertEquals(0, r.exitCode(), r.err());
    Status.Builder s = Status.newBuilder();
    JsonFormat.parser().merge(r.out(), s);
    return s.build();
  }

  /** Polls the status every 100 ms until {@code condition} holds; returns that status. */
  Status awaitStatus(String what, Predicate<Status> condition) throws Exception {
    long deadline = System.nanoTime() + JavaProcess.PATIENCE.toNanos();
    for (;;) {
      Status s = status();
      if (condition.test(s)) return s;
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for: " + what + "; last: " + s);
      Thread.sleep(100);
    }
  }

  static JobStatus job(Status s, String name) {
    return s.getJobsList().stream().filter(j -> j.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no job " + name + " in " + s));
  }

  static boolean running(Status s, String... names) {
    for (String n : names) {
      if (s.getJobsList().stream().noneMatch(j -> j.getName().equals(n) && j.getState() == JobStatus.State.RUNNING)) {
        return false;
      }
    }
    return true;
  }

  /** The one device the named job was granted. */
  static int deviceOf(Status s, String name) {
    JobStatus j = job(s, name);
    assertEquals(1, j.getDevicesCount(), j.toString());
    return j.getDevices(0);
  }

  static DeviceStatus device(Status s, int ordinal) {
    return s.getDevicesList().stream().filter(d -> d.getOrdinal() == ordinal).findFirst()
        .orElseThrow(() -> new AssertionError("no device " + ordinal + " in " + s));
  }

  /** The named job's device time on its one device, in seconds (measured on the device by the shim). */
  static double deviceSeconds(Status s, String name) {
    JobStatus j = job(s, name);
    assertTrue(j.getDeviceSecondsCount() == 1, j.toString());
    return j.getDeviceSeconds(0);
  }

  /** Kills a job's whole process tree at once (SIGKILL), the job's program first. */
  static void kill(JavaProcess job) {
    job.process.descendants().forEach(ProcessHandle::destroyForcibly);
    job.process.destroyForcibly();
  }

  /**
   * Kills the jobs, lets the agent clean up after them (their regions in /dev/shm), then stops
   * the agent and removes its node table.
   */
  @Override
  public void close() throws IOException {
    for (JavaProcess p : started) p.close();
    try {
      for (JavaProcess p : started) p.process.waitFor();
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (System.nanoTime() < deadline && status().getJobsCount() > 0) Thread.sleep(100);
    } catch (Exception e) {
      // the agent is gone or will not answer: stop it anyway
    }
    agent.close();
    try {
      agent.process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Files.deleteIfExists(NodeTable.defaultPath(AgentOptions.instanceFor(socket)));
  }
}
