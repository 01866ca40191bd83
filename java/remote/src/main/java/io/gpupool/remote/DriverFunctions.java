package io.gpupool.remote;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * Driver entry points that JCuda 12.0.0 does not bind, through a small JavaCPP binding
 * (javacpp:build compiles src/main/cpp/gpupool_driver_functions.h into a JNI library next to
 * this class). The functions are looked up with dlsym in the libcuda.so.1 that JCuda already
 * loaded, so nothing links against libcuda and a driver without a symbol answers
 * CUDA_ERROR_NOT_FOUND rather than failing to load. {@link DriverParamLayout} and {@link
 * VmmCalls} use it (the latter because JCuda fills CUmemAllocationProp wrongly).
 *
 * <p>This class must refer to nothing but JavaCPP: javacpp:build loads it with only
 * target/classes and JavaCPP on its class path, and silently leaves out a class it cannot load.
 */
@Platform(include = "gpupool_driver_functions.h")
@Namespace("gpupool_remote")
public final class DriverFunctions {
  private static final Throwable LOAD_FAILURE;

  static {
    Throwable failure = null;
    try {
      Loader.load();
    } catch (Throwable t) { // UnsatisfiedLinkError, or Loader's own failures: the PTX parse remains
      failure = t;
    }
    LOAD_FAILURE = failure;
  }

  private DriverFunctions() {}

  /** True if the JNI library loaded (the driver may still lack a function: see the CUresult). */
  static boolean loaded() {
    return LOAD_FAILURE == null;
  }

  /**
   * cuFuncGetParamInfo: {@code offsetAndSize[0]} and {@code [1]} receive parameter {@code index}'s
   * offset and size. Returns the CUresult: CUDA_ERROR_INVALID_VALUE past the last parameter,
   * CUDA_ERROR_NOT_FOUND when the driver has no cuFuncGetParamInfo.
   */
  public static native int cuFuncGetParamInfo(long function, long index, long[] offsetAndSize);

  /** cuMemGetAllocationGranularity for pinned memory on {@code device}: {@code out[0]}. */
  public static native int vmmGranularity(long[] out, int device, int compression, int rdma, int usage, int option);

  /** cuMemCreate of pinned memory on {@code device}: {@code handle[0]} is the new handle. */
  public static native int vmmCreate(long[] handle, long size, int device, int compression, int rdma, int usage,
      long flags);

  public static native int vmmRelease(long handle);

  public static native int vmmMap(long ptr, long size, long offset, long handle, long flags);

  /** cuMemSetAccess with one descriptor, {@code device}'s access. */
  public static native int vmmSetAccess(long ptr, long size, int device, int flags);

  /** cuMemAllocAsync on the stream whose raw handle is {@code stream}: {@code ptr[0]}. */
  public static native int memAllocAsync(long[] ptr, long size, long stream);

  /**
   * cuLaunchKernel of the raw CUfunction {@code function} on the raw CUstream {@code stream}, with
   * {@code kernelParams} the address of a {@code void*} array (0: NULL). Grid and block sizes,
   * and the shared bytes, are unsigned as in cuda.h.
   */
  public static native int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY,
      int blockZ, int sharedBytes, long stream, long kernelParams);

  /** cuMemGetAccess of {@code device}: {@code out[0]}. */
  public static native int vmmGetAccess(long[] out, int device, long ptr);
}
