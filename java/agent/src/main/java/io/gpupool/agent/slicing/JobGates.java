package io.gpupool.agent.slicing;

import io.gpupool.region.RegionGates;
import io.gpupool.region.RegionGates.Gate;
import io.gpupool.region.RegionGates.ProcessSlot;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The scheduler's view of one running job's gates: its region opened once (and again when it
 * is replaced), slot and liveness reads cached for a few milliseconds unless a fresh read is
 * asked for, and the per-process counters turned into deltas.
 *
 * <p>Device time and the other counters are tracked per (slot, pid, start time, device): a
 * process that exits leaves its last counted value behind, and a new process in a reused slot
 * starts from zero (it clears its gates when it takes the slot), so nothing is lost or counted
 * twice. The processes of a job adopted after an agent restart are taken as they are at the
 * first read (their past is not charged again). Confined to the scheduler thread.
 */
final class JobGates implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(JobGates.class.getName());
  private static final long SLOTS_MAX_AGE_NS = 2_000_000L;
  private static final long LIVENESS_MAX_AGE_NS = 5_000_000L;
  private static final long REOPEN_PERIOD_NS = 100_000_000L;

  private record Process(int slot, int pid, long startTime) {}

  private record Counter(Process process, int device) {}

  private SlicedJob job;
  private final Liveness liveness;
  private final long graceNanos;
  private final long joinedNs;
  private final boolean takeAsIs;
  private RegionGates gates;
  private long nextOpenNs;
  private long nextCurrentCheckNs;
  private String lastProblem;
  private List<ProcessSlot> slots = List.of();
  private long slotsReadNs;
  private boolean slotsValid;
  private final Map<Process, long[]> alive = new HashMap<>(); // {alive 0/1, checked at}
  private final Map<Counter, long[]> counters = new HashMap<>(); // {device, wait, out, in, read at}
  private final Set<Integer> baselined = new HashSet<>();

  /**
   * @param takeAsIs the job ran before the scheduler started (adopted by a restarted agent):
   *     what its processes show at the first read is their past, not charged
   */
  JobGates(SlicedJob job, Liveness liveness, long graceNanos, long nowNs, boolean takeAsIs) {
    this.takeAsIs = takeAsIs;
    this.job = job;
    this.liveness = liveness;
    this.graceNanos = graceNanos;
    this.joinedNs = nowNs;
    this.nextOpenNs = nowNs;
  }

  SlicedJob job() {
    return job;
  }

  void update(SlicedJob newer) {
    job = newer;
  }

  /**
   * Reads the job's gates on {@code device}; {@code fresh}: no cached slots or liveness;
   * {@code memory}: also its resident memory (a read more per process; only oversubscribed
   * devices need it).
   */
  DeviceSample sample(int device, long nowNs, boolean fresh, boolean memory) {
    if (!refreshSlots(nowNs, fresh)) return gates == null && lastProblem == null ? DeviceSample.NOTHING
        : DeviceSample.UNREADABLE;
    boolean first = baselined.add(device) && takeAsIs;
    boolean pending = false;
    long inFlight = 0;
    int live = 0;
    long deviceNs = 0;
    long waitNs = 0;
    long swapped = 0;
    long resident = 0;
    long out = 0;
    long evicted = Long.MAX_VALUE;
    Set<Counter> seen = new HashSet<>();
    try {
      for (ProcessSlot s : slots) {
        Process p = new Process(s.slot(), s.pid(), s.startTime());
        Gate g = gates.gate(s.slot(), device);
        Counter key = new Counter(p, device);
        seen.add(key);
        long[] last = counters.get(key);
        if (last == null) {
          last = first ? new long[] {g.deviceNs(), g.waitNs(), g.swappedOutBytes(), g.swappedInBytes(), nowNs}
              : new long[] {0, 0, 0, 0, joinedNs};
          counters.put(key, last);
        }
        long elapsed = nowNs - last[4];
        deviceNs += CounterDelta.time(last[0], g.deviceNs(), elapsed);
        waitNs += CounterDelta.time(last[1], g.waitNs(), elapsed);
        swapped += CounterDelta.bytes(last[2], g.swappedOutBytes()) + CounterDelta.bytes(last[3], g.swappedInBytes());
        last[0] = g.deviceNs();
        last[1] = g.waitNs();
        last[2] = g.swappedOutBytes();
        last[3] = g.swappedInBytes();
        last[4] = nowNs;
        if (!alive(p, nowNs, fresh)) continue; // its counters count; its gate no longer holds anything
        live++;
        inFlight += g.inFlight();
        long sinceSubmit = nowNs - g.lastSubmitNs();
        if (g.waiting() > 0 || g.inFlight() > 0 || (g.lastSubmitNs() != 0 && sinceSubmit >= 0 && sinceSubmit <= graceNanos)) {
          pending = true;
        }
        if (memory) {
          resident = saturatingAdd(resident, residentEstimate(g, gates.usedBytes(s.slot(), device)));
          out = saturatingAdd(out, outBytes(g));
        }
        evicted = Math.min(evicted, g.evictedSeq());
      }
    } catch (IOException e) {
      broken(e, nowNs);
      return DeviceSample.UNREADABLE;
    }
    counters.keySet().removeIf(c -> c.device() == device && !seen.contains(c));
    return new DeviceSample(true, pending, inFlight, live, deviceNs, waitNs, swapped, resident, evicted, out);
  }

  /**
   * A process's memory on the device that is resident now. The shim's resident_bytes counts only
   * the memory it can swap; what the quota charged the process, less what is swapped out now,
   * also counts what it cannot (arrays, managed and pool memory, its own cuMemCreate). The larger
   * of the two, as the counters come from another process and may be nonsense.
   *
   * @param usedBytes the slot's quota charge on the device ({@link RegionGates#usedBytes})
   */
  static long residentEstimate(RegionGates.Gate g, long usedBytes) {
    long swappable = Math.max(0, g.residentBytes());
    long out = Math.max(0, g.swappedOutBytes() - g.swappedInBytes());
    long charged = Math.max(0, usedBytes - out);
    return Math.max(swappable, charged);
  }

  /**
   * A process's memory on the device that is swapped out now (its shim raises swapped_in_bytes
   * when a swap-in is done). The counters are unsigned and come from another process: in at or
   * above out counts as 0. Memory freed while swapped out keeps counting, as the counters cannot
   * tell.
   */
  static long outBytes(RegionGates.Gate g) {
    long out = g.swappedOutBytes();
    long in = g.swappedInBytes();
    if (Long.compareUnsigned(in, out) >= 0) return 0;
    long difference = out - in;
    return difference < 0 ? Long.MAX_VALUE : difference;
  }

  private boolean refreshSlots(long nowNs, boolean fresh) {
    if (gates != null && nowNs - nextCurrentCheckNs >= 0) {
      nextCurrentCheckNs = nowNs + REOPEN_PERIOD_NS;
      if (!gates.isCurrent()) {
        close(); // replaced by a new region of the same name (the job's processes retired it)
        nextOpenNs = nowNs;
      }
    }
    if (gates == null) {
      if (nowNs - nextOpenNs < 0) return false;
      nextOpenNs = nowNs + REOPEN_PERIOD_NS;
      try {
        gates = RegionGates.open(job.region(), job.uid(), job.key());
        nextCurrentCheckNs = nowNs + REOPEN_PERIOD_NS;
        lastProblem = null;
        slotsValid = false;
      } catch (NoSuchFileException e) {
        lastProblem = null; // no process of the job has used CUDA yet
        return false;
      } catch (IOException e) {
        if (!e.getMessage().equals(lastProblem)) LOG.warning("time slicing: job " + job.key() + ": " + e.getMessage());
        lastProblem = e.getMessage();
        return false;
      }
    }
    if (fresh || !slotsValid || nowNs - slotsReadNs > SLOTS_MAX_AGE_NS) {
      try {
        slots = gates.liveSlots();
        slotsReadNs = nowNs;
        slotsValid = true;
      } catch (IOException e) {
        broken(e, nowNs);
        return false;
      }
    }
    return true;
  }

  private boolean alive(Process p, long nowNs, boolean fresh) {
    long[] cached = alive.get(p);
    if (cached == null || fresh || nowNs - cached[1] > LIVENESS_MAX_AGE_NS) {
      boolean isAlive = liveness.alive(p.pid(), p.startTime());
      cached = new long[] {isAlive ? 1 : 0, nowNs};
      alive.put(p, cached);
      if (alive.size() > 4 * slots.size() + 16) alive.keySet().removeIf(q -> !slots.contains(new ProcessSlot(q.slot(), q.pid(), q.startTime())));
    }
    return cached[0] == 1;
  }

  private void broken(IOException e, long nowNs) {
    if (!String.valueOf(e.getMessage()).equals(lastProblem)) {
      LOG.warning("time slicing: job " + job.key() + ": " + e.getMessage());
    }
    lastProblem = String.valueOf(e.getMessage());
    close();
    nextOpenNs = nowNs + REOPEN_PERIOD_NS;
  }

  private static long saturatingAdd(long a, long b) {
    long sum = a + b;
    return sum < 0 ? Long.MAX_VALUE : sum;
  }

  @Override
  public void close() {
    if (gates != null) gates.close();
    gates = null;
    slotsValid = false;
  }
}
