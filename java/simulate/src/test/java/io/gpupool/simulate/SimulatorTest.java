package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Small traces whose right answers are worked out by hand in each test's comments. */
class SimulatorTest {
  private static final double EPS = 1e-9;

  private static SimulationResult run(Trace trace, List<ClusterNode> nodes, Policy policy) {
    return Simulator.run(trace, nodes, policy, Demand.REQUEST);
  }

  @Test
  void twoHalfGpuTasksOnOneGpuStaticQueuesTheSecondPooledRunsBoth() {
    // A: 500 milli at 0 for 100 s; B: 500 milli at 10 for 100 s; one GPU.
    Trace trace = Traces.timed().task("a", 1, 500, 0, 100).task("b", 1, 500, 10, 100).build();
    SimulationResult s = run(trace, Traces.nodes(1), Policy.STATIC);
    // Static: A holds the whole GPU 0..100, B waits 90 s and runs 100..200.
    assertArrayEquals(new double[] {0, 90}, s.queueDelay().sorted(), EPS);
    assertArrayEquals(new double[] {100, 190}, s.completionTime().sorted(), EPS);
    assertEquals(200, s.window(), EPS);
    assertEquals(1.0, s.allocationRate(), EPS); // the GPU is held the whole window
    assertEquals(0.5, s.utilisation(), EPS); // each uses half of it
    assertEquals(90.0 / 200, s.waitingShare(), EPS);
    assertEquals(0, s.fragmentedGpus(), EPS); // static never leaves a GPU partly allocated

    SimulationResult p = run(trace, Traces.nodes(1), Policy.POOLED);
    // Pooled: both fit in memory (500 + 500), B starts at once; each gets its half of the time.
    assertArrayEquals(new double[] {0, 0}, p.queueDelay().sorted(), EPS);
    assertArrayEquals(new double[] {100, 100}, p.completionTime().sorted(), EPS);
    assertEquals(110, p.window(), EPS);
    // Granted: 0.5 over 0..10, 1.0 over 10..100, 0.5 over 100..110 = 100 GPU-s in 110 s.
    assertEquals(100.0 / 110, p.allocationRate(), EPS);
    assertEquals(100.0 / 110, p.utilisation(), EPS);
    assertEquals(0, p.waitingShare(), EPS);
  }

  @Test
  void fragmentationCountsPartlyAllocatedGpusThatCannotTakeTheWaitingTask() {
    // One node, two GPUs. A (600) at 0 for 100 s -> GPU 0; B (600) at 1 for 100 s -> GPU 1 (GPU 0
    // has only 400 free); C (500) at 2 for 10 s fits neither and waits until A ends at 100, then
    // takes GPU 0. From 2 to 100 both GPUs are partly allocated and neither can take C.
    Trace trace = Traces.timed().task("a", 1, 600, 0, 100).task("b", 1, 600, 1, 100).task("c", 1, 500, 2, 10).build();
    SimulationResult p = run(trace, Traces.nodes(2), Policy.POOLED);
    assertArrayEquals(new double[] {0, 0, 98}, p.queueDelay().sorted(), EPS);
    assertEquals(110, p.end(), EPS); // C runs 100..110
    assertEquals(2.0 * 98 / 110, p.fragmentedGpus(), EPS);
    assertEquals(2.0, p.fragmentedGpusWhileWaiting(), EPS);
    assertEquals(98.0 / 110, p.waitingShare(), EPS);

    SimulationResult s = run(trace, Traces.nodes(2), Policy.STATIC);
    // Static: C also waits for A, but both GPUs are wholly allocated: not fragmented, just full.
    assertArrayEquals(new double[] {0, 0, 98}, s.queueDelay().sorted(), EPS);
    assertEquals(0, s.fragmentedGpus(), EPS);
  }

  @Test
  void percentilesOfATinySetAreNearestRank() {
    // Four whole-GPU tasks submitted together on one GPU, 10 s each: they wait 0, 10, 20, 30 s.
    Traces t = Traces.timed();
    for (int i = 0; i < 4; i++) t.task("t" + i, 1, 1000, 0, 10);
    SimulationResult r = run(t.build(), Traces.nodes(1), Policy.POOLED);
    assertArrayEquals(new double[] {0, 10, 20, 30}, r.queueDelay().sorted(), EPS);
    assertEquals(10, r.queueDelay().percentile(50), EPS); // 2 of 4 values are <= 10
    assertEquals(30, r.queueDelay().percentile(95), EPS);
    assertEquals(15, r.queueDelay().mean(), EPS);
    assertEquals(20, r.completionTime().percentile(50), EPS); // of 10, 20, 30, 40
  }

  @Test
  void aWaitingHeadHoldsUpSmallerTasksBehindIt() {
    // One node of two GPUs. A (1 GPU) at 0 for 100 s; B (2 GPUs) at 1 waits for A; C (1 GPU) at 2
    // would fit on the free GPU but must not overtake B: B runs 100..150, C 150..160.
    Trace trace = Traces.timed().task("a", 1, 1000, 0, 100).task("b", 2, 1000, 1, 50).task("c", 1, 1000, 2, 10).build();
    SimulationResult r = run(trace, Traces.nodes(2), Policy.POOLED);
    assertArrayEquals(new double[] {0, 99, 148}, r.queueDelay().sorted(), EPS);
    assertEquals(160, r.end(), EPS);
  }

  @Test
  void underDemandWholeCoLocatedTasksSplitTheDeviceAndSpeedUpWhenAloneAgain() {
    // Demand whole: both want the whole device. A (500 milli, 100 s in the trace: 50 device-s of
    // work) and B (500 milli, 40 s: 20 device-s) from 0 on one GPU. Fair shares 0.5 each: B ends
    // at 40, A has 30 device-s left and runs alone at rate 1: it ends at 70.
    Trace trace = Traces.timed().task("a", 1, 500, 0, 100).task("b", 1, 500, 0, 40).build();
    SimulationResult p = Simulator.run(trace, Traces.nodes(1), Policy.POOLED, Demand.WHOLE);
    assertArrayEquals(new double[] {40, 70}, p.completionTime().sorted(), EPS);
    assertEquals(1.0, p.utilisation(), EPS); // work-conserving: the device is never idle
    // Static: A alone at rate 1 ends at 50; B then runs 50..70.
    SimulationResult s = Simulator.run(trace, Traces.nodes(1), Policy.STATIC, Demand.WHOLE);
    assertArrayEquals(new double[] {50, 70}, s.completionTime().sorted(), EPS);
  }

  @Test
  void everyRowIsAccountedFor() {
    // A CPU-only task, one that never started in the trace, one too big for any node (3 GPUs on
    // 2-GPU nodes), one whose model no node has, and one that runs.
    Trace trace = Traces.timed()
        .task("cpu", 0, 0, 0, 10)
        .task("pending", 1, 500, Set.of(), 0, TraceTask.NO_TIME, 5)
        .task("big", 3, 1000, 0, 10)
        .task("a100", 1, 1000, Set.of("A100"), 0, 0, 10)
        .task("ok", 1, 1000, 1, 10)
        .build();
    SimulationResult r = run(trace, Traces.nodes(2, 2), Policy.POOLED);
    assertEquals(new TaskCounts(5, 1, 1, 3, 2, 1, 1, 0), r.tasks());
  }

  @Test
  void aGpuSpecKeepsTheTaskToNodesOfThoseModels() {
    // n0 is a P100, n1 a T4. X (whole GPU, T4 only) at 0 for 100 s takes n1. Y (300, T4 only) at
    // 1 must wait for n1 although n0 is idle: it starts at 100.
    List<ClusterNode> nodes = List.of(new ClusterNode(2, "n0", 1, 1, 1, "P100"), new ClusterNode(3, "n1", 1, 1, 1, "T4"));
    Trace trace = Traces.timed().task("x", 1, 1000, Set.of("T4"), 0, 0, 100).task("y", 1, 300, Set.of("T4"), 1, 1, 11)
        .build();
    SimulationResult r = run(trace, nodes, Policy.POOLED);
    assertArrayEquals(new double[] {0, 99}, r.queueDelay().sorted(), EPS);
    // While Y waits, n0 is not partly allocated and n1 is full: nothing is fragmented.
    assertEquals(0, r.fragmentedGpus(), EPS);
  }

  @Test
  void fillModeSubmitsOnePerSecondUntilTheFirstThatCannotStart() {
    // No times: 600, 600, 500 on two GPUs, never ending. Pooled: 600 on each GPU, 500 waits.
    Trace trace = Traces.untimed().task("a", 1, 600, 0, 0).task("b", 1, 600, 0, 0).task("c", 1, 500, 0, 0).build();
    SimulationResult p = run(trace, Traces.nodes(2), Policy.POOLED);
    assertEquals(2, p.tasks().started());
    assertEquals(1, p.tasks().waitingAtEnd());
    assertEquals(new SimulationResult.EndState(0.6, 0.6, 2, 1), p.atEnd());
    SimulationResult s = run(trace, Traces.nodes(2), Policy.STATIC);
    assertEquals(new SimulationResult.EndState(1.0, 0.6, 0, 1), s.atEnd());
    assertEquals(2, s.window(), EPS); // submissions at seconds 0, 1, 2
  }
}
