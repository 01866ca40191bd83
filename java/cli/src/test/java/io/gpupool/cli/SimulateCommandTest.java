package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** gpupool simulate from the command line: needs no driver and no agent. */
class SimulateCommandTest {
  private static final String PODS = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
      + "creation_time,deletion_time,scheduled_time\n"
      + "a,1000,1024,1,500,,LS,Running,0,100,0\n"
      + "b,1000,1024,1,500,,LS,Running,10,110,10\n";
  private static final String NODES = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,1,P100\n";

  @TempDir Path dir;

  private GpupoolRun simulate(String pods, String... options) throws IOException {
    Path trace = Files.writeString(dir.resolve("pods.csv"), pods);
    Path nodes = Files.writeString(dir.resolve("nodes.csv"), NODES);
    String[] args = new String[5 + options.length];
    args[0] = "simulate";
    args[1] = "--trace";
    args[2] = trace.toString();
    args[3] = "--nodes";
    args[4] = nodes.toString();
    System.arraycopy(options, 0, args, 5, options.length);
    return GpupoolRun.of(args);
  }

  @Test
  void comparesBothPoliciesAndWritesTheHtmlReport() throws IOException {
    Path html = dir.resolve("report.html");
    GpupoolRun run = simulate(PODS, "--html", html.toString());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().matches("(?s).*\\n +static +pooled\\n.*"), run.out());
    assertTrue(run.out().matches("(?s).*\\nqueueing delay p95 +1\\.5 min +0 s\\n.*"), run.out());
    assertTrue(Files.readString(html).contains("<svg id=\"utilisation-chart\""));
  }

  @Test
  void onePolicyGivesOneColumn() throws IOException {
    GpupoolRun run = simulate(PODS, "--policy", "pooled", "--demand", "whole");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().contains("(demand: whole), queue: strict-fifo"), run.out());
    assertTrue(run.out().matches("(?s).*\\n +pooled\\n.*"), run.out());
    assertTrue(!run.out().contains("static"), run.out());
  }

  @Test
  void bestEffortQueueLetsATaskPastOneThatDoesNotFit() throws IOException {
    // One GPU, pooled: a (500) at 0 for 100 s; d (a whole GPU) at 5 for 10 s; c (300) at 10 for 10 s.
    String pods = PODS.substring(0, PODS.indexOf('\n') + 1)
        + "a,1000,1024,1,500,,LS,Running,0,100,0\n"
        + "d,1000,1024,1,1000,,LS,Running,5,15,5\n"
        + "c,1000,1024,1,300,,LS,Running,10,20,10\n";
    // Strict: d waits for a (starts at 100), c waits behind d (starts at 110): delays 0, 95, 100 s.
    // Best effort: c starts at 10 beside a; d still starts at 100: delays 0, 0, 95 s.
    GpupoolRun strict = simulate(pods, "--policy", "pooled");
    assertEquals(0, strict.exitCode(), strict.err());
    assertTrue(strict.out().matches("(?s).*\\nqueueing delay p95 +1\\.7 min\\n.*"), strict.out());
    GpupoolRun best = simulate(pods, "--policy", "pooled", "--queue", "best-effort-fifo");
    assertEquals(0, best.exitCode(), best.err());
    assertTrue(best.out().contains("queue: best-effort-fifo"), best.out());
    assertTrue(best.out().matches("(?s).*\\nqueueing delay p95 +1\\.6 min\\n.*"), best.out());
  }

  @Test
  void badOptionsAreUsageErrors() throws IOException {
    GpupoolRun policy = simulate(PODS, "--policy", "static,shared");
    assertEquals(2, policy.exitCode());
    assertTrue(policy.err().contains("--policy: 'shared' is not a policy (static, pooled)"), policy.err());
    GpupoolRun demand = simulate(PODS, "--demand", "all");
    assertEquals(2, demand.exitCode());
    assertTrue(demand.err().contains("--demand: 'all' is not a demand model"), demand.err());
    GpupoolRun queue = simulate(PODS, "--queue", "fifo");
    assertEquals(2, queue.exitCode());
    assertTrue(queue.err().contains("--queue: 'fifo' is not a queue discipline (strict-fifo, best-effort-fifo)"),
        queue.err());
    GpupoolRun limit = simulate(PODS, "--node-limit", "0");
    assertEquals(2, limit.exitCode());
    assertTrue(limit.err().contains("--node-limit: 0"), limit.err());
  }

  @Test
  void aMalformedTraceFailsNamingTheFileLineAndColumn() throws IOException {
    GpupoolRun run = simulate(PODS + "c,1000,1024,1,half,,LS,Running,20,30,20\n");
    assertEquals(1, run.exitCode());
    assertTrue(run.err().contains("pods.csv:4: column 'gpu_milli': 'half' is not a whole number"), run.err());
  }
}
