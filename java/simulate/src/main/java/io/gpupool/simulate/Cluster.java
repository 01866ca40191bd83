package io.gpupool.simulate;

import io.gpupool.agent.Placement;
import io.gpupool.agent.Placement.DeviceLoad;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The simulated nodes and what is granted on each of their GPUs; where a task goes.
 *
 * <p>Within a node the agent's own {@link Placement} decides (the fit rule, best fit, whole
 * devices for a request of 0). Across nodes, which the agent does not do (a cluster is served by
 * Kubernetes, DESIGN.md), the same best-fit idea picks the node: the one where the GPUs
 * Placement chose keep the least free capacity beside the task; among those, the node left
 * fullest (as the "MostAllocated" scoring of the Kubernetes scheduler), so that empty nodes stay
 * empty for multi-GPU tasks; then the node listed first. A node whose model is not in the task's
 * gpu_spec is not considered.
 *
 * <p>Capacity is counted in thousandths of a device ({@link #DEVICE_UNITS}), gpu_milli's unit,
 * because the trace gives each task's share of a GPU, not bytes: a quota of 460 is 46% of the
 * memory of whichever GPU it lands on. Not thread-safe: owned by one {@link Simulator}.
 */
final class Cluster {
  static final long DEVICE_UNITS = 1000;

  private final List<ClusterNode> nodes;
  private final int[] firstDevice; // per node: its first device's global index
  private final long[] granted; // per device, in DEVICE_UNITS
  private final String[] deviceModel;

  Cluster(List<ClusterNode> nodes) {
    this.nodes = List.copyOf(nodes);
    firstDevice = new int[nodes.size()];
    int devices = 0;
    for (int n = 0; n < nodes.size(); n++) {
      firstDevice[n] = devices;
      devices += nodes.get(n).gpus();
    }
    granted = new long[devices];
    deviceModel = new String[devices];
    for (int n = 0; n < nodes.size(); n++) {
      for (int i = 0; i < nodes.get(n).gpus(); i++) deviceModel[firstDevice[n] + i] = nodes.get(n).model();
    }
  }

  int deviceCount() {
    return granted.length;
  }

  long granted(int device) {
    return granted[device];
  }

  /** The device's node's GPU model. */
  String model(int device) {
    return deviceModel[device];
  }

  /**
   * The devices (global indices, one node) the task would get now, or null if no node can take
   * it. {@code requestPerGpu}: thousandths of each device; 0 for whole devices.
   */
  int[] place(int gpus, long requestPerGpu, Set<String> models) {
    int[] best = null;
    long bestLeft = Long.MAX_VALUE;
    long bestNodeLeft = Long.MAX_VALUE;
    for (int n = 0; n < nodes.size(); n++) {
      ClusterNode node = nodes.get(n);
      if (node.gpus() < gpus || !models.isEmpty() && !models.contains(node.model())) continue;
      List<DeviceLoad> loads = loads(n);
      Optional<List<Integer>> chosen = Placement.place(loads, gpus, requestPerGpu);
      if (chosen.isEmpty()) continue;
      long left = 0;
      long nodeLeft = 0;
      for (DeviceLoad d : loads) nodeLeft += d.totalBytes() - d.grantedBytes();
      for (int ordinal : chosen.get()) {
        DeviceLoad d = loads.get(ordinal);
        long quota = Placement.quotaOn(d, requestPerGpu);
        left += d.totalBytes() - d.grantedBytes() - quota;
        nodeLeft -= quota;
      }
      if (nodeLeft < bestNodeLeft || nodeLeft == bestNodeLeft && left < bestLeft) {
        bestLeft = left;
        bestNodeLeft = nodeLeft;
        best = new int[gpus];
        for (int i = 0; i < gpus; i++) best[i] = firstDevice[n] + chosen.get().get(i);
        if (nodeLeft == 0) break; // fills the node exactly: nothing can be better
      }
    }
    return best;
  }

  /** Whether some node could take the task if nothing were granted (else it is refused). */
  boolean everFits(int gpus, long requestPerGpu, Set<String> models) {
    for (int n = 0; n < nodes.size(); n++) {
      ClusterNode node = nodes.get(n);
      if (!models.isEmpty() && !models.contains(node.model())) continue;
      if (Placement.everFits(loads(n), gpus, requestPerGpu)) return true;
    }
    return false;
  }

  /** The quota a request gets on a device: the request, or the whole device for 0. */
  static long quota(long requestPerGpu) {
    return requestPerGpu == 0 ? DEVICE_UNITS : requestPerGpu;
  }

  void grant(int[] devices, long quota) {
    for (int d : devices) granted[d] += quota;
  }

  void release(int[] devices, long quota) {
    for (int d : devices) granted[d] -= quota;
  }

  private List<DeviceLoad> loads(int node) {
    int count = nodes.get(node).gpus();
    List<DeviceLoad> loads = new ArrayList<>(count);
    for (int i = 0; i < count; i++) loads.add(new DeviceLoad(i, DEVICE_UNITS, granted[firstDevice[node] + i]));
    return loads;
  }
}
