package io.gpupool.remote;

import io.gpupool.proto.v1.ParamInfo;
import java.nio.ByteBuffer;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * Kernel launches through {@link DriverFunctions#launchKernel}, the worker's hot path for
 * pipelined launches. JCuda's cuLaunchKernel takes the parameters as one Java Pointer per
 * parameter inside a Pointer array, which its JNI code walks, pins and releases on every launch
 * (and the worker had to copy each parameter into an array of its own first): per launch that
 * cost more than the rest of the worker's work together. Here each session has one native
 * parameter area; a launch copies the client's packed bytes into it and passes a kernelParams
 * array that points into it, built once per function. The driver copies the parameters when the
 * launch is made, so the area is reused by the next launch at once.
 *
 * <p>Contract: {@link #prepare} once per function (null when this path cannot take it: the JNI
 * library did not load, no raw CUfunction, or a layout larger than the area), then
 * {@link #launch}. Threading: used only by whoever executes the session's calls (one at a time,
 * see {@link Session}). Ownership: the area and the arrays are native memory held by this
 * object and the {@link Prepared}s; JavaCPP frees them once they are unreachable.
 */
final class DirectLauncher {
  /** The most parameter bytes a kernel may take (CUDA 12.1 and later, compute capability 7.0+). */
  static final int MAX_PARAM_BYTES = 32764;

  /** A function ready to launch: its raw handle, its kernelParams array and its packed size. */
  record Prepared(long function, LongPointer kernelParams, int paramBytes) {
    long kernelParamsAddress() {
      return kernelParams == null ? 0 : kernelParams.address();
    }
  }

  private final BytePointer area = new BytePointer(MAX_PARAM_BYTES);
  private final ByteBuffer areaBuffer = area.asByteBuffer();

  /** A launcher, or null when {@link DriverFunctions} did not load (JCuda's path remains). */
  static DirectLauncher create() {
    return DriverFunctions.loaded() ? new DirectLauncher() : null;
  }

  private DirectLauncher() {}

  /** The function prepared for {@link #launch}, or null when it must go through JCuda. */
  Prepared prepare(long rawFunction, List<ParamInfo> layout) {
    if (rawFunction == 0) return null;
    long end = 0;
    for (ParamInfo p : layout) {
      end = Math.max(end, Integer.toUnsignedLong(p.getOffset()) + Integer.toUnsignedLong(p.getSize()));
    }
    if (end > MAX_PARAM_BYTES) return null;
    LongPointer params = null;
    if (!layout.isEmpty()) {
      params = new LongPointer(layout.size());
      for (int i = 0; i < layout.size(); i++) params.put(i, area.address() + layout.get(i).getOffset());
    }
    return new Prepared(rawFunction, params, (int) end);
  }

  /**
   * Launches {@code f} on the raw stream {@code stream} with the packed parameters in
   * {@code params} (from its position to its limit; the position moves): the CUresult, or
   * CUDA_ERROR_INVALID_VALUE when they are shorter than the layout.
   */
  int launch(Prepared f, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes,
      long stream, ByteBuffer params) {
    if (params.remaining() < f.paramBytes()) return CudaResult.INVALID_VALUE;
    int limit = params.limit();
    params.limit(params.position() + f.paramBytes());
    areaBuffer.clear();
    areaBuffer.put(params);
    params.limit(limit);
    return DriverFunctions.launchKernel(f.function(), gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream,
        f.kernelParamsAddress());
  }
}
