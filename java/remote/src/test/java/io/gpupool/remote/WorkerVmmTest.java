package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.MemAddressFree;
import io.gpupool.proto.v1.MemAddressReserve;
import io.gpupool.proto.v1.MemCreate;
import io.gpupool.proto.v1.MemGetAllocationGranularity;
import io.gpupool.proto.v1.MemMap;
import io.gpupool.proto.v1.MemRelease;
import io.gpupool.proto.v1.MemSetAccess;
import io.gpupool.proto.v1.MemUnmap;
import io.gpupool.proto.v1.Reply;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The VMM calls on the worker: a session maps only its own handles into its own reservations. */
class WorkerVmmTest {
  static final byte[] SECRET = WorkerSessionTest.SECRET;
  static final int READ_WRITE = 3; // CU_MEM_ACCESS_FLAGS_PROT_READWRITE

  static Call.Builder granularity() {
    return Call.newBuilder().setMemGetAllocationGranularity(MemGetAllocationGranularity.getDefaultInstance());
  }

  static Call.Builder create(long bytes) {
    return Call.newBuilder().setMemCreate(MemCreate.newBuilder().setBytes(bytes));
  }

  static Call.Builder reserve(long bytes) {
    return Call.newBuilder().setMemAddressReserve(MemAddressReserve.newBuilder().setBytes(bytes));
  }

  static Call.Builder map(long ptr, long bytes, long handle) {
    return Call.newBuilder().setMemMap(MemMap.newBuilder().setPtr(ptr).setBytes(bytes).setHandle(handle));
  }

  static Call.Builder access(long ptr, long bytes) {
    return Call.newBuilder().setMemSetAccess(MemSetAccess.newBuilder().setPtr(ptr).setBytes(bytes).setFlags(READ_WRITE));
  }

  static long granularity(RawClient c) throws Exception {
    c.call(granularity());
    long g = c.reply().getNumber();
    assertTrue(g >= 4096, "granularity " + g);
    return g;
  }

  @Test
  void mappedMemoryIsTheSessionsAndNothingElseIs() throws Exception {
    try (WorkerServer a = WorkerSessionTest.server(); RawClient ca = RawClient.attached(a, SECRET);
        WorkerServer b = WorkerSessionTest.server(); RawClient cb = RawClient.attached(b, SECRET)) {
      long g = granularity(ca);
      ca.call(create(g), reserve(2 * g));
      long handle = ca.reply().getHandle();
      long va = ca.reply().getHandle();

      // Not mapped yet: no copy reaches the reservation.
      long s = ca.call(Calls.htod(va, 0, new byte[16], 0, 16), Calls.sync());
      Reply r = ca.reply();
      assertEquals(CudaResult.INVALID_VALUE, r.getResult());
      assertEquals(s, r.getDeferredSeq());

      ca.call(map(va, g, handle), access(va, g));
      assertEquals(0, ca.reply().getResult());
      assertEquals(0, ca.reply().getResult());
      byte[] data = new byte[4096];
      Arrays.fill(data, (byte) 0x3c);
      ca.call(Calls.htod(va, g - 4096, data, 0, data.length), Calls.barrier());
      assertEquals(0, ca.reply().getResult());
      // Past the mapping, into the unmapped half of the reservation: refused.
      ca.call(Calls.dtoh(va + g - 16, 32));
      assertEquals(CudaResult.INVALID_VALUE, ca.chunks().get(0).getResult());

      // Another session: neither A's reservation nor A's handle (an id it never got) is in reach.
      cb.call(map(va, g, handle));
      assertEquals(CudaResult.INVALID_VALUE, cb.reply().getResult());
      cb.call(reserve(g));
      long vb = cb.reply().getHandle();
      cb.call(map(vb, g, handle), Call.newBuilder().setMemAddressFree(MemAddressFree.newBuilder().setPtr(va).setBytes(2 * g)),
          Call.newBuilder().setMemUnmap(MemUnmap.newBuilder().setPtr(va).setBytes(g)),
          Call.newBuilder().setMemRelease(MemRelease.newBuilder().setHandle(handle)), access(va, g));
      for (int i = 0; i < 5; i++) assertEquals(CudaResult.INVALID_VALUE, cb.reply().getResult(), "call " + i);
      cb.call(Calls.dtoh(va, 16));
      assertEquals(CudaResult.INVALID_VALUE, cb.chunks().get(0).getResult());

      ca.call(Calls.dtoh(va + g - 4096, 4096));
      assertArrayEquals(data, ca.chunks().get(0).getData().toByteArray());
    }
  }

  @Test
  void anAllocationOverTheLimitIsRefusedBeforeTheDriver() throws Exception {
    WorkerLimits limits = new WorkerLimits(WorkerLimits.DEFAULT_MAX_HANDLES, 4L << 20,
        WorkerLimits.DEFAULT_MAX_FRAME_BYTES, WorkerLimits.DEFAULT_ATTACH_TIMEOUT_MS);
    try (WorkerServer server = WorkerServer.start("127.0.0.1", SECRET, limits);
        RawClient c = RawClient.attached(server, SECRET)) {
      long g = granularity(c);
      c.call(create(((4L << 20) / g + 1) * g), create(g));
      assertEquals(CudaResult.OUT_OF_MEMORY, c.reply().getResult());
      assertEquals(0, c.reply().getResult());
    }
  }

  @Test
  void aSessionThatEndsWithMappingsLeftFreesThem() throws Exception {
    long freeBefore;
    try (WorkerServer probe = WorkerSessionTest.server(); RawClient c = RawClient.attached(probe, SECRET)) {
      c.call(Calls.info());
      freeBefore = c.reply().getMemInfo().getFree();
    }
    WorkerServer server = WorkerSessionTest.server();
    try (RawClient c = RawClient.attached(server, SECRET)) {
      long g = granularity(c);
      c.call(create(4 * g), reserve(4 * g));
      long handle = c.reply().getHandle();
      long va = c.reply().getHandle();
      c.call(map(va, 4 * g, handle), access(va, 4 * g), Calls.info());
      assertEquals(0, c.reply().getResult());
      assertEquals(0, c.reply().getResult());
      assertTrue(c.reply().getMemInfo().getFree() <= freeBefore - 4 * g, "cuMemCreate took no memory");
    }
    server.finished().get(30, TimeUnit.SECONDS);
    assertEquals(0, server.liveHandles());
    try (WorkerServer probe = WorkerSessionTest.server(); RawClient c = RawClient.attached(probe, SECRET)) {
      c.call(Calls.info());
      assertEquals(freeBefore, c.reply().getMemInfo().getFree());
    }
  }
}
