package io.gpupool.client;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Device memory of a {@link RemoteGpu} ({@code cuMemAlloc}); {@link #close} frees it.
 *
 * <p>Copies start at the buffer's first byte and move the whole host array, or a
 * ByteBuffer's remaining bytes (its position is not changed). Synchronous copies return
 * when the data is there. Asynchronous ones are ordered on their stream; the host memory
 * must not be changed (copies from) or read (copies to) until their future completes.
 */
public final class DeviceBuffer implements AutoCloseable {
  private final RemoteGpu gpu;
  private final long pointer;
  private final long bytes;
  private volatile boolean closed;

  DeviceBuffer(RemoteGpu gpu, long pointer, long bytes) {
    this.gpu = gpu;
    this.pointer = pointer;
    this.bytes = bytes;
  }

  public long bytes() {
    return bytes;
  }

  /** The device address, as a kernel sees it. */
  public long devicePointer() {
    return pointer;
  }

  public RemoteGpu gpu() {
    return gpu;
  }

  public void copyFrom(byte[] src) { copyFrom(HostMemory.of(src)); }
  public void copyFrom(int[] src) { copyFrom(HostMemory.of(src)); }
  public void copyFrom(long[] src) { copyFrom(HostMemory.of(src)); }
  public void copyFrom(float[] src) { copyFrom(HostMemory.of(src)); }
  public void copyFrom(double[] src) { copyFrom(HostMemory.of(src)); }
  public void copyFrom(ByteBuffer src) { copyFrom(HostMemory.of(src, false)); }

  public void copyTo(byte[] dst) { copyTo(HostMemory.of(dst)); }
  public void copyTo(int[] dst) { copyTo(HostMemory.of(dst)); }
  public void copyTo(long[] dst) { copyTo(HostMemory.of(dst)); }
  public void copyTo(float[] dst) { copyTo(HostMemory.of(dst)); }
  public void copyTo(double[] dst) { copyTo(HostMemory.of(dst)); }
  public void copyTo(ByteBuffer dst) { copyTo(HostMemory.of(dst, true)); }

  public CompletableFuture<Void> copyFromAsync(byte[] src, Stream stream) { return copyFromAsync(HostMemory.of(src), stream); }
  public CompletableFuture<Void> copyFromAsync(int[] src, Stream stream) { return copyFromAsync(HostMemory.of(src), stream); }
  public CompletableFuture<Void> copyFromAsync(long[] src, Stream stream) { return copyFromAsync(HostMemory.of(src), stream); }
  public CompletableFuture<Void> copyFromAsync(float[] src, Stream stream) { return copyFromAsync(HostMemory.of(src), stream); }
  public CompletableFuture<Void> copyFromAsync(double[] src, Stream stream) { return copyFromAsync(HostMemory.of(src), stream); }
  public CompletableFuture<Void> copyFromAsync(ByteBuffer src, Stream stream) { return copyFromAsync(HostMemory.of(src, false), stream); }

  /** Completes with {@code dst} once it holds the data. */
  public CompletableFuture<byte[]> copyToAsync(byte[] dst, Stream stream) { return copyToAsync(HostMemory.of(dst), stream).thenApply(v -> dst); }
  public CompletableFuture<int[]> copyToAsync(int[] dst, Stream stream) { return copyToAsync(HostMemory.of(dst), stream).thenApply(v -> dst); }
  public CompletableFuture<long[]> copyToAsync(long[] dst, Stream stream) { return copyToAsync(HostMemory.of(dst), stream).thenApply(v -> dst); }
  public CompletableFuture<float[]> copyToAsync(float[] dst, Stream stream) { return copyToAsync(HostMemory.of(dst), stream).thenApply(v -> dst); }
  public CompletableFuture<double[]> copyToAsync(double[] dst, Stream stream) { return copyToAsync(HostMemory.of(dst), stream).thenApply(v -> dst); }
  public CompletableFuture<ByteBuffer> copyToAsync(ByteBuffer dst, Stream stream) { return copyToAsync(HostMemory.of(dst, true), stream).thenApply(v -> dst); }

  /** Device-to-device, ordered with the default stream; pipelined. */
  public void copyFrom(DeviceBuffer src) {
    copyFrom(src, null, false);
  }

  /** Device-to-device on {@code stream}; pipelined. */
  public void copyFromAsync(DeviceBuffer src, Stream stream) {
    copyFrom(src, stream, true);
  }

  /** Sets every byte to {@code value} ({@code cuMemsetD8}); pipelined. */
  public void memset(byte value) {
    set(value & 0xff, 1, bytes, null, false);
  }

  public void memsetAsync(byte value, Stream stream) {
    set(value & 0xff, 1, bytes, stream, true);
  }

  /** Sets every 32-bit word ({@code cuMemsetD32}); pipelined. The size must be a multiple of 4. */
  public void fill(int value) {
    set(value, 4, words(), null, false);
  }

  public void fill(float value) {
    fill(Float.floatToRawIntBits(value));
  }

  public void fillAsync(int value, Stream stream) {
    set(value, 4, words(), stream, true);
  }

  /** Frees the memory (pipelined); a second close does nothing. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!gpu.isClosed()) {
      gpu.backend().memFree(pointer);
    }
  }

  @Override
  public String toString() {
    return "DeviceBuffer[" + bytes + " bytes at 0x" + Long.toHexString(pointer) + (closed ? ", freed]" : "]");
  }

  private void copyFrom(HostMemory src) {
    backend(src.bytes()).copyHtoD(pointer, src);
  }

  private void copyTo(HostMemory dst) {
    backend(dst.bytes()).copyDtoH(dst, pointer);
  }

  private CompletableFuture<Void> copyFromAsync(HostMemory src, Stream stream) {
    return backend(src.bytes()).copyHtoDAsync(pointer, src, Stream.handle(gpu, stream));
  }

  private CompletableFuture<Void> copyToAsync(HostMemory dst, Stream stream) {
    return backend(dst.bytes()).copyDtoHAsync(dst, pointer, Stream.handle(gpu, stream));
  }

  private void copyFrom(DeviceBuffer src, Stream stream, boolean async) {
    if (src.gpu != gpu) {
      throw new IllegalArgumentException("copy between buffers of two RemoteGpus");
    }
    src.backend(0);
    backend(src.bytes).copyDtoD(pointer, src.pointer, src.bytes, Stream.handle(gpu, stream), async);
  }

  private void set(int value, int elementSize, long count, Stream stream, boolean async) {
    backend(0).memset(pointer, value, elementSize, count, Stream.handle(gpu, stream), async);
  }

  private long words() {
    if (bytes % 4 != 0) {
      throw new IllegalArgumentException("fill of 32-bit words on a buffer of " + bytes + " bytes");
    }
    return bytes / 4;
  }

  private GpuBackend backend(long copyBytes) {
    if (closed) {
      throw new IllegalStateException(this + " was closed");
    }
    if (copyBytes > bytes) {
      throw new IllegalArgumentException(copyBytes + " bytes do not fit " + this);
    }
    return gpu.backend();
  }
}
