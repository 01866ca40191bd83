package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.ParamInfo;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ServerMessage;
import io.gpupool.proto.v1.Welcome;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A whole session over the wire against the simulated driver: data, kernels, pipelined errors, teardown. */
class WorkerSessionTest {
  static final byte[] SECRET = new byte[32];

  static {
    new Random(7).nextBytes(SECRET);
  }

  static WorkerServer server() throws Exception {
    return WorkerServer.start("127.0.0.1", SECRET, WorkerLimits.defaults());
  }

  @Test
  void welcomeDescribesDevice0() throws Exception {
    try (WorkerServer server = server(); RawClient c = new RawClient(server.address())) {
      Welcome w = c.attach(SECRET).getWelcome();
      assertEquals("gpupool test GPU", w.getDevice().getName());
      assertEquals(DeviceDescription.ATTRIBUTE_COUNT, w.getAttributesCount());
      assertTrue(w.getAttributes(0) > 0, "max threads per block");
      assertEquals(16, w.getDevice().getUuid().size());
      assertTrue(w.getDriverVersion() > 0);
      assertEquals(w.getDevice().getTotalMemoryBytes(), w.getMemoryLimitBytes());
      assertEquals(65536, w.getMaxHandles());
    }
  }

  @Test
  void copiesThreeMiBInChunksAndRunsSaxpy() throws Exception {
    int n = 3 * 1024 * 1024 / 4;
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (i % 1024) * 0.5f;
      y[i] = (i % 7) - 3.0f;
    }
    byte[] xb = floats(x);
    byte[] yb = floats(y);
    try (WorkerServer server = server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(xb.length), Calls.alloc(yb.length));
      long dx = c.reply().getHandle();
      long dy = c.reply().getHandle();
      assertNotEquals(0, dx);
      int chunk = MemoryCalls.CHUNK;
      for (int off = 0; off < xb.length; off += chunk) {
        int len = Math.min(chunk, xb.length - off);
        c.call(Calls.htod(dx, off, xb, off, len), Calls.htod(dy, off, yb, off, len));
      }
      c.call(Calls.barrier());
      assertEquals(0, c.reply().getResult());

      long seq = c.call(Calls.dtoh(dx, xb.length));
      List<Reply> chunks = c.chunks();
      assertEquals(3, chunks.size());
      ByteArrayOutputStream back = new ByteArrayOutputStream();
      for (Reply r : chunks) {
        assertEquals(seq, r.getSeq());
        assertEquals(0, r.getResult());
        assertEquals(back.size(), r.getOffset());
        r.getData().writeTo(back);
      }
      assertArrayEquals(xb, back.toByteArray());

      c.call(Calls.load(Calls.ptx("saxpy")));
      Reply loaded = c.reply();
      assertEquals(0, loaded.getResult());
      c.call(Calls.function(loaded.getHandle(), "saxpy"));
      Reply fn = c.reply();
      assertEquals(0, fn.getResult());
      List<ParamInfo> params = fn.getFunction().getParamsList();
      assertEquals(List.of(0, 4, 8, 16), params.stream().map(ParamInfo::getOffset).toList());
      assertEquals(List.of(4, 4, 8, 8), params.stream().map(ParamInfo::getSize).toList());

      float a = 2.5f;
      ByteBuffer p = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
      p.putInt(0, n).putFloat(4, a).putLong(8, dx).putLong(16, dy);
      c.call(Calls.launch(fn.getFunction().getHandle(), (n + 255) / 256, 256, p.array()), Calls.sync());
      assertEquals(0, c.reply().getResult());
      c.call(Calls.dtoh(dy, yb.length));
      ByteArrayOutputStream result = new ByteArrayOutputStream();
      for (Reply r : c.chunks()) r.getData().writeTo(result);
      FloatBufferView out = new FloatBufferView(result.toByteArray());
      for (int i = 0; i < n; i++) assertEquals(a * x[i] + y[i], out.get(i), 1e-5f, "element " + i);
    }
  }

  @Test
  void launchesTakeTheLayoutsBytesAndRefuseTooFewOrAnUnknownStream() throws Exception {
    try (WorkerServer server = server(); RawClient c = RawClient.attached(server, SECRET)) {
      int n = 1000;
      float[] x = new float[n];
      for (int i = 0; i < n; i++) x[i] = i;
      c.call(Calls.alloc(4L * n), Calls.alloc(4L * n));
      long dx = c.reply().getHandle();
      long dy = c.reply().getHandle();
      c.call(Calls.htod(dx, 0, floats(x), 0, 4 * n), Calls.htod(dy, 0, floats(new float[n]), 0, 4 * n));
      c.call(Calls.load(Calls.ptx("saxpy")));
      c.call(Calls.function(c.reply().getHandle(), "saxpy"));
      long saxpy = c.reply().getFunction().getHandle();

      // Bytes beyond the layout's 24 are not parameters; the kernel gets the 24 it has.
      ByteBuffer p = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      p.putInt(0, n).putFloat(4, 3f).putLong(8, dx).putLong(16, dy).putLong(24, -1);
      c.call(Calls.launch(saxpy, (n + 255) / 256, 256, p.array()), Calls.launch(saxpy, (n + 255) / 256, 256, p.array()),
          Calls.sync());
      assertEquals(0, c.reply().getResult());
      c.call(Calls.dtoh(dy, 4 * n));
      ByteArrayOutputStream result = new ByteArrayOutputStream();
      for (Reply r : c.chunks()) r.getData().writeTo(result);
      FloatBufferView y = new FloatBufferView(result.toByteArray());
      for (int i = 0; i < n; i++) assertEquals(6f * i, y.get(i), 1e-3f, "element " + i);

      long shortSeq = c.call(Calls.launch(saxpy, 1, 256, new byte[23]), Calls.sync());
      Reply tooShort = c.reply();
      assertEquals(CudaResult.INVALID_VALUE, tooShort.getResult());
      assertEquals(shortSeq, tooShort.getDeferredSeq());

      io.gpupool.proto.v1.Call.Builder unknownStream = Calls.launch(saxpy, 1, 256, p.array());
      unknownStream.getLaunchKernelBuilder().setStream(0x9999);
      long streamSeq = c.call(unknownStream, Calls.sync());
      Reply noStream = c.reply();
      assertEquals(CudaResult.INVALID_HANDLE, noStream.getResult());
      assertEquals(streamSeq, noStream.getDeferredSeq());
    }
  }

  @Test
  void pipelinedFailureSurfacesAtTheNextSynchronousCall() throws Exception {
    try (WorkerServer server = server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(1024));
      long d = c.reply().getHandle();
      long first = c.call(Calls.memset(d, 1, 4, 256), Calls.launch(0x7777, 1, 1, new byte[0]),
          Calls.free(0x1234), Calls.sync(), Calls.sync());
      Reply deferred = c.reply();
      assertEquals(first + 3, deferred.getSeq());
      assertEquals(CudaResult.INVALID_HANDLE, deferred.getResult());
      assertEquals(first + 1, deferred.getDeferredSeq(), "the first failure is the one reported");
      Reply next = c.reply();
      assertEquals(first + 4, next.getSeq());
      assertEquals(0, next.getResult());
      assertEquals(0, next.getDeferredSeq());

      // A DtoH that takes a deferred error is answered by one final reply and not executed.
      long s = c.call(Calls.free(0x1234), Calls.dtoh(d, 1024));
      List<Reply> chunks = c.chunks();
      assertEquals(1, chunks.size());
      assertEquals(CudaResult.INVALID_VALUE, chunks.get(0).getResult());
      assertEquals(s, chunks.get(0).getDeferredSeq());
      assertTrue(chunks.get(0).getData().isEmpty());
    }
  }

  @Test
  void disconnectFreesEverything() throws Exception {
    long freeBefore;
    try (WorkerServer probe = server(); RawClient c = RawClient.attached(probe, SECRET)) {
      c.call(Calls.info());
      freeBefore = c.reply().getMemInfo().getFree();
    }
    WorkerServer server = server();
    try (RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(64 << 20), Calls.alloc(1 << 20), Calls.streamCreate(), Calls.eventCreate(),
          Calls.load(Calls.ptx("saxpy")));
      long module = 0;
      for (int i = 0; i < 5; i++) {
        Reply r = c.reply();
        assertEquals(0, r.getResult());
        module = r.getHandle();
      }
      c.call(Calls.function(module, "saxpy"));
      assertEquals(0, c.reply().getResult());
      assertEquals(6, server.liveHandles());
    }
    server.finished().get(10, TimeUnit.SECONDS);
    assertEquals(0, server.liveHandles());
    server.close();
    try (WorkerServer fresh = server(); RawClient c = RawClient.attached(fresh, SECRET)) {
      c.call(Calls.info());
      assertEquals(freeBefore, c.reply().getMemInfo().getFree(), "device memory given back");
    }
  }

  @Test
  void attachTimeoutEndsTheWorker() throws Exception {
    WorkerServer server = WorkerServer.start("127.0.0.1", SECRET, new WorkerLimits(16, 1 << 20, 1 << 16, 200));
    server.finished().get(10, TimeUnit.SECONDS);
    assertFalse(server.attached());
    server.close();
  }

  @Test
  void oneSessionOnly() throws Exception {
    try (WorkerServer server = server(); RawClient c = RawClient.attached(server, SECRET)) {
      try (RawClient second = new RawClient(server.address())) {
        ServerMessage m = second.drainUntilClosed(5000);
        assertTrue(m == null, "a second connection is not served: " + m);
      } catch (java.net.ConnectException expected) {
        // the listener is closed
      }
      c.call(Calls.barrier());
      assertEquals(0, c.reply().getResult());
    }
  }

  static byte[] floats(float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return b.array();
  }

  record FloatBufferView(byte[] bytes) {
    float get(int i) {
      return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getFloat(i * 4);
    }
  }
}
