package io.gpupool.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdmissionQueueTest {
  /** A pool of `free` units; a job (its size) fits when it is at most what is free. */
  private static final class Pool implements AdmissionQueue.Admitter<Integer> {
    int free;
    final List<Integer> started = new ArrayList<>();

    Pool(int free) {
      this.free = free;
    }

    @Override
    public boolean tryAdmit(Integer size) {
      if (size > free) return false;
      free -= size;
      started.add(size);
      return true;
    }
  }

  @Test
  void aNewJobStartsAtOnceOnlyWhenNobodyWaits() {
    Pool pool = new Pool(10);
    AdmissionQueue<Integer> queue = new AdmissionQueue<>();
    assertTrue(queue.admitNow(4, pool));
    assertFalse(queue.admitNow(8, pool)); // does not fit
    queue.enqueue(8);
    assertFalse(queue.admitNow(1, pool)); // fits, but 8 waits before it
    queue.enqueue(1);
    assertEquals(List.of(4), pool.started);
    assertEquals(List.of(8, 1), queue.snapshot());
    assertEquals(8, queue.head());
  }

  @Test
  void aHeadThatDoesNotFitHoldsUpSmallerJobsBehindIt() {
    Pool pool = new Pool(3);
    AdmissionQueue<Integer> queue = new AdmissionQueue<>();
    queue.enqueue(5);
    queue.enqueue(1);
    queue.enqueue(2);
    assertEquals(0, queue.admitWaiting(pool)); // no backfill: 1 and 2 would fit
    pool.free = 8;
    assertEquals(3, queue.admitWaiting(pool));
    assertEquals(List.of(5, 1, 2), pool.started);
    assertTrue(queue.isEmpty());
    assertNull(queue.head());
  }

  @Test
  void removingTheHeadLetsTheNextStart() {
    Pool pool = new Pool(2);
    AdmissionQueue<Integer> queue = new AdmissionQueue<>();
    Integer big = 9;
    queue.enqueue(big);
    queue.enqueue(2);
    assertTrue(queue.remove(big));
    assertFalse(queue.remove(big));
    assertEquals(1, queue.admitWaiting(pool));
    assertEquals(0, queue.size());
  }
}
