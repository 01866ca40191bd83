package io.gpupool.agent.slicing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SlicePolicyTest {
  private static final long QUANTUM = 50_000_000L;

  /** Runs {@code slices} full slices among always-pending jobs; returns device time per job. */
  private static Map<Long, Long> run(SlicePolicy policy, Set<Long> pending, int slices, Random overrun) {
    Map<Long, Long> used = new HashMap<>();
    for (long job : pending) used.put(job, 0L);
    for (int i = 0; i < slices; i++) {
      long job = policy.next(pending).getAsLong();
      // A slice overruns by up to one kernel: the device time charged is what was measured.
      long time = QUANTUM + (overrun == null ? 0 : (long) (overrun.nextDouble() * QUANTUM / 2));
      policy.charge(job, time);
      used.merge(job, time, Long::sum);
    }
    return used;
  }

  private static void assertSharesMatchWeights(Map<Long, Long> weights, Map<Long, Long> used) {
    Map<Long, Double> demands = new HashMap<>();
    for (long job : weights.keySet()) demands.put(job, 1.0);
    Map<Long, Double> target = SlicePolicy.shares(weights, demands);
    long total = used.values().stream().mapToLong(Long::longValue).sum();
    for (long job : weights.keySet()) {
      double share = (double) used.get(job) / total;
      assertEquals(target.get(job), share, target.get(job) * 0.01, "job " + job + " share " + share);
    }
  }

  private static void convergesToWeights(Map<Long, Long> weights, Random overrun) {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    weights.forEach(policy::join);
    Map<Long, Long> used = run(policy, weights.keySet(), 400, overrun);
    assertSharesMatchWeights(weights, used);
  }

  @Test
  void discreteSlicesConvergeToTheWeightedShares() {
    convergesToWeights(Map.of(1L, 1L, 2L, 1L), null);
    convergesToWeights(Map.of(1L, 1L, 2L, 3L), null);
    convergesToWeights(Map.of(1L, 1L, 2L, 1L, 3L, 2L), null);
  }

  @Test
  void sharesHoldWhenSlicesOverrunByDifferentAmounts() {
    convergesToWeights(Map.of(1L, 1L, 2L, 1L), new Random(1));
    convergesToWeights(Map.of(1L, 1L, 2L, 3L), new Random(2));
    convergesToWeights(Map.of(1L, 1L, 2L, 1L, 3L, 2L), new Random(3));
  }

  @Test
  void anIdleJobGetsNothingAndCostsNothing() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 1);
    policy.join(3, 5); // joined, never has work
    Map<Long, Long> used = run(policy, Set.of(1L, 2L), 400, null);
    assertFalse(used.containsKey(3L));
    assertSharesMatchWeights(Map.of(1L, 1L, 2L, 1L), used);
    // Alone with work, a job keeps the device however long its slice, and gets every slice.
    assertFalse(policy.shouldPreempt(1, 100 * QUANTUM, true, false));
    for (int i = 0; i < 10; i++) assertEquals(OptionalLong.of(1), policy.next(Set.of(1L)));
  }

  @Test
  void aHolderWithoutWorkGivesTheDeviceUpOnlyWhenSomeoneWaits() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 1);
    assertTrue(policy.shouldPreempt(1, 0, false, true));
    assertFalse(policy.shouldPreempt(1, 0, false, false));
    assertFalse(policy.shouldPreempt(1, QUANTUM - 1, true, true));
    assertTrue(policy.shouldPreempt(1, QUANTUM, true, true));
    assertTrue(policy.shouldPreempt(7, 0, true, true)); // a holder that left
    assertEquals(OptionalLong.empty(), policy.next(Set.of()));
    assertEquals(OptionalLong.empty(), policy.next(Set.of(9L))); // not joined
  }

  @Test
  void aLateJoinerGetsNoBurst() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    run(policy, Set.of(1L), 1000, null);
    policy.join(2, 1);
    Map<Long, Long> used = run(policy, Set.of(1L, 2L), 100, null);
    assertTrue(used.get(2L) <= 51 * QUANTUM, "late joiner got " + used.get(2L) / QUANTUM + " of 100 slices");
    assertTrue(used.get(2L) >= 49 * QUANTUM, "late joiner got " + used.get(2L) / QUANTUM + " of 100 slices");
  }

  @Test
  void sleepingEarnsNoCredit() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 1);
    run(policy, Set.of(1L, 2L), 100, null);
    run(policy, Set.of(1L), 500, null); // job 2 has no work for a while
    Map<Long, Long> used = run(policy, Set.of(1L, 2L), 100, null);
    assertTrue(used.get(2L) <= 51 * QUANTUM, "sleeper got " + used.get(2L) / QUANTUM + " of 100 slices");
  }

  @Test
  void aBriefPauseCostsAContendingJobNothing() {
    // Job 2 (weight 3) misses every 4th decision: between two of its kernels it had nothing
    // pending for a moment. It keeps its lag, so the shares still match the weights.
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 3);
    Map<Long, Long> used = new HashMap<>(Map.of(1L, 0L, 2L, 0L));
    for (int i = 0; i < 800; i++) {
      long job = policy.next(i % 4 == 3 ? Set.of(1L) : Set.of(1L, 2L)).getAsLong();
      policy.charge(job, QUANTUM);
      used.merge(job, QUANTUM, Long::sum);
    }
    assertSharesMatchWeights(Map.of(1L, 1L, 2L, 3L), used);
  }

  @Test
  void aLeavingJobIsForgotten() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 1);
    run(policy, Set.of(1L, 2L), 10, null);
    policy.leave(2);
    assertFalse(policy.isJoined(2));
    assertEquals(OptionalLong.of(1), policy.next(Set.of(1L, 2L)));
    policy.charge(2, QUANTUM); // a late measurement of a job that left: ignored
    assertTrue(Double.isNaN(policy.virtualTime(2)));
  }

  @Test
  void aWeightChangeAppliesToLaterDeviceTime() {
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    policy.join(1, 1);
    policy.join(2, 1);
    run(policy, Set.of(1L, 2L), 100, null);
    policy.setWeight(2, 3);
    Map<Long, Long> used = run(policy, Set.of(1L, 2L), 400, null);
    assertSharesMatchWeights(Map.of(1L, 1L, 2L, 3L), used);
  }

  @Test
  void invalidArgumentsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new SlicePolicy(0));
    SlicePolicy policy = new SlicePolicy(QUANTUM);
    assertThrows(IllegalArgumentException.class, () -> policy.join(1, 0));
    assertThrows(IllegalArgumentException.class, () -> policy.setWeight(1, -1));
  }

  @Test
  void isDeterministic() {
    Map<Long, Long> weights = new LinkedHashMap<>();
    weights.put(5L, 2L);
    weights.put(3L, 1L);
    weights.put(9L, 2L);
    StringBuilder first = new StringBuilder();
    StringBuilder second = new StringBuilder();
    for (StringBuilder order : new StringBuilder[] {first, second}) {
      SlicePolicy policy = new SlicePolicy(QUANTUM);
      weights.forEach(policy::join);
      Random overrun = new Random(7);
      for (int i = 0; i < 50; i++) {
        long job = policy.next(weights.keySet()).getAsLong();
        order.append(job).append(' ');
        policy.charge(job, QUANTUM + overrun.nextInt(1000));
      }
    }
    assertEquals(first.toString(), second.toString());
  }
}
