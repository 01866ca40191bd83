package io.gpupool.agent.slicing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.region.DeviceRecord;
import io.gpupool.region.NodeTable;
import io.gpupool.region.binding.GpupoolLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler against a real node table and job regions that the test writes as jobs would,
 * on a fake clock with fake process liveness: deterministic.
 */
class SliceSchedulerTest {
  private static final long MS = 1_000_000L;
  private static final long GIB = 1L << 30;
  private static final long QUANTUM = 50 * MS;

  @TempDir Path dir;
  private NodeTable table;
  private Path tablePath;
  private final Set<Integer> dead = new HashSet<>();
  private final List<FakeJobRegion> regions = new ArrayList<>();
  private long now = 1_000_000_000_000L;
  private SliceScheduler scheduler;

  @BeforeEach
  void table() throws IOException {
    tablePath = NodeTable.defaultPath("slicer-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    table = NodeTable.openOrCreate(tablePath, List.of(new DeviceRecord(16 * GIB, null, "sim 0"),
        new DeviceRecord(16 * GIB, null, "sim 1")));
  }

  @AfterEach
  void cleanUp() throws IOException {
    if (scheduler != null) scheduler.close();
    for (FakeJobRegion r : regions) r.close();
    table.close();
    Files.deleteIfExists(tablePath);
  }

  private SliceScheduler scheduler(SliceConfig config) {
    scheduler = new SliceScheduler(table, config, (pid, start) -> !dead.contains(pid), () -> now);
    return scheduler;
  }

  private FakeJobRegion region(String key) throws IOException {
    FakeJobRegion r = new FakeJobRegion(dir, key);
    regions.add(r);
    return r;
  }

  private int holder(int device) {
    return SliceGrant.holder(table.grant(device));
  }

  /** Steps the scheduler every {@code stepNs} for {@code forNs}, running {@code job} behaviour each step. */
  private void run(long forNs, long stepNs, Runnable behaviour) {
    for (long t = 0; t < forNs; t += stepNs) {
      behaviour.run();
      scheduler.step(now);
      now += stepNs;
    }
  }

  @Test
  void aLoneJobRunsOpenAndASecondOneClosesTheGate() throws IOException {
    scheduler(SliceConfig.of(true, QUANTUM, Set.of()));
    assertEquals(SliceGrant.OPEN, holder(0));
    assertEquals(1, table.sliceDepth(0));
    FakeJobRegion a = region("a").process(0, 100, 1);
    FakeJobRegion b = region("b").process(0, 200, 1);
    SlicedJob ja = a.job(1, 0, 1, new int[] {0}, new long[] {GIB});
    scheduler.setJobs(List.of(ja));
    scheduler.step(now);
    assertEquals(SliceGrant.OPEN, holder(0));
    a.gate(0, 0).in_flight(1); // A has work in flight while the gate is open
    scheduler.setJobs(List.of(ja, b.job(2, 1, 1, new int[] {0}, new long[] {GIB})));
    b.gate(0, 0).waiting(1);
    scheduler.step(now += MS);
    assertEquals(SliceGrant.NOBODY, holder(0), "closing the gate drains what ran while it was open");
    a.gate(0, 0).in_flight(0);
    scheduler.step(now += MS);
    assertEquals(2, holder(0), "B waits, A has nothing pending: B (entry 1) gets the slice");
    assertEquals(SliceGrant.OPEN, holder(1), "device 1 has no jobs");
    scheduler.setJobs(List.of(ja));
    scheduler.step(now += MS);
    assertEquals(SliceGrant.OPEN, holder(0), "one job left: open again");
  }

  @Test
  void theHolderMayQueueAheadOnlyWhileNobodyElseWaits() throws IOException {
    FakeJobRegion[] jobs = aHoldsDevice0();
    FakeJobRegion a = jobs[0], b = jobs[1];
    a.gate(0, 0).waiting(0).in_flight(5).last_submit_ns(now);
    scheduler.step(now += MS);
    assertEquals(SliceConfig.UNCONTENDED_DEPTH, table.sliceDepth(0), "A alone has work: it may queue ahead");
    b.gate(0, 0).waiting(1);
    scheduler.step(now += MS);
    assertEquals(1, holder(0), "A keeps its slice until the quantum ends");
    assertEquals(SliceConfig.CONTENDED_DEPTH, table.sliceDepth(0), "B waits: A keeps one operation in flight");
    b.gate(0, 0).waiting(0); // B gave up (its thread was interrupted) and has nothing in flight
    a.gate(0, 0).last_submit_ns(now);
    scheduler.step(now += 5 * MS);
    assertEquals(SliceConfig.UNCONTENDED_DEPTH, table.sliceDepth(0), "nobody waits any more");
    b.gate(0, 0).waiting(1);
    a.gate(0, 0).in_flight(0).last_submit_ns(now - QUANTUM); // A is idle: B gets the device
    scheduler.step(now += MS);
    scheduler.step(now += MS);
    assertEquals(2, holder(0));
    assertEquals(SliceConfig.UNCONTENDED_DEPTH, table.sliceDepth(0), "B alone has work");
  }

  @Test
  void makingRoomCountsMemoryTheShimCannotSwap() throws IOException {
    scheduler(SliceConfig.of(true, QUANTUM, Set.of(0)));
    // 16 GiB GPU. A holds 6 GiB the shim cannot swap (arrays, say): its resident_bytes stays 0,
    // its quota charge says 6 GiB. C holds 6 GiB of swappable memory. B needs room for 8 GiB.
    FakeJobRegion a = region("a").process(0, 100, 1).used(0, 0, 6 * GIB);
    FakeJobRegion b = region("b").process(0, 200, 1);
    FakeJobRegion c = region("c").process(0, 300, 1).used(0, 0, 6 * GIB);
    c.gate(0, 0).resident_bytes(6 * GIB);
    scheduler.setJobs(List.of(a.job(1, 0, 1, new int[] {0}, new long[] {8 * GIB}),
        b.job(2, 1, 1, new int[] {0}, new long[] {8 * GIB}), c.job(3, 2, 1, new int[] {0}, new long[] {8 * GIB})));
    c.gate(0, 0).waiting(1);
    scheduler.step(now);
    scheduler.step(now += MS);
    assertEquals(3, holder(0), "C alone waits: A's 6 GiB leave room for its 8");
    c.gate(0, 0).waiting(0).in_flight(1).last_submit_ns(now);
    b.gate(0, 0).waiting(1);
    scheduler.step(now += QUANTUM);
    c.gate(0, 0).in_flight(0).last_submit_ns(now - QUANTUM);
    Set<Integer> askedToSwap = new HashSet<>();
    for (int i = 0; i < 20 && holder(0) != 2; i++) {
      scheduler.step(now += MS);
      int victim = SliceGrant.holder(table.evict(0));
      if (victim == 0) continue;
      askedToSwap.add(victim);
      long seq = SliceGrant.sequence(table.evict(0));
      if (victim == 1) a.gate(0, 0).evicted_seq(seq); // nothing it can swap: it answers, memory stays
      if (victim == 3) c.gate(0, 0).evicted_seq(seq).resident_bytes(0).swapped_out_bytes(6 * GIB);
    }
    assertEquals(2, holder(0), "B runs once there is room");
    assertTrue(askedToSwap.contains(3), "6 + 6 GiB resident leave no room for 8: C is swapped out, asked " + askedToSwap);
    assertEquals(6 * GIB, JobGates.residentEstimate(new io.gpupool.region.RegionGates.Gate(0, 0, 0, 0, 0, 0, 0, 0, 0),
        6 * GIB), "charged and not swapped out: resident");
    assertEquals(GIB, JobGates.residentEstimate(new io.gpupool.region.RegionGates.Gate(0, 0, 0, 0, 0, 0, GIB,
        8 * GIB, 2 * GIB), 4 * GIB), "swapped out more than it holds now (freed while out): the shim's own count");
  }

  @Test
  void aHandOverWaitsForTheHoldersWorkInFlight() throws IOException {
    scheduler(SliceConfig.of(true, QUANTUM, Set.of()));
    FakeJobRegion a = region("a").process(3, 100, 1);
    FakeJobRegion b = region("b").process(0, 200, 1);
    twoJobsOnDevice0(a, b);
    a.gate(3, 0).in_flight(1);
    scheduler.step(now);
    scheduler.step(now += MS);
    a.gate(3, 0).in_flight(0).waiting(1);
    scheduler.step(now += MS);
    assertEquals(1, holder(0));
    a.gate(3, 0).waiting(0).in_flight(1).last_submit_ns(now).device_ns(QUANTUM);
    b.gate(0, 0).waiting(1);
    scheduler.step(now += QUANTUM);
    assertEquals(SliceGrant.NOBODY, holder(0), "quantum over, B waits: hand-over begins");
    long seq = SliceGrant.sequence(table.grant(0));
    for (int i = 0; i < 10; i++) scheduler.step(now += MS);
    assertEquals(SliceGrant.NOBODY, holder(0), "A's kernel is still in flight");
    a.gate(3, 0).in_flight(0);
    scheduler.step(now += MS);
    assertEquals(2, holder(0));
    assertEquals(seq + 1, SliceGrant.sequence(table.grant(0)));
  }

  @Test
  void aHolderKilledMidSliceReleasesTheDeviceAtOnce() throws IOException {
    scheduler(SliceConfig.of(true, QUANTUM, Set.of()));
    FakeJobRegion a = region("a").process(0, 100, 1).process(1, 101, 1);
    FakeJobRegion b = region("b").process(0, 200, 1);
    twoJobsOnDevice0(a, b);
    a.gate(1, 0).in_flight(1).last_submit_ns(now);
    scheduler.step(now);
    a.gate(1, 0).waiting(1).in_flight(0);
    scheduler.step(now += MS);
    assertEquals(1, holder(0));
    a.gate(1, 0).waiting(0).in_flight(1).last_submit_ns(now);
    b.gate(0, 0).waiting(1);
    dead.add(100);
    dead.add(101); // SIGKILL: its slots stay LIVE, in_flight stays 1
    scheduler.step(now += 6 * MS); // liveness is cached for up to 5 ms
    scheduler.step(now += 1);
    assertEquals(2, holder(0), "well within the quantum, and without waiting for the drain timeout");
  }

  @Test
  void aHolderWithNothingPendingYieldsToAWaiterButKeepsTheDeviceWhenNobodyWaits() throws IOException {
    FakeJobRegion[] jobs = aHoldsDevice0();
    FakeJobRegion a = jobs[0], b = jobs[1];
    a.gate(0, 0).waiting(0).last_submit_ns(now);
    for (int i = 0; i < 200; i++) scheduler.step(now += MS); // 4 quanta, idle, nobody waits
    assertEquals(1, holder(0));
    b.gate(0, 0).waiting(1);
    scheduler.step(now += MS);
    scheduler.step(now += MS);
    assertEquals(2, holder(0));
  }

  @Test
  void aDrainThatNeverEndsTimesOut() throws IOException {
    FakeJobRegion[] jobs = aHoldsDevice0();
    FakeJobRegion a = jobs[0], b = jobs[1];
    a.gate(0, 0).waiting(0).in_flight(0xFFFFFFF0).device_ns(QUANTUM); // nonsense that never drains
    b.gate(0, 0).waiting(1);
    scheduler.step(now += QUANTUM);
    assertEquals(SliceGrant.NOBODY, holder(0));
    scheduler.step(now += 1_999 * MS);
    assertEquals(SliceGrant.NOBODY, holder(0));
    scheduler.step(now += 2 * MS);
    assertEquals(2, holder(0));
  }

  @Test
  void weightsOneToThreeGiveSharesOneToThree() throws IOException {
    shares(1, 3);
    shares(1, 1);
  }

  private void shares(long wa, long wb) throws IOException {
    FakeJobRegion a = region("a" + wa + wb).process(0, 100, 1);
    FakeJobRegion b = region("b" + wa + wb).process(0, 200, 1);
    scheduler(SliceConfig.of(true, QUANTUM, Set.of()));
    scheduler.setJobs(List.of(a.job(1, 0, wa, new int[] {0}, new long[] {GIB}), b.job(2, 1, wb, new int[] {0}, new long[] {GIB})));
    FakeJobRegion[] jobs = {a, b};
    long step = MS / 4;
    // Two device-bound jobs: the holder runs one 1 ms kernel at a time (in flight, then its device
    // time counted); the other waits at its gate.
    run(20_000 * MS, step, () -> {
      int h = holder(0);
      for (int i = 0; i < 2; i++) {
        var gate = jobs[i].gate(0, 0);
        if (h == i + 1) {
          gate.waiting(0).in_flight(1).last_submit_ns(now).device_ns(gate.device_ns() + step);
        } else {
          gate.in_flight(0).waiting(1);
        }
      }
    });
    SliceStatus.Device status = scheduler.status().device(0);
    double total = a.gate(0, 0).device_ns() + b.gate(0, 0).device_ns();
    assertEquals((double) wa / (wa + wb), a.gate(0, 0).device_ns() / total, 0.01);
    assertEquals("gated", status.mode());
    assertEquals((double) wb / (wa + wb), status.jobs().get(1).share(), 0.02);
    assertEquals((double) wb / (wa + wb), status.jobs().get(1).targetShare(), 1e-9);
    // The status is published every 100 ms.
    assertEquals(b.gate(0, 0).device_ns(), status.jobs().get(1).deviceNanos(), 100 * MS + 2 * step);
    assertTrue(status.jobs().get(0).waitNanos() == 0 && status.jobs().get(0).slices() > 50);
    scheduler.close();
    assertEquals(SliceGrant.OPEN, holder(0), "a stopping agent opens the gates");
    scheduler = null;
  }

  /** Jobs 1 ({@code a}) and 2 ({@code b}), 1 GiB each on device 0. */
  /** Jobs A (pid 100) and B (pid 200) on device 0, A granted it after waiting at its gate: {A, B}. */
  private FakeJobRegion[] aHoldsDevice0() throws IOException {
    scheduler(SliceConfig.of(true, QUANTUM, Set.of()));
    FakeJobRegion a = region("a").process(0, 100, 1);
    FakeJobRegion b = region("b").process(0, 200, 1);
    twoJobsOnDevice0(a, b);
    a.gate(0, 0).waiting(1);
    scheduler.step(now);
    scheduler.step(now += MS);
    assertEquals(1, holder(0));
    return new FakeJobRegion[] {a, b};
  }

  private void twoJobsOnDevice0(FakeJobRegion a, FakeJobRegion b) {
    scheduler.setJobs(List.of(a.job(1, 0, 1, new int[] {0}, new long[] {GIB}), b.job(2, 1, 1, new int[] {0}, new long[] {GIB})));
  }
}
