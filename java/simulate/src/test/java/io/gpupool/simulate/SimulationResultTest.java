package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Comparing replays over one window (the numbers are SimulatorTest's two half-GPU tasks). */
class SimulationResultTest {
  private static final double EPS = 1e-9;

  @Test
  void theReplayThatEndsFirstIsAveragedOverTheLongerWindowToo() {
    // Static ends at 200 s (B waits 90 s), pooled at 110 s. Pooled granted and used 100 GPU-s;
    // over 0..200 that is 0.5, not the 100/110 of its own window. No task waited in pooled.
    Trace trace = Traces.timed().task("a", 1, 500, 0, 100).task("b", 1, 500, 10, 100).build();
    SimulationResult s = Simulator.run(trace, Traces.nodes(1), Policy.STATIC, Demand.REQUEST);
    SimulationResult p = Simulator.run(trace, Traces.nodes(1), Policy.POOLED, Demand.REQUEST);
    List<SimulationResult> both = SimulationResult.onOneWindow(List.of(s, p));
    assertSame(s, both.get(0)); // already the widest window
    SimulationResult wide = both.get(1);
    assertEquals(0, wide.start(), EPS);
    assertEquals(200, wide.end(), EPS);
    assertEquals(110, wide.ownWindow(), EPS);
    assertEquals(0.5, wide.allocationRate(), EPS);
    assertEquals(0.5, wide.utilisation(), EPS);
    assertEquals(1.0, wide.usedOfAllocated(), EPS);
    assertEquals(0, wide.waitingShare(), EPS);
    assertSame(p.queueDelay(), wide.queueDelay());
    // The timeline gets an idle span from 110 to 200: half of the resampled window is empty.
    Timeline t = wide.timeline().resample(2);
    assertArrayEquals(new double[] {0, 100}, t.start(), EPS);
    assertArrayEquals(new double[] {(0.5 * 10 + 1.0 * 90) / 100, 0.5 * 10 / 100}, t.allocated(), EPS);
  }

  @Test
  void waitingAndFragmentationSharesScaleWithTheWindowButNotTheAverageWhileWaiting() {
    // SimulatorTest's fragmentation case: pooled ends at 110 with 2 GPUs fragmented over 2..100.
    // Over a 220 s window: 2 x 98 / 220 fragmented on average, waiting 98 / 220 of the time,
    // still 2 GPUs while a task waits.
    Trace trace = Traces.timed().task("a", 1, 600, 0, 100).task("b", 1, 600, 1, 100).task("c", 1, 500, 2, 10).build();
    SimulationResult p = Simulator.run(trace, Traces.nodes(2), Policy.POOLED, Demand.REQUEST);
    Trace longer = Traces.timed().task("a", 1, 600, 0, 100).task("b", 1, 600, 1, 100).task("c", 1, 500, 2, 10)
        .task("late", 1, 100, 210, 10).build();
    SimulationResult other = Simulator.run(longer, Traces.nodes(2), Policy.POOLED, Demand.REQUEST);
    assertEquals(220, other.end(), EPS);
    SimulationResult wide = SimulationResult.onOneWindow(List.of(p, other)).get(0);
    assertEquals(2.0 * 98 / 220, wide.fragmentedGpus(), EPS);
    assertEquals(98.0 / 220, wide.waitingShare(), EPS);
    assertEquals(2.0, wide.fragmentedGpusWhileWaiting(), EPS);
  }

  @Test
  void fillModeWindowsAreLeftAlone() {
    Trace trace = Traces.untimed().task("a", 1, 600, 0, 0).task("b", 1, 600, 0, 0).build();
    List<SimulationResult> results = List.of(Simulator.run(trace, Traces.nodes(2), Policy.STATIC, Demand.REQUEST),
        Simulator.run(trace, Traces.nodes(2), Policy.POOLED, Demand.REQUEST));
    assertSame(results, SimulationResult.onOneWindow(results));
  }
}
