package io.gpupool.client;

import static io.gpupool.client.KernelArg.arg;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import jcuda.driver.CUdevice_attribute;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every back end of {@link RemoteGpu} keeps, run against each (as grpc-java's
 * AbstractTransportTest runs one suite against every transport): subclasses only say how
 * to get a GPU. User code written against this contract runs on either.
 */
abstract class GpuBackendContractTest {
  static final int MiB = 1 << 20;
  private static final int BLOCK = 256;

  RemoteGpu gpu;

  /** A fresh session on the back end under test. */
  protected abstract RemoteGpu acquire();

  @BeforeEach
  void openGpu() {
    gpu = acquire();
  }

  @AfterEach
  void closeGpu() {
    if (gpu != null) {
      gpu.close();
    }
  }

  static Path kernel(String name) {
    String dir = System.getProperty("gpupool.kernels.dir");
    assertNotNull(dir, "system property gpupool.kernels.dir (set by the pom's surefire configuration)");
    return Path.of(dir, name + ".ptx");
  }

  @Test
  void describesItsDevice() {
    GpuDevice device = gpu.device();
    assertFalse(device.name().isEmpty());
    assertTrue(device.totalMemoryBytes() > 0);
    assertTrue(device.computeCapabilityMajor() >= 1, device.toString());
    assertEquals(device.multiprocessorCount(),
        device.attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
    assertTrue(device.driverVersion() > 0);
    MemoryInfo memory = gpu.memoryInfo();
    assertTrue(memory.totalBytes() > 0 && memory.freeBytes() <= memory.totalBytes(), memory.toString());
  }

  @Test
  void floatsRoundTrip() {
    float[] x = new float[1000];
    for (int i = 0; i < x.length; i++) {
      x[i] = i * 0.25f - 7;
    }
    float[] back = new float[x.length];
    try (DeviceBuffer buffer = gpu.allocate(4L * x.length)) {
      buffer.copyFrom(x);
      buffer.copyTo(back);
    }
    assertArrayEquals(x, back);
  }

  @Test
  void everyArrayTypeRoundTrips() {
    byte[] bytes = {1, -2, 3, -4, 5, 127, -128};
    int[] ints = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42};
    long[] longs = {Long.MIN_VALUE, -1, 0, 1L << 40, Long.MAX_VALUE};
    double[] doubles = {Math.PI, -0.0, Double.MAX_VALUE, Double.MIN_VALUE, 1e-300};
    try (DeviceBuffer buffer = gpu.allocate(64)) {
      buffer.copyFrom(bytes);
      byte[] b = new byte[bytes.length];
      buffer.copyTo(b);
      assertArrayEquals(bytes, b);
      buffer.copyFrom(ints);
      int[] i = new int[ints.length];
      buffer.copyTo(i);
      assertArrayEquals(ints, i);
      buffer.copyFrom(longs);
      long[] l = new long[longs.length];
      buffer.copyTo(l);
      assertArrayEquals(longs, l);
      buffer.copyFrom(doubles);
      double[] d = new double[doubles.length];
      buffer.copyTo(d);
      assertArrayEquals(doubles, d);
      // The device sees little-endian values: an int read back as bytes.
      buffer.copyFrom(new int[] {0x04030201});
      byte[] le = new byte[4];
      buffer.copyTo(le);
      assertArrayEquals(new byte[] {1, 2, 3, 4}, le);
    }
  }

  @Test
  void byteBuffersRoundTripFromTheirPosition() {
    for (ByteBuffer src : new ByteBuffer[] {ByteBuffer.allocate(100), ByteBuffer.allocateDirect(100)}) {
      for (int i = 0; i < 100; i++) {
        src.put(i, (byte) (i * 3));
      }
      src.position(10).limit(90);
      ByteBuffer dst = src.isDirect() ? ByteBuffer.allocateDirect(100) : ByteBuffer.allocate(100);
      dst.position(20).limit(100);
      try (DeviceBuffer buffer = gpu.allocate(80)) {
        buffer.copyFrom(src);
        buffer.copyTo(dst);
      }
      assertEquals(10, src.position(), "a copy leaves the position alone");
      for (int i = 0; i < 80; i++) {
        assertEquals((byte) ((i + 10) * 3), dst.get(20 + i), "byte " + i);
      }
      assertEquals(0, dst.get(0));
    }
  }

  @Test
  void threeMebibytesRoundTripInChunks() {
    byte[] data = new byte[3 * MiB + 5];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 31 + (i >> 20));
    }
    byte[] back = new byte[data.length];
    ByteBuffer direct = ByteBuffer.allocateDirect(data.length);
    try (DeviceBuffer buffer = gpu.allocate(data.length)) {
      buffer.copyFrom(data);
      buffer.copyTo(back);
      buffer.copyTo(direct);
    }
    assertArrayEquals(data, back);
    byte[] fromDirect = new byte[data.length];
    direct.get(fromDirect);
    assertArrayEquals(data, fromDirect);
  }

  @Test
  void asyncCopiesCompleteTheirFutures() throws Exception {
    float[] x = new float[3 * MiB / 4 + 10];
    for (int i = 0; i < x.length; i++) {
      x[i] = i;
    }
    try (DeviceBuffer buffer = gpu.allocate(4L * x.length); Stream stream = gpu.createStream()) {
      CompletableFuture<Void> in = buffer.copyFromAsync(x, stream);
      CompletableFuture<float[]> out = buffer.copyToAsync(new float[x.length], stream);
      in.get(30, TimeUnit.SECONDS);
      assertArrayEquals(x, out.get(30, TimeUnit.SECONDS));
      ByteBuffer bytes = ByteBuffer.allocate(16);
      assertSame(bytes, buffer.copyToAsync(bytes, null).get(30, TimeUnit.SECONDS));
      assertEquals(2.0f, bytes.order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(8));
    }
  }

  @Test
  void callsFromSeveralThreadsEachGetTheirOwnResults() throws Exception {
    // Synchronous calls, pipelined fills and async copies from four threads at once: every
    // reply reaches its own caller, whichever thread happens to read it.
    int threads = 4;
    int rounds = 150;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int base = (t + 1) * 1_000_000;
        workers.add(pool.submit(() -> {
          int[] back = new int[1024];
          try (DeviceBuffer buffer = gpu.allocate(4L * back.length)) {
            for (int r = 0; r < rounds; r++) {
              buffer.fill(base + r);
              if (r % 3 == 0) {
                assertSame(back, buffer.copyToAsync(back, null).get(60, TimeUnit.SECONDS));
              } else {
                buffer.copyTo(back);
              }
              for (int x : back) {
                assertEquals(base + r, x);
              }
              gpu.synchronize();
            }
          }
          return null;
        }));
      }
      for (Future<?> w : workers) {
        w.get(120, TimeUnit.SECONDS); // a lost reply shows as a timeout, not as a hung build
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void saxpyComputesOnTheDevice() {
    int n = 10_000;
    float a = 2.5f;
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (i % 1024) * 0.5f;
      y[i] = (i % 7) - 3.0f;
    }
    float[] result = new float[n];
    try (Module module = gpu.loadModule(kernel("saxpy"));
        DeviceBuffer dx = gpu.allocate(4L * n);
        DeviceBuffer dy = gpu.allocate(4L * n)) {
      dx.copyFrom(x);
      dy.copyFrom(y);
      Kernel saxpy = module.function("saxpy");
      saxpy.launch(LaunchConfig.grid((n + BLOCK - 1) / BLOCK).block(BLOCK), arg(n), arg(a), arg(dx), arg(dy));
      dy.copyTo(result);
    }
    for (int i = 0; i < n; i++) {
      assertEquals(a * x[i] + y[i], result[i], 1e-5f, "element " + i);
    }
  }

  @Test
  void memsetFillAndDeviceToDeviceCopies() {
    try (DeviceBuffer a = gpu.allocate(4096); DeviceBuffer b = gpu.allocate(4096)) {
      a.memset((byte) 0xab);
      byte[] bytes = new byte[4096];
      a.copyTo(bytes);
      for (byte v : bytes) {
        assertEquals((byte) 0xab, v);
      }
      a.fill(1.5f);
      b.copyFrom(a);
      float[] floats = new float[1024];
      b.copyTo(floats);
      for (float v : floats) {
        assertEquals(1.5f, v);
      }
      try (Stream s = gpu.createStream()) {
        b.fillAsync(-7, s);
        a.copyFromAsync(b, s);
        s.synchronize();
      }
      int[] ints = new int[1024];
      a.copyTo(ints);
      for (int v : ints) {
        assertEquals(-7, v);
      }
    }
  }

  @Test
  void streamRunsInOrderAndEventsTimeIt() {
    long spinNanos = 200_000_000L;
    try (Module module = gpu.loadModule(kernel("spin"));
        Stream stream = gpu.createStream();
        Event start = gpu.createEvent();
        Event end = gpu.createEvent();
        DeviceBuffer flag = gpu.allocate(4)) {
      Kernel spin = module.function("spin");
      flag.fill(1);
      start.record(stream);
      spin.launch(LaunchConfig.grid(1).block(1).stream(stream), arg(spinNanos));
      flag.fillAsync(2, stream); // after the spin, in stream order
      end.record(stream);
      assertFalse(end.isComplete(), "the spin kernel still runs");
      assertFalse(stream.isComplete());
      end.synchronize();
      assertTrue(end.isComplete());
      stream.synchronize();
      assertTrue(stream.isComplete());
      float ms = start.elapsedMillis(end);
      assertTrue(ms >= 150 && ms < 10_000, ms + " ms for a 200 ms spin");
      int[] value = new int[1];
      flag.copyTo(value);
      assertEquals(2, value[0]);
    }
  }

  @Test
  void anotherStreamWaitsForAnEvent() throws Exception {
    try (Module module = gpu.loadModule(kernel("spin"));
        Stream first = gpu.createStream();
        Stream second = gpu.createStream();
        Event done = gpu.createEvent();
        DeviceBuffer value = gpu.allocate(4)) {
      value.fill(1);
      module.function("spin").launch(LaunchConfig.grid(1).block(1).stream(first), arg(100_000_000L));
      value.fillAsync(2, first);
      done.record(first);
      second.waitFor(done);
      int[] seen = value.copyToAsync(new int[1], second).get(30, TimeUnit.SECONDS);
      assertEquals(2, seen[0], "the copy on the second stream ran after the first stream's fill");
    }
  }

  @Test
  void aBadLaunchFailsByTheNextSynchronizingCallNamingTheLaunch() {
    try (Module module = gpu.loadModule(kernel("saxpy")); DeviceBuffer x = gpu.allocate(4096)) {
      Kernel saxpy = module.function("saxpy");
      // 2048 threads per block: more than any device allows (CUDA_ERROR_INVALID_VALUE).
      GpuException e = assertThrows(GpuException.class, () -> {
        saxpy.launch(LaunchConfig.grid(1).block(2048), arg(1024), arg(1.0f), arg(x), arg(x));
        gpu.synchronize();
      });
      assertEquals("cuLaunchKernel(saxpy)", e.call());
      assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
      assertTrue(e.getMessage().startsWith("cuLaunchKernel(saxpy) failed: CUDA_ERROR_INVALID_VALUE (1)"), e.getMessage());
      // Reported once; the GPU goes on working.
      gpu.synchronize();
      x.copyFrom(new int[] {5});
      int[] back = new int[1];
      x.copyTo(back);
      assertEquals(5, back[0]);
    }
  }

  @Test
  void outOfMemoryNamesTheCallAndTheError() {
    long tooMuch = gpu.device().totalMemoryBytes() + (1L << 30);
    GpuException e = assertThrows(GpuException.class, () -> gpu.allocate(tooMuch));
    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
    assertEquals(2, e.result());
    assertEquals("cuMemAlloc(" + tooMuch + " bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)", e.getMessage());
  }

  @Test
  void anUnknownKernelNamesTheCall() {
    try (Module module = gpu.loadModule(kernel("saxpy"))) {
      GpuException e = assertThrows(GpuException.class, () -> module.function("no_such_kernel"));
      assertEquals("cuModuleGetFunction(no_such_kernel)", e.call());
      assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
    }
  }

  @Test
  void useAfterCloseThrows() {
    DeviceBuffer buffer = gpu.allocate(16);
    Stream stream = gpu.createStream();
    Event event = gpu.createEvent();
    buffer.close();
    buffer.close();
    stream.close();
    event.close();
    assertThrows(IllegalStateException.class, () -> buffer.copyFrom(new int[4]));
    assertThrows(IllegalStateException.class, () -> buffer.copyTo(new int[4]));
    assertThrows(IllegalStateException.class, stream::synchronize);
    assertThrows(IllegalStateException.class, () -> event.record(null));
    DeviceBuffer live = gpu.allocate(16);
    gpu.close();
    gpu.close();
    assertThrows(IllegalStateException.class, () -> gpu.allocate(16));
    assertThrows(IllegalStateException.class, gpu::synchronize);
    assertThrows(IllegalStateException.class, () -> live.copyFrom(new int[4]));
    live.close(); // after the GPU: nothing to free, no error
  }

  @Test
  void closingTheGpuFreesItsMemory() {
    long before = gpu.memoryInfo().freeBytes();
    gpu.allocate(256L * MiB);
    gpu.allocate(256L * MiB);
    assertTrue(gpu.memoryInfo().freeBytes() <= before - 512L * MiB);
    gpu.close();
    gpu = acquire();
    assertTrue(gpu.memoryInfo().freeBytes() >= before - 16L * MiB,
        "free after close and reacquire: " + gpu.memoryInfo().freeBytes() + ", before " + before);
  }
}
