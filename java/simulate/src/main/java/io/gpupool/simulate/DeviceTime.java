package io.gpupool.simulate;

import io.gpupool.agent.slicing.SlicePolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tasks run on each device, and each one's share of the device's time from the time-slice
 * policy the agent runs ({@link SlicePolicy#shares}: weighted max-min fair, work-conserving — a
 * task never gets more than it demands, and what one leaves is split among the others by
 * weight). This is the fluid, steady-state form of the slicing: at the trace's time scale
 * (seconds to days) a device's slices (milliseconds) average out to these shares.
 */
final class DeviceTime {
  /** Every trace task has the agent's default weight (Scheduler.DEFAULT_WEIGHT): the trace has none. */
  static final long WEIGHT = 100;

  private final List<List<SimTask>> running;

  DeviceTime(int devices) {
    running = new ArrayList<>(devices);
    for (int d = 0; d < devices; d++) running.add(new ArrayList<>(2));
  }

  void add(SimTask task) {
    for (int d : task.devices) running.get(d).add(task);
  }

  void remove(SimTask task) {
    for (int d : task.devices) running.get(d).remove(task);
  }

  List<SimTask> on(int device) {
    return running.get(device);
  }

  /** Sets every task on the device to its share of the device's time now. */
  void reshare(int device) {
    List<SimTask> tasks = running.get(device);
    if (tasks.isEmpty()) return;
    Map<SimTask, Long> weights = new LinkedHashMap<>();
    Map<SimTask, Double> demands = new LinkedHashMap<>();
    for (SimTask t : tasks) {
      weights.put(t, WEIGHT);
      demands.put(t, t.demand);
    }
    Map<SimTask, Double> shares = SlicePolicy.shares(weights, demands);
    for (SimTask t : tasks) t.shares[t.slot(device)] = shares.get(t);
  }
}
