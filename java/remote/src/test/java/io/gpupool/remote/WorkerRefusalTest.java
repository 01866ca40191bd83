package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ServerMessage;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What a worker refuses, and that refusing never reaches the driver or another session. */
class WorkerRefusalTest {
  static final byte[] SECRET = WorkerSessionTest.SECRET;

  @Test
  void wrongSecretIsRefusedAndTheRightOneStillAttaches() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server()) {
      byte[] wrong = SECRET.clone();
      wrong[31] ^= 1;
      try (RawClient c = new RawClient(server.address())) {
        ServerMessage m = c.attach(wrong);
        assertEquals(Refused.Reason.BAD_TOKEN, m.getRefused().getReason());
        assertEquals(null, c.read(), "closed after Refused");
      }
      try (RawClient c = new RawClient(server.address())) {
        assertEquals(Refused.Reason.BAD_TOKEN, c.attach(new byte[0]).getRefused().getReason());
      }
      try (RawClient c = new RawClient(server.address())) {
        c.send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setToken("x")).build());
        assertEquals(Refused.Reason.BAD_REQUEST, c.read().getRefused().getReason());
      }
      try (RawClient c = RawClient.attached(server, SECRET)) {
        c.call(Calls.barrier());
        assertEquals(0, c.reply().getResult());
      }
    }
  }

  @Test
  void anotherSessionsMemoryIsOutOfReach() throws Exception {
    byte[] pattern = new byte[4096];
    Arrays.fill(pattern, (byte) 0x5a);
    try (WorkerServer a = WorkerSessionTest.server(); RawClient ca = RawClient.attached(a, SECRET);
        WorkerServer b = WorkerSessionTest.server(); RawClient cb = RawClient.attached(b, SECRET)) {
      ca.call(Calls.alloc(4096), Calls.streamCreate(), Calls.load(Calls.ptx("saxpy")));
      long foreign = ca.reply().getHandle();
      long foreignStream = ca.reply().getHandle();
      long foreignModule = ca.reply().getHandle();
      ca.call(Calls.htod(foreign, 0, pattern, 0, pattern.length), Calls.barrier());
      assertEquals(0, ca.reply().getResult());

      // In-process both sessions share one context, so only the worker's check stands between them.
      long s = cb.call(Calls.htod(foreign, 0, new byte[16], 0, 16), Calls.sync());
      Reply r = cb.reply();
      assertEquals(CudaResult.INVALID_VALUE, r.getResult());
      assertEquals(s, r.getDeferredSeq());
      cb.call(Calls.dtoh(foreign, 16));
      assertEquals(CudaResult.INVALID_VALUE, cb.chunks().get(0).getResult());
      cb.call(Calls.free(foreign), Calls.memset(foreign, 0, 1, 16), Calls.sync());
      assertEquals(CudaResult.INVALID_VALUE, cb.reply().getResult());
      cb.call(Calls.function(foreignModule, "saxpy"));
      assertEquals(CudaResult.INVALID_HANDLE, cb.reply().getResult());
      cb.call(Calls.Stream.sync(foreignStream));
      assertEquals(CudaResult.INVALID_HANDLE, cb.reply().getResult());

      ca.call(Calls.dtoh(foreign, 4096));
      assertArrayEquals(pattern, ca.chunks().get(0).getData().toByteArray());
    }
  }

  @Test
  void copiesOutsideTheAllocationAreRefused() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(1000));
      long d = c.reply().getHandle();
      byte[] data = new byte[100];
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.htod(d, 950, data, 0, 100));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.htod(d, -1L, data, 0, 1));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.htod(d - 1, 0, data, 0, 1));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.memset(d + 4, 0, 4, 250));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.memset(d, 0, 4, Long.MAX_VALUE / 2));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.memset(d, 0, 3, 1));
      assertDeferred(c, CudaResult.INVALID_VALUE, Calls.free(d + 8));
      c.call(Calls.dtoh(d + 1, 1000));
      assertEquals(CudaResult.INVALID_VALUE, c.chunks().get(0).getResult());
      c.call(Calls.dtoh(d, -1L));
      assertEquals(CudaResult.INVALID_VALUE, c.chunks().get(0).getResult());
      // Inside is fine, at any offset.
      c.call(Calls.htod(d, 900, data, 0, 100), Calls.memset(d + 4, 7, 4, 249), Calls.barrier());
      assertEquals(0, c.reply().getResult());
    }
  }

  @Test
  void handleAndAllocationLimits() throws Exception {
    WorkerLimits limits = new WorkerLimits(3, 1 << 20, 1 << 20, 10_000);
    try (WorkerServer server = WorkerServer.start("127.0.0.1", SECRET, limits);
        RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc((1 << 20) + 1), Calls.alloc(1 << 20), Calls.streamCreate(), Calls.eventCreate(),
          Calls.alloc(16), Calls.eventCreate());
      assertEquals(CudaResult.OUT_OF_MEMORY, c.reply().getResult());
      long d = c.reply().getHandle();
      assertEquals(0, c.reply().getResult());
      assertEquals(0, c.reply().getResult());
      assertEquals(CudaResult.OUT_OF_MEMORY, c.reply().getResult(), "a fourth handle");
      assertEquals(CudaResult.OUT_OF_MEMORY, c.reply().getResult());
      c.call(Calls.free(d), Calls.alloc(16));
      assertEquals(0, c.reply().getResult(), "freeing gives the handle back");
    }
  }

  @Test
  void frameOverTheLimitEndsTheSession() throws Exception {
    WorkerLimits limits = new WorkerLimits(16, 1 << 20, 64 * 1024, 10_000);
    try (WorkerServer server = WorkerServer.start("127.0.0.1", SECRET, limits);
        RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(1 << 20));
      long d = c.reply().getHandle();
      c.call(Calls.htod(d, 0, new byte[100_000], 0, 100_000));
      ServerMessage m = c.drainUntilClosed(10_000);
      assertNotNull(m);
      assertEquals(Refused.Reason.BAD_REQUEST, m.getRefused().getReason());
      assertTrue(m.getRefused().getMessage().contains("limit"), m.getRefused().getMessage());
      server.finished().get(10, TimeUnit.SECONDS);
      assertEquals(0, server.liveHandles());
    }
  }

  @Test
  void announcedHugeFrameIsRefusedBeforeAnyAttach() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = new RawClient(server.address())) {
      c.sendRaw(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07});
      assertEquals(Refused.Reason.BAD_REQUEST, c.drainUntilClosed(10_000).getRefused().getReason());
    }
  }

  @Test
  void seqGapEndsTheSession() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.barrier());
      assertEquals(0, c.reply().getResult());
      c.skipSeq(1);
      c.call(Calls.barrier());
      ServerMessage m = c.drainUntilClosed(10_000);
      assertEquals(Refused.Reason.BAD_REQUEST, m.getRefused().getReason());
      assertTrue(m.getRefused().getMessage().contains("expected"), m.getRefused().getMessage());
      server.finished().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void seqGapInABatchOfLaunchesEndsTheSession() throws Exception {
    // Such a batch is decoded without protobuf (LaunchBatchDecoder); it is checked the same way.
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      long launch = c.call(Calls.launch(0x7777, 1, 1, new byte[0]), Calls.launch(0x7777, 1, 1, new byte[0]));
      c.call(Calls.sync());
      io.gpupool.proto.v1.Reply r = c.reply();
      assertEquals(CudaResult.INVALID_HANDLE, r.getResult(), "the unknown function's error, deferred");
      assertEquals(launch, r.getDeferredSeq());
      c.skipSeq(1);
      c.call(Calls.launch(0x7777, 1, 1, new byte[0]));
      ServerMessage m = c.drainUntilClosed(10_000);
      assertEquals(Refused.Reason.BAD_REQUEST, m.getRefused().getReason());
      assertTrue(m.getRefused().getMessage().contains("expected"), m.getRefused().getMessage());
      server.finished().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void secondAttachOrHelloInASessionEndsIt() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      ServerMessage m = c.attach(SECRET);
      assertEquals(Refused.Reason.BAD_REQUEST, m.getRefused().getReason());
    }
  }

  private static void assertDeferred(RawClient c, int expected, io.gpupool.proto.v1.Call.Builder call) throws Exception {
    long seq = c.call(call, Calls.sync());
    Reply r = c.reply();
    assertEquals(expected, r.getResult(), call.getOpCase().toString());
    assertEquals(seq, r.getDeferredSeq());
  }
}
