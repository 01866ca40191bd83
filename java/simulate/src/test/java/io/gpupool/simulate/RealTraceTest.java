package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Alibaba openb 2023 trace from the shared folder (see its SOURCE.md), replayed whole.
 * Skipped, saying where it looked, when the folder is not there (set -Dgpupool.test.traces.dir).
 */
class RealTraceTest {
  private static final Path DIR = Path.of(System.getProperty("gpupool.test.traces.dir", "../../../shared/traces"))
      .resolve("alibaba-openb-2023");

  private static Path file(String name) {
    Path file = DIR.resolve(name);
    assumeTrue(Files.isRegularFile(file), "skipped: the real trace is not at " + file.toAbsolutePath().normalize()
        + " (set -Dgpupool.test.traces.dir to the folder that holds alibaba-openb-2023/)");
    return file;
  }

  @Test
  void theDefaultPodListReplaysOnTheWholeClusterUnderAMinute() throws IOException {
    Trace trace = TraceReader.read(file("openb_pod_list_default.csv"));
    List<ClusterNode> nodes = NodesReader.read(file("openb_node_list_gpu_node.csv"));
    long began = System.nanoTime();
    SimulationResult s = Simulator.run(trace, nodes, Policy.STATIC, Demand.REQUEST);
    SimulationResult p = Simulator.run(trace, nodes, Policy.POOLED, Demand.REQUEST);
    double seconds = (System.nanoTime() - began) / 1e9;
    assertTrue(trace.tasks().size() >= 8000, "the default list has over 8,000 tasks");
    assertTrue(seconds < 60, "issue 7: a trace of 8,000 tasks replays in under a minute; both policies took " + seconds + " s");

    for (SimulationResult r : List.of(s, p)) {
      TaskCounts c = r.tasks();
      assertEquals(c.inFile(), c.cpuOnly() + c.neverRan() + c.submitted(), "every row is accounted for");
      assertEquals(c.submitted() - c.refused(), c.started());
      assertEquals(c.started(), c.completed(), "with times, every started task ends");
      assertEquals(0, c.waitingAtEnd());
      assertEquals(nodes.stream().mapToInt(ClusterNode::gpus).sum(), r.gpus());
    }
    // The traced cluster never had more than a few dozen GPUs busy at once: on all its 6,212
    // nothing waits under either policy, so both start every task at its submission...
    assertEquals(0, s.queueDelay().max());
    assertEquals(0, p.queueDelay().max());
    // ...and each task runs at its requested share in both: the same device time is used,
    assertEquals(s.utilisation(), p.utilisation(), 1e-9);
    // while static holds whole GPUs for the fractional tasks, so it allocates more for it.
    assertTrue(p.allocationRate() < s.allocationRate(), p.allocationRate() + " vs " + s.allocationRate());
    assertEquals(1.0, p.usedOfAllocated(), 1e-9); // pooled: a task's quota is the share it uses
  }

  @Test
  void theMultiGpuListWithoutTimesFillsTheCluster() throws IOException {
    Trace trace = TraceReader.read(file("openb_pod_list_multigpu50.csv"));
    List<ClusterNode> nodes = NodesReader.read(file("openb_node_list_gpu_node.csv"));
    assertTrue(!trace.timed(), "the multigpu50 list has no time columns");
    for (Policy policy : Policy.values()) {
      SimulationResult r = Simulator.run(trace, nodes, policy, Demand.REQUEST);
      TaskCounts c = r.tasks();
      assertEquals(c.inFile(), c.cpuOnly() + c.neverRan() + c.submitted());
      assertEquals(c.submitted(), c.refused() + c.started() + c.waitingAtEnd());
      assertEquals(0, c.completed(), "fill mode: nothing ends");
      assertTrue(c.waitingAtEnd() > 0, policy + ": the list asks for more than 6,212 GPUs, so the cluster fills up");
    }
  }
}
