package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Strict against best-effort FIFO on small traces whose answers are worked out in the comments. */
class QueueDisciplineTest {
  private static final double EPS = 1e-9;

  private static SimulationResult run(Trace trace, QueueDiscipline queue, int... gpusPerNode) {
    return Simulator.run(trace, Traces.nodes(gpusPerNode), Policy.POOLED, Demand.REQUEST, queue);
  }

  /** Every started task's queueing delay, least first. */
  private static double[] delaysOf(SimulationResult r) {
    return r.queueDelay().sorted();
  }

  @Test
  void bestEffortLetsASmallTaskPastAHeadThatDoesNotFit() {
    // One node of two GPUs. A (1 GPU) at 0 for 100 s; B (2 GPUs) at 1 waits for A; C (1 GPU) at 2
    // for 10 s fits on the free GPU. Strict: C waits behind B (B 100..150, C 150..160): delays 0,
    // 99, 148. Best effort: C starts at once (2..12), B still starts at 100: delays 0, 0, 99.
    Trace trace = Traces.timed().task("a", 1, 1000, 0, 100).task("b", 2, 1000, 1, 50).task("c", 1, 1000, 2, 10).build();
    SimulationResult strict = run(trace, QueueDiscipline.STRICT_FIFO, 2);
    assertArrayEquals(new double[] {0, 99, 148}, delaysOf(strict), EPS);
    assertEquals(160, strict.end(), EPS);
    SimulationResult best = run(trace, QueueDiscipline.BEST_EFFORT_FIFO, 2);
    assertArrayEquals(new double[] {0, 0, 99}, delaysOf(best), EPS);
    assertEquals(150, best.end(), EPS);
    assertEquals(QueueDiscipline.BEST_EFFORT_FIFO, best.queue());
  }

  @Test
  void bestEffortCanStarveTheLargeTaskThatStrictProtects() {
    // One node of two GPUs. A (1 GPU) at 0 for 100 s; B (2 GPUs) at 1; C (1 GPU) at 50 for 100 s.
    // Best effort: C takes the free GPU at 50, so B needs both free: after C ends at 150; B runs
    // 150..200 (delays A 0, B 149, C 0). Strict: C waits behind B; B runs 100..150, C 150..250
    // (delays 0, 99, 100).
    Trace trace = Traces.timed().task("a", 1, 1000, 0, 100).task("b", 2, 1000, 1, 50).task("c", 1, 1000, 50, 100).build();
    assertArrayEquals(new double[] {0, 0, 149}, delaysOf(run(trace, QueueDiscipline.BEST_EFFORT_FIFO, 2)), EPS);
    assertArrayEquals(new double[] {0, 99, 100}, delaysOf(run(trace, QueueDiscipline.STRICT_FIFO, 2)), EPS);
  }

  @Test
  void bestEffortStartsTasksThatFitInArrivalOrderAndSkipsOnlyThoseThatDoNot() {
    // One node of two GPUs, pooled. A (1000) and A2 (1000) at 0 for 100 s fill both GPUs. Then
    // wait, in order: W (2 GPUs) at 1, X (600) at 2, Y (600) at 3, Z (400) at 4, each 10 s.
    // At 100 both GPUs free up together (A first, then A2, same instant; completions in order).
    // A ends: GPU 0 free. Pass: W does not fit; X (600) fits GPU 0; Y (600) does not (400 left)
    // and is skipped; Z (400) fits beside X. A2 ends: GPU 1 free. Pass: W does not fit (GPU 0
    // is in use); Y takes GPU 1. X, Y, Z end at 110, W then runs 110..120.
    // Delays: A 0, A2 0, W 109, X 98, Y 97, Z 96.
    Trace trace = Traces.timed().task("a", 1, 1000, 0, 100).task("a2", 1, 1000, 0, 100).task("w", 2, 1000, 1, 10)
        .task("x", 1, 600, 2, 10).task("y", 1, 600, 3, 10).task("z", 1, 400, 4, 10).build();
    SimulationResult r = run(trace, QueueDiscipline.BEST_EFFORT_FIFO, 2);
    assertArrayEquals(new double[] {0, 0, 96, 97, 98, 109}, delaysOf(r), EPS);
    assertEquals(120, r.end(), EPS);
  }

  @Test
  void namesParseAndAnythingElseIsRefusedByName() {
    assertEquals(QueueDiscipline.STRICT_FIFO, QueueDiscipline.parse("strict-fifo"));
    assertEquals(QueueDiscipline.BEST_EFFORT_FIFO, QueueDiscipline.parse(" best-effort-fifo "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QueueDiscipline.parse("fifo"));
    assertEquals("'fifo' is not a queue discipline (strict-fifo, best-effort-fifo)", e.getMessage());
  }

  @Test
  void theDefaultIsTheAgentsStrictFifo() {
    Trace trace = Traces.timed().task("a", 1, 1000, 0, 100).task("b", 2, 1000, 1, 50).task("c", 1, 1000, 2, 10).build();
    SimulationResult r = Simulator.run(trace, Traces.nodes(2), Policy.POOLED, Demand.REQUEST);
    assertEquals(QueueDiscipline.STRICT_FIFO, r.queue());
    assertArrayEquals(new double[] {0, 99, 148}, delaysOf(r), EPS);
  }
}
