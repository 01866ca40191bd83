package io.gpupool.agent.slicing;

import io.gpupool.region.NodeTable;
import io.gpupool.region.binding.GpupoolLayout;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The time-slice state machine of one physical device, driven by {@link #tick} on the scheduler
 * thread. It writes slices[d] of the node table as node_table.h ("Time slices") says.
 *
 * <p>At most one job on the device (or slicing off): the grant is OPEN, no gate. Two or more:
 * gated. A hand-over stores NOBODY (sequence + 1), waits until no live process of the old
 * holder has work in flight (or the drain timeout passes: logged, and the device is handed over
 * anyway), then grants the job {@link SlicePolicy} picks. A slice ends at its quantum, or early
 * when its holder has nothing pending while another job waits; nobody waiting, the holder
 * keeps it. On an oversubscribed device, before a job's slice, the least recently run other jobs
 * are asked to swap out (slices[d].evict) until the job's limit fits beside what stays resident.
 * There, a holder granted with memory swapped out brings it back under its slice, and its
 * quantum starts only once that swap-in is done, or at the latest the eviction timeout after the
 * grant ({@link SliceClock}): the swap-in is not taken out of the time it has for work.
 *
 * <p>slices[d].depth is {@link SliceConfig#UNCONTENDED_DEPTH} while the holder is the only job
 * with pending work, and {@link SliceConfig#CONTENDED_DEPTH} otherwise: a job beside idle
 * neighbours keeps a queue ahead of the device, and the work it has queued when a neighbour
 * starts waiting is bounded by the shim's budget.
 */
final class DeviceSlicer {
  private static final Logger LOG = Logger.getLogger(DeviceSlicer.class.getName());

  private enum Phase { OPEN, IDLE, HOLDING, DRAINING, EVICTING }

  private static final class Stats {
    long deviceNanos;
    long waitNanos;
    long slices;
    long swappedBytes;
  }

  private final int device;
  private final long totalBytes;
  private final NodeTable table;
  private final SliceConfig config;
  private final boolean oversubscribed;
  private final SlicePolicy policy;
  private final Map<Long, JobGates> jobs = new LinkedHashMap<>();
  private final Map<Long, Stats> stats = new HashMap<>();
  private final Map<Long, DeviceSample> samples = new HashMap<>();
  private final Map<Long, Long> lastRunNs = new HashMap<>();
  private final Set<Long> evictedSinceRun = new HashSet<>();
  private final ShareWindow window = new ShareWindow();
  private long sequence;
  private Phase phase;
  private long holder = -1;
  private final SliceClock clock;
  private long deadlineNs;
  private Set<Long> draining = Set.of();
  private long victim = -1;
  /** The job the policy chose when the current hand-over began, if any: it gets the device next. */
  private long chosen = -1;
  private long evictSequence;
  private final int flags;
  private int depth;

  DeviceSlicer(int device, long totalBytes, NodeTable table, SliceConfig config) {
    this.device = device;
    this.totalBytes = totalBytes;
    this.table = table;
    this.config = config;
    this.oversubscribed = config.enabled() && config.oversubscribed().contains(device);
    this.policy = new SlicePolicy(config.quantumNanos());
    this.clock = new SliceClock(device, config.evictTimeoutNanos());
    this.sequence = SliceGrant.sequence(table.grant(device)); // continues across agent restarts
    this.flags = oversubscribed ? GpupoolLayout.GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED : 0;
    this.depth = SliceConfig.CONTENDED_DEPTH;
    table.setSliceConfig(device, config.quantumNanos(), flags, depth);
    table.storeEvict(device, 0);
    open();
  }

  int device() {
    return device;
  }

  /** The jobs granted this device now (the scheduler's current job set). */
  void setJobs(Collection<JobGates> onDevice) {
    Set<Long> ids = new HashSet<>();
    for (JobGates g : onDevice) {
      long id = g.job().jobId();
      ids.add(id);
      jobs.put(id, g);
      if (policy.isJoined(id)) policy.setWeight(id, g.job().weight());
      else policy.join(id, g.job().weight());
      stats.computeIfAbsent(id, k -> new Stats());
    }
    for (long id : new ArrayList<>(jobs.keySet())) {
      if (ids.contains(id)) continue;
      jobs.remove(id);
      policy.leave(id);
      stats.remove(id);
      samples.remove(id);
      lastRunNs.remove(id);
      evictedSinceRun.remove(id);
    }
  }

  /** One step; returns how soon it wants the next one (ns). */
  long tick(long nowNs) {
    sampleAll(nowNs);
    if (!config.enabled() || jobs.size() <= 1) {
      if (phase != Phase.OPEN) open();
      return config.slowPollNanos();
    }
    if (phase == Phase.OPEN) beginHandOver(Set.copyOf(jobs.keySet()), nowNs); // everyone may have work in flight
    if (phase == Phase.HOLDING) holding(nowNs);
    if (phase == Phase.DRAINING) draining(nowNs);
    if (phase == Phase.EVICTING) evicting(nowNs);
    if (phase == Phase.IDLE) idle(nowNs);
    boolean waiting = false;
    for (Map.Entry<Long, DeviceSample> e : samples.entrySet()) {
      if (e.getKey() != holder && e.getValue().pending()) waiting = true;
    }
    setDepth(phase == Phase.HOLDING && !waiting ? SliceConfig.UNCONTENDED_DEPTH : SliceConfig.CONTENDED_DEPTH);
    return phase == Phase.DRAINING || phase == Phase.EVICTING || waiting ? config.fastPollNanos()
        : config.slowPollNanos();
  }

  private void holding(long nowNs) {
    if (!jobs.containsKey(holder)) { // the holder ended: nothing of it is left to wait for
      beginHandOver(Set.of(), nowNs);
      return;
    }
    boolean holderPending = samples.get(holder).pending();
    boolean othersPending = !pending(holder).isEmpty();
    long elapsed = clock.elapsed(nowNs, samples.get(holder));
    if (!policy.shouldPreempt(holder, elapsed, holderPending, othersPending)) return;
    OptionalLong next = policy.next(holderPending ? pending(-1) : pending(holder));
    if (next.isPresent() && next.getAsLong() == holder) { // its turn again: a new slice, no hand-over
      startSlice(holder, nowNs);
      return;
    }
    beginHandOver(Set.of(holder), nowNs);
    chosen = next.orElse(-1);
  }

  private void draining(long nowNs) {
    boolean drained = true;
    for (long id : draining) {
      if (!jobs.containsKey(id)) continue;
      // Fresh slots and liveness: a process that took its slot just before NOBODY counts.
      DeviceSample s = jobs.get(id).sample(device, nowNs, true, oversubscribed);
      account(id, s);
      if (!s.drained()) drained = false;
    }
    if (drained) {
      phase = Phase.IDLE;
    } else if (nowNs - deadlineNs >= 0) {
      LOG.warning("time slicing: device " + device + ": job(s) " + draining + " still had work in flight "
          + config.drainTimeoutNanos() / 1_000_000 + " ms after their slice ended (or their region is unreadable);"
          + " handing the device over anyway");
      phase = Phase.IDLE;
    }
  }

  private void idle(long nowNs) {
    long job = chosen;
    chosen = -1;
    if (job < 0 || !jobs.containsKey(job) || !samples.get(job).pending()) {
      OptionalLong next = policy.next(pending(-1));
      if (next.isEmpty()) return;
      job = next.getAsLong();
    }
    if (oversubscribed && makeRoom(job, nowNs)) return;
    startSlice(job, nowNs);
  }

  /** Starts an eviction if {@code job}'s limit does not fit beside the others' resident memory. */
  private boolean makeRoom(long job, long nowNs) {
    long limit = jobs.get(job).job().limitOn(device);
    long candidate = EvictionChoice.victim(job, limit, totalBytes, samples, lastRunNs, evictedSinceRun);
    if (candidate < 0) return false;
    victim = candidate;
    chosen = job;
    evictSequence = ++sequence;
    table.storeEvict(device, SliceGrant.of(evictSequence, SliceGrant.holderOfEntry(jobs.get(victim).job().entry())));
    deadlineNs = nowNs + config.evictTimeoutNanos();
    phase = Phase.EVICTING;
    return true;
  }

  private void evicting(long nowNs) {
    boolean done = true;
    if (jobs.containsKey(victim)) {
      DeviceSample s = jobs.get(victim).sample(device, nowNs, true, oversubscribed);
      account(victim, s);
      done = s.readable() && (s.liveProcesses() == 0 || s.evictedSeq() >= evictSequence);
    }
    if (!done && nowNs - deadlineNs < 0) return;
    if (!done) {
      LOG.warning("time slicing: device " + device + ": job " + victim + " did not swap out within "
          + config.evictTimeoutNanos() / 1_000_000 + " ms; going on");
    }
    evictedSinceRun.add(victim);
    table.storeEvict(device, 0);
    victim = -1;
    phase = Phase.IDLE;
  }

  private void startSlice(long job, long nowNs) {
    boolean again = phase == Phase.HOLDING && holder == job; // nothing was evicted in between
    if (!again) {
      table.storeGrant(device, SliceGrant.of(++sequence, SliceGrant.holderOfEntry(jobs.get(job).job().entry())));
    }
    clock.grant(job, nowNs, !again && oversubscribed && samples.get(job).outBytes() > 0);
    phase = Phase.HOLDING;
    holder = job;
    lastRunNs.put(job, nowNs);
    evictedSinceRun.remove(job);
    stats.get(job).slices++;
  }

  private void beginHandOver(Set<Long> from, long nowNs) {
    table.storeGrant(device, SliceGrant.of(++sequence, SliceGrant.NOBODY));
    phase = Phase.DRAINING;
    holder = -1;
    draining = from;
    deadlineNs = nowNs + config.drainTimeoutNanos();
  }

  private void open() {
    chosen = -1;
    table.storeGrant(device, SliceGrant.of(++sequence, SliceGrant.OPEN));
    if (victim >= 0) table.storeEvict(device, 0);
    victim = -1;
    phase = Phase.OPEN;
    holder = -1;
  }

  private void setDepth(int next) {
    if (next == depth) return;
    table.setSliceConfig(device, config.quantumNanos(), flags, next);
    depth = next;
  }

  private void sampleAll(long nowNs) {
    samples.clear();
    for (Map.Entry<Long, JobGates> e : jobs.entrySet()) {
      DeviceSample s = e.getValue().sample(device, nowNs, false, oversubscribed);
      samples.put(e.getKey(), s);
      account(e.getKey(), s);
    }
    Map<Long, Long> cumulative = new HashMap<>();
    stats.forEach((id, st) -> cumulative.put(id, st.deviceNanos));
    window.record(nowNs, cumulative);
  }

  private void account(long job, DeviceSample s) {
    Stats st = stats.get(job);
    if (st == null) return;
    st.deviceNanos += s.deviceNanos();
    st.waitNanos += s.waitNanos();
    st.swappedBytes += s.swappedBytes();
    policy.charge(job, s.deviceNanos());
  }

  /** Jobs with pending work, but {@code except}. */
  private Set<Long> pending(long except) {
    Set<Long> pending = new HashSet<>();
    samples.forEach((id, s) -> {
      if (id != except && s.pending()) pending.add(id);
    });
    return pending;
  }

  SliceStatus.Device status() {
    Map<Long, Long> cumulative = new HashMap<>();
    stats.forEach((id, st) -> cumulative.put(id, st.deviceNanos));
    Map<Long, Long> used = window.used(cumulative);
    long total = used.values().stream().mapToLong(Long::longValue).sum();
    Map<Long, Long> weights = new LinkedHashMap<>();
    Map<Long, Double> demands = new HashMap<>();
    for (Map.Entry<Long, JobGates> e : jobs.entrySet()) {
      long id = e.getKey();
      weights.put(id, e.getValue().job().weight());
      DeviceSample s = samples.get(id);
      demands.put(id, used.getOrDefault(id, 0L) > 0 || (s != null && s.pending()) ? 1.0 : 0.0);
    }
    Map<Long, Double> targets = SlicePolicy.shares(weights, demands);
    List<SliceStatus.Job> out = new ArrayList<>();
    for (long id : jobs.keySet()) {
      Stats st = stats.get(id);
      out.add(new SliceStatus.Job(id, weights.get(id), total == 0 ? 0 : (double) used.get(id) / total,
          targets.get(id), st.deviceNanos, st.waitNanos, st.slices, st.swappedBytes));
    }
    String mode = !config.enabled() ? "off" : phase == Phase.OPEN ? "open" : "gated";
    return new SliceStatus.Device(device, mode, phase == Phase.HOLDING ? holder : 0, oversubscribed, List.copyOf(out));
  }

  /** Opens the gate for good (the agent is stopping: jobs go on without it). */
  void release() {
    open();
  }
}
