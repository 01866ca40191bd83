package io.gpupool.agent.slicing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class FairSharesTest {
  private static void assertShares(Map<String, Double> expected, Map<String, Double> actual) {
    assertEquals(expected.keySet(), actual.keySet());
    expected.forEach((job, share) -> assertEquals(share, actual.get(job), 1e-12, job));
  }

  @Test
  void everyoneBusySplitsByWeight() {
    assertShares(Map.of("a", 0.5, "b", 0.5), FairShares.of(Map.of("a", 1L, "b", 1L), Map.of("a", 1.0, "b", 1.0)));
    assertShares(Map.of("a", 0.25, "b", 0.75), FairShares.of(Map.of("a", 1L, "b", 3L), Map.of("a", 1.0, "b", 1.0)));
    assertShares(Map.of("a", 0.25, "b", 0.25, "c", 0.5),
        FairShares.of(Map.of("a", 1L, "b", 1L, "c", 2L), Map.of("a", 1.0, "b", 1.0, "c", 1.0)));
  }

  @Test
  void aJobNeverGetsMoreThanItDemandsAndTheRestIsSplitByWeight() {
    assertShares(Map.of("a", 0.2, "b", 0.8), FairShares.of(Map.of("a", 1L, "b", 1L), Map.of("a", 0.2, "b", 1.0)));
    // a's fair part is 0.75 but it wants 0.5: b gets the rest.
    assertShares(Map.of("a", 0.5, "b", 0.5), FairShares.of(Map.of("a", 3L, "b", 1L), Map.of("a", 0.5, "b", 1.0)));
    // a satisfied with 0.1; the remaining 0.9 split 1:2 between b and c.
    assertShares(Map.of("a", 0.1, "b", 0.3, "c", 0.6),
        FairShares.of(Map.of("a", 1L, "b", 1L, "c", 2L), Map.of("a", 0.1, "b", 1.0, "c", 1.0)));
    // Two rounds: a is satisfied first, then b (0.35 <= 0.9/2), c gets what is left.
    assertShares(Map.of("a", 0.1, "b", 0.35, "c", 0.55),
        FairShares.of(Map.of("a", 1L, "b", 1L, "c", 1L), Map.of("a", 0.1, "b", 0.35, "c", 1.0)));
  }

  @Test
  void anUnderusedDeviceGivesEveryoneTheirDemand() {
    assertShares(Map.of("a", 0.1, "b", 0.3), FairShares.of(Map.of("a", 1L, "b", 3L), Map.of("a", 0.1, "b", 0.3)));
  }

  @Test
  void idleJobsGetNothing() {
    assertShares(Map.of("a", 1.0, "b", 0.0, "c", 0.0),
        FairShares.of(Map.of("a", 1L, "b", 5L, "c", 1L), Map.of("a", 1.0, "b", 0.0)));
    assertShares(Map.of(), FairShares.of(Map.of(), Map.of()));
  }

  @Test
  void invalidInputIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> FairShares.of(Map.of("a", 0L), Map.of("a", 1.0)));
    assertThrows(IllegalArgumentException.class, () -> FairShares.of(Map.of("a", 1L), Map.of("a", 1.5)));
    assertThrows(IllegalArgumentException.class, () -> FairShares.of(Map.of("a", 1L), Map.of("a", Double.NaN)));
  }
}
