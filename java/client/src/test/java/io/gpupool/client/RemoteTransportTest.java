package io.gpupool.client;

import static io.gpupool.client.KernelArg.arg;
import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.FunctionInfo;
import io.gpupool.proto.v1.ParamInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The remote back end's encoding and reply dispatch, against a scripted worker. */
class RemoteTransportTest extends ScriptedWorkerTest {
  private static final int MiB = 1 << 20;

  /** Answers ModuleLoadData and ModuleGetFunction for a kernel k(int, float, ptr, ptr). */
  private static void serveKernel(ScriptedPeer.Conn conn) {
    conn.reply(reply(conn.calls().get(0)).setHandle(7));
    Call get = conn.calls().get(0);
    assertEquals("k", get.getModuleGetFunction().getName());
    conn.reply(reply(get).setFunction(FunctionInfo.newBuilder().setHandle(9)
        .addParams(ParamInfo.newBuilder().setOffset(0).setSize(4))
        .addParams(ParamInfo.newBuilder().setOffset(4).setSize(4))
        .addParams(ParamInfo.newBuilder().setOffset(8).setSize(8))
        .addParams(ParamInfo.newBuilder().setOffset(16).setSize(8))));
  }

  private Kernel kernel() {
    return gpu.loadModule(".version 8.0\n".getBytes(StandardCharsets.US_ASCII)).function("k");
  }

  @Test
  void welcomeDescribesTheDevice() throws Exception {
    CompletableFuture<Void> script = attach(conn -> assertNull(conn.read(), "nothing but Attach before close"));
    assertEquals("scripted GPU", gpu.device().name());
    assertEquals(1L << 30, gpu.device().totalMemoryBytes());
    assertEquals(64, gpu.device().attribute(3));
    gpu.close();
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void aLargeCopyGoesAsMebibyteChunksThenABarrier() throws Exception {
    byte[] data = new byte[3 * MiB + 5];
    data[MiB] = 42;
    CompletableFuture<Void> script = attach(conn -> {
      List<Call> calls = conn.callsUntil(Call.OpCase.BARRIER);
      assertEquals(5, calls.size(), "4 chunks and a Barrier");
      for (int i = 0; i < 4; i++) {
        Call chunk = calls.get(i);
        assertEquals(i + 1, chunk.getSeq());
        assertEquals(0x1000, chunk.getMemcpyHtod().getDptr());
        assertEquals((long) i * MiB, chunk.getMemcpyHtod().getOffset());
        assertEquals(i < 3 ? MiB : 5, chunk.getMemcpyHtod().getData().size());
        assertFalse(chunk.getMemcpyHtod().getAsync());
      }
      assertEquals(42, calls.get(1).getMemcpyHtod().getData().byteAt(0));
      conn.frameSizes.forEach(size -> assertTrue(size <= Frames.MAX_FRAME_BYTES, size + " bytes"));
      conn.reply(reply(calls.get(4)));
    });
    try (DeviceBuffer buffer = new DeviceBuffer(gpu, 0x1000, data.length)) {
      buffer.copyFrom(data);
      script.get(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void pipelinedCallsGoInBatchesWithPackedParameters() throws Exception {
    CompletableFuture<Void> script = attach(conn -> {
      serveKernel(conn);
      List<Call> first = conn.calls();
      assertEquals(RemoteSession.FLUSH_CALLS, first.size(), "a full batch is sent without waiting");
      Call launch = first.get(0);
      assertEquals(9, launch.getLaunchKernel().getFunction());
      assertEquals(4, launch.getLaunchKernel().getGridX());
      assertEquals(128, launch.getLaunchKernel().getBlockX());
      ByteBuffer params = launch.getLaunchKernel().getParams().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      assertEquals(24, params.remaining());
      assertEquals(0, params.getInt(0));
      assertEquals(2.5f, params.getFloat(4));
      assertEquals(0x1000, params.getLong(8));
      assertEquals(-1L, params.getLong(16));
      List<Call> rest = conn.calls();
      assertEquals(300 - RemoteSession.FLUSH_CALLS + 1, rest.size(), "the rest with the synchronize");
      Call sync = rest.get(rest.size() - 1);
      assertEquals(Call.OpCase.CTX_SYNCHRONIZE, sync.getOpCase());
      assertEquals(2 + 300 + 1, sync.getSeq());
      conn.reply(reply(sync));
    });
    Kernel k = kernel();
    DeviceBuffer x = new DeviceBuffer(gpu, 0x1000, 64);
    for (int i = 0; i < 300; i++) {
      k.launch(LaunchConfig.grid(4).block(128), arg(i), arg(2.5f), arg(x), arg(-1L));
    }
    gpu.synchronize();
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void aPipelinedErrorNamesTheFailedCallAndTheOneThatReportedIt() throws Exception {
    CompletableFuture<Void> script = attach(conn -> {
      serveKernel(conn);
      List<Call> calls = conn.callsUntil(Call.OpCase.CTX_SYNCHRONIZE);
      Call launch = calls.get(1);
      assertEquals(Call.OpCase.LAUNCH_KERNEL, launch.getOpCase());
      conn.reply(reply(calls.get(calls.size() - 1)).setResult(719).setDeferredSeq(launch.getSeq()));
      Call next = conn.calls().get(0);
      conn.reply(reply(next));
    });
    Kernel k = kernel();
    DeviceBuffer x = new DeviceBuffer(gpu, 0x1000, 64);
    x.memset((byte) 0);
    k.launch(LaunchConfig.grid(1).block(1), arg(1), arg(1f), arg(x), arg(x));
    x.fill(3);
    GpuException e = assertThrows(GpuException.class, gpu::synchronize);
    assertEquals("cuLaunchKernel(k)", e.call());
    assertEquals("cuCtxSynchronize", e.reportedBy());
    assertEquals("cuLaunchKernel(k) failed: CUDA_ERROR_LAUNCH_FAILED (719), reported by cuCtxSynchronize", e.getMessage());
    gpu.synchronize(); // reported once
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void deviceToHostChunksLandInPlaceInAnyOrder() throws Exception {
    int floats = (5 * MiB / 2) / 4;
    CompletableFuture<Void> script = attach(conn -> {
      for (int copy = 0; copy < 2; copy++) {
        Call call = conn.calls().get(0);
        assertEquals(4L * floats, call.getMemcpyDtoh().getBytes());
        long[] offsets = {2L * MiB, 0, MiB};
        for (int i = 0; i < offsets.length; i++) {
          int length = (int) Math.min(MiB, 4L * floats - offsets[i]);
          ByteBuffer chunk = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
          for (int j = 0; j < length / 4; j++) {
            chunk.putFloat((offsets[i] / 4) + j);
          }
          conn.reply(reply(call).setOffset(offsets[i]).setData(ByteString.copyFrom(chunk.flip()))
              .setLast(i == offsets.length - 1));
        }
      }
    });
    try (DeviceBuffer buffer = new DeviceBuffer(gpu, 0x1000, 4L * floats)) {
      float[] dst = new float[floats];
      buffer.copyTo(dst);
      for (int i = 0; i < floats; i++) {
        assertEquals(i, dst[i]);
      }
      ByteBuffer direct = ByteBuffer.allocateDirect(4 * floats + 8).order(ByteOrder.LITTLE_ENDIAN);
      direct.position(8);
      buffer.copyToAsync(direct, null).get(20, TimeUnit.SECONDS);
      assertEquals(floats - 1, direct.getFloat(8 + 4 * (floats - 1)));
      assertEquals(0, direct.getFloat(4));
    }
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void queriesReadNotReadyAsFalse() throws Exception {
    CompletableFuture<Void> script = attach(conn -> {
      Call create = conn.calls().get(0);
      conn.reply(reply(create).setHandle(5));
      Call query = conn.calls().get(0);
      assertEquals(5, query.getStreamQuery().getStream());
      conn.reply(reply(query).setResult(600));
      conn.reply(reply(conn.calls().get(0)));
    });
    Stream s = gpu.createStream();
    assertFalse(s.isComplete());
    assertTrue(s.isComplete());
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void argumentsThatDoNotMatchTheParametersAreRejectedBeforeSending() throws Exception {
    CompletableFuture<Void> script = attach(conn -> {
      serveKernel(conn);
      List<Call> calls = conn.calls();
      assertEquals(List.of(Call.OpCase.CTX_SYNCHRONIZE), calls.stream().map(Call::getOpCase).toList());
      conn.reply(reply(calls.get(0)));
    });
    Kernel k = kernel();
    IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
        () -> k.launch(LaunchConfig.grid(1).block(1), arg(1), arg(1f)));
    assertTrue(count.getMessage().contains("k takes 4 parameters, 2 arguments given"), count.getMessage());
    IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
        () -> k.launch(LaunchConfig.grid(1).block(1), arg(1), arg(1f), arg(1), arg(2L)));
    assertTrue(size.getMessage().contains("parameter 2 is 8 bytes"), size.getMessage());
    gpu.synchronize();
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void aLostConnectionFailsTheWaitingCallAndEveryLaterOne() throws Exception {
    CompletableFuture<Void> script = attach(conn -> conn.calls());
    PoolUnavailableException e = assertThrows(PoolUnavailableException.class, gpu::synchronize);
    assertTrue(e.getMessage().contains("worker at 127.0.0.1"), e.getMessage());
    assertThrows(PoolUnavailableException.class, () -> gpu.allocate(16));
    script.get(20, TimeUnit.SECONDS);
  }
}
