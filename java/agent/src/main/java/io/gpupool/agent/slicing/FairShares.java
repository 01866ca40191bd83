package io.gpupool.agent.slicing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Weighted max-min fair shares of one device (water filling), the fluid counterpart of
 * {@link SlicePolicy}: what each job's device-time share converges to when every job keeps a
 * constant demand. Pure; no state.
 */
public final class FairShares {
  private FairShares() {}

  /**
   * Each job's share of the device, in 0..1.
   *
   * @param weights each job's weight (at least 1)
   * @param demands each job's demand: the share of the device it would use alone, 0..1; a job
   *     missing here demands nothing
   * @return a share for every job in {@code weights}: never above its demand; the device is
   *     split by weight among the jobs whose demand is not met (their shares sum to 1 when any
   *     such job exists)
   */
  public static <K> Map<K, Double> of(Map<K, Long> weights, Map<K, Double> demands) {
    Map<K, Double> shares = new LinkedHashMap<>();
    List<K> unmet = new ArrayList<>();
    for (Map.Entry<K, Long> e : weights.entrySet()) {
      K job = e.getKey();
      if (e.getValue() == null || e.getValue() < 1) {
        throw new IllegalArgumentException("job " + job + ": weight " + e.getValue() + " is not positive");
      }
      double demand = demands.getOrDefault(job, 0.0);
      if (!(demand >= 0 && demand <= 1)) {
        throw new IllegalArgumentException("job " + job + ": demand " + demand + " is not in 0..1");
      }
      shares.put(job, 0.0);
      if (demand > 0) unmet.add(job);
    }
    double left = 1.0;
    while (!unmet.isEmpty()) {
      double weightSum = 0;
      for (K job : unmet) weightSum += weights.get(job);
      // Every job whose demand is at most its fair part of what is left is satisfied; the rest is
      // split again among the others. If none is satisfied, the fair parts are final.
      List<K> stillUnmet = new ArrayList<>();
      double given = 0;
      for (K job : unmet) {
        double fair = left * weights.get(job) / weightSum;
        double demand = demands.get(job);
        if (demand <= fair) {
          shares.put(job, demand);
          given += demand;
        } else {
          stillUnmet.add(job);
        }
      }
      if (stillUnmet.size() == unmet.size()) {
        for (K job : unmet) shares.put(job, left * weights.get(job) / weightSum);
        break;
      }
      left -= given;
      unmet = stillUnmet;
    }
    return shares;
  }
}
