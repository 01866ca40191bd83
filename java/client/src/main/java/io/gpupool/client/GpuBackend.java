package io.gpupool.client;

import java.util.concurrent.CompletableFuture;

/**
 * What a {@link RemoteGpu} runs on: this machine's driver ({@link LocalBackend}) or a
 * worker through remote.proto ({@link RemoteBackend}). Handles are the back end's own
 * values; 0 is the default stream.
 *
 * <p>Both back ends keep the protocol's semantics: calls run in the order they are made,
 * on one context. Pipelined calls (marked below) return at once; the first failure among
 * them is thrown, naming the failed call, by the next synchronous call, which then does
 * not run.
 */
interface GpuBackend extends AutoCloseable {

  /** A kernel: its handle and, where known, its parameters' offsets and sizes. */
  record Function(long handle, String name, int[] paramOffsets, int[] paramSizes) {}

  GpuDevice device();

  MemoryInfo memGetInfo();

  long memAlloc(long bytes);

  /** Pipelined. */
  void memFree(long dptr);

  /** Synchronous with the host; ordered with the default stream. */
  void copyHtoD(long dptr, HostMemory src);

  /** Ordered on {@code stream}; completes when {@code src} was read and the copy is queued or done. */
  CompletableFuture<Void> copyHtoDAsync(long dptr, HostMemory src, long stream);

  void copyDtoH(HostMemory dst, long dptr);

  /** Ordered on {@code stream}; completes when the data is in {@code dst}. */
  CompletableFuture<Void> copyDtoHAsync(HostMemory dst, long dptr, long stream);

  /** Pipelined. */
  void copyDtoD(long dst, long src, long bytes, long stream, boolean async);

  /** Pipelined. {@code elementSize}: 1, 2 or 4. */
  void memset(long dptr, int value, int elementSize, long count, long stream, boolean async);

  long moduleLoad(byte[] image);

  /** Pipelined. */
  void moduleUnload(long module);

  Function moduleGetFunction(long module, String name);

  /** Pipelined. {@code args}: each argument's bytes. */
  void launch(Function function, LaunchConfig config, long stream, byte[][] args);

  long streamCreate();

  /** Pipelined. */
  void streamDestroy(long stream);

  void streamSynchronize(long stream);

  boolean streamQuery(long stream);

  /** Pipelined. */
  void streamWaitEvent(long stream, long event);

  long eventCreate();

  /** Pipelined. */
  void eventDestroy(long event);

  /** Pipelined. */
  void eventRecord(long event, long stream);

  void eventSynchronize(long event);

  boolean eventQuery(long event);

  float eventElapsedTime(long start, long end);

  void ctxSynchronize();

  /** Ends the session: everything it holds on the device is freed. Never throws GpuException. */
  @Override
  void close();
}
