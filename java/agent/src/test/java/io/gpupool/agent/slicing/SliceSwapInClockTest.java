package io.gpupool.agent.slicing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpupool.region.DeviceRecord;
import io.gpupool.region.NodeTable;
import io.gpupool.region.RegionGates;
import io.gpupool.region.binding.gpupool_region_gate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On an oversubscribed device a holder's quantum starts when its swap-in is done, not at the
 * grant ({@link SliceClock}); elsewhere nothing changes. The scheduler against a real node table
 * and job regions the test writes as the jobs' shims would, on a fake clock: deterministic.
 *
 * <p>The scene: a 16 GiB device, jobs A (entry 0) and B (entry 1) with 10 GiB limits each, so
 * one must be swapped out for the other to run. A holds the device with 10 GiB resident; B has
 * 8 GiB swapped out and waits. A's quantum ends, A is evicted, B is granted and starts its
 * swap-in (one operation in flight, nothing completed yet) while A waits.
 */
class SliceSwapInClockTest {
  private static final long MS = 1_000_000L;
  private static final long GIB = 1L << 30;
  private static final long QUANTUM = 50 * MS;
  private static final long EVICT_TIMEOUT = 400 * MS;

  @TempDir Path dir;
  private NodeTable table;
  private Path tablePath;
  private final List<FakeJobRegion> regions = new ArrayList<>();
  private long now = 1_000_000_000_000L;
  private SliceScheduler scheduler;
  private FakeJobRegion a;
  private FakeJobRegion b;

  @BeforeEach
  void table() throws IOException {
    tablePath = NodeTable.defaultPath("swapin-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    table = NodeTable.openOrCreate(tablePath, List.of(new DeviceRecord(16 * GIB, null, "sim 0")));
  }

  @AfterEach
  void cleanUp() throws IOException {
    if (scheduler != null) scheduler.close();
    for (FakeJobRegion r : regions) r.close();
    table.close();
    Files.deleteIfExists(tablePath);
  }

  private int holder() {
    return SliceGrant.holder(table.grant(0));
  }

  private gpupool_region_gate gateA() {
    return a.gate(0, 0);
  }

  private gpupool_region_gate gateB() {
    return b.gate(0, 0);
  }

  /** Steps every millisecond for {@code forNs}. */
  private void steps(long forNs) {
    for (long t = 0; t < forNs; t += MS) scheduler.step(now += MS);
  }

  /** Runs the scene up to B's grant; returns when B holds the device (its swap-in in flight). */
  private void bGranted(boolean oversubscribed) throws IOException {
    SliceConfig defaults = SliceConfig.of(true, QUANTUM, oversubscribed ? Set.of(0) : Set.of());
    scheduler = new SliceScheduler(table, new SliceConfig(true, QUANTUM, defaults.oversubscribed(),
        defaults.drainTimeoutNanos(), EVICT_TIMEOUT, defaults.graceNanos(), defaults.fastPollNanos(),
        defaults.slowPollNanos()), (pid, start) -> true, () -> now);
    a = new FakeJobRegion(dir, "a").process(0, 100, 1).used(0, 0, 10 * GIB);
    regions.add(a);
    b = new FakeJobRegion(dir, "b").process(0, 200, 1).used(0, 0, 8 * GIB);
    regions.add(b);
    gateB().swapped_out_bytes(8 * GIB); // swapped out by an earlier slice of A
    scheduler.setJobs(List.of(a.job(1, 0, 1, new int[] {0}, new long[] {10 * GIB}),
        b.job(2, 1, 1, new int[] {0}, new long[] {10 * GIB})));
    gateA().waiting(1);
    scheduler.step(now);
    steps(MS);
    assertEquals(1, holder(), "A alone waits");
    gateA().waiting(0).in_flight(1).last_submit_ns(now).resident_bytes(10 * GIB);
    gateB().waiting(1);
    steps(QUANTUM);
    gateA().in_flight(0).waiting(1); // A's kernel is done; A wants the device again
    for (int i = 0; i < 20 && holder() != 2; i++) {
      steps(MS);
      if (SliceGrant.holder(table.evict(0)) == 1) {
        gateA().resident_bytes(0).swapped_out_bytes(10 * GIB).evicted_seq(SliceGrant.sequence(table.evict(0)));
      }
    }
    assertEquals(2, holder(), "B gets the device after A's quantum");
    gateB().waiting(0).in_flight(1).last_submit_ns(now); // admitted: its shim swaps its memory in
  }

  @Test
  void theQuantumStartsWhenTheHoldersSwappedOutBytesReachZero() throws IOException {
    bGranted(true);
    steps(3 * QUANTUM); // the swap-in takes three quanta
    assertEquals(2, holder(), "B's swap-in is not its quantum");
    gateB().swapped_in_bytes(8 * GIB).resident_bytes(8 * GIB); // back; its kernel runs now
    steps(QUANTUM - 5 * MS);
    assertEquals(2, holder(), "B's quantum runs from when its memory was back");
    steps(10 * MS);
    assertEquals(SliceGrant.NOBODY, holder(), "a quantum after the swap-in, A waiting: hand-over");
  }

  @Test
  void theQuantumStartsAtTheFirstCompletedWorkWhenFreedMemoryStaysCountedOut() throws IOException {
    bGranted(true);
    steps(2 * QUANTUM);
    // B freed 1 GiB while it was out: the counters show it out for good. Its kernel completes.
    gateB().swapped_in_bytes(7 * GIB).resident_bytes(7 * GIB).device_ns(2 * MS);
    steps(QUANTUM - 5 * MS);
    assertEquals(2, holder(), "B's work shows its swap-in done");
    steps(10 * MS);
    assertEquals(SliceGrant.NOBODY, holder());
  }

  @Test
  void aSwapInThatNeverEndsStartsTheQuantumAfterTheEvictionTimeout() throws IOException {
    bGranted(true);
    steps(EVICT_TIMEOUT + QUANTUM - 5 * MS);
    assertEquals(2, holder(), "the bound, then a quantum");
    steps(10 * MS);
    assertEquals(SliceGrant.NOBODY, holder(), "B's swap-in never ends: it cannot keep the device");
  }

  @Test
  void aHolderWithNothingPendingIsStillPreemptedAtOnceDuringItsSwapIn() throws IOException {
    bGranted(true);
    steps(5 * MS);
    gateB().in_flight(0).last_submit_ns(now - QUANTUM); // its swap-in failed and it does nothing
    steps(5 * MS);
    assertEquals(1, holder(), "A waits, B has nothing pending: B gives the device up at once");
  }

  @Test
  void withoutOversubscriptionTheQuantumRunsFromTheGrantAsBefore() throws IOException {
    bGranted(false);
    steps(QUANTUM - 5 * MS);
    assertEquals(2, holder());
    steps(10 * MS);
    assertEquals(SliceGrant.NOBODY, holder(), "counters showing memory out do not matter there");
  }

  @Test
  void swappedOutBytesTakeTheCountersAsUnsignedAndNonsenseAsNothing() {
    assertEquals(6 * GIB, JobGates.outBytes(gate(8 * GIB, 2 * GIB)));
    assertEquals(0, JobGates.outBytes(gate(2 * GIB, 8 * GIB)), "in above out");
    assertEquals(0, JobGates.outBytes(gate(GIB, -1)), "in is 2^64 - 1");
    assertEquals(Long.MAX_VALUE, JobGates.outBytes(gate(-1, 0)), "more than a long holds");
  }

  private static RegionGates.Gate gate(long swappedOut, long swappedIn) {
    return new RegionGates.Gate(0, 0, 0, 0, 0, 0, 0, swappedOut, swappedIn);
  }
}
