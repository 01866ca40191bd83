package io.gpupool.remote;

import io.gpupool.proto.v1.ParamInfo;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.driver.CUfunction;

/** A function's parameter layout from the driver's cuFuncGetParamInfo ({@link DriverFunctions}). */
final class DriverParamLayout {
  /** NativePointerObject.getNativePointer (protected): the raw CUfunction. */
  private static final Method NATIVE_POINTER;

  static {
    Method m;
    try {
      m = NativePointerObject.class.getDeclaredMethod("getNativePointer");
      m.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      m = null;
    }
    NATIVE_POINTER = m;
  }

  private DriverParamLayout() {}

  /** True if cuFuncGetParamInfo can be attempted (the driver may still lack it). */
  static boolean available() {
    return NATIVE_POINTER != null && DriverFunctions.loaded();
  }

  /** The raw handle (CUfunction, CUstream, ...) JCuda keeps, 0 if it cannot be read. */
  static long rawPointer(NativePointerObject function) {
    if (NATIVE_POINTER == null || function == null) return 0;
    try {
      return (Long) NATIVE_POINTER.invoke(function);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * The function's parameter layout as the driver reports it, or null when it cannot be had
   * this way (no JNI library, a driver without cuFuncGetParamInfo, or any other failure).
   */
  static List<ParamInfo> of(CUfunction function) {
    if (!available()) return null;
    long raw = rawPointer(function);
    if (raw == 0) return null;
    List<ParamInfo> params = new ArrayList<>();
    long[] offsetAndSize = new long[2];
    try {
      for (long index = 0; ; index++) {
        int r = DriverFunctions.cuFuncGetParamInfo(raw, index, offsetAndSize);
        if (r == CudaResult.INVALID_VALUE) return params; // past the last parameter
        if (r != CudaResult.SUCCESS) return null; // CUDA_ERROR_NOT_FOUND: an older driver
        long offset = offsetAndSize[0];
        long size = offsetAndSize[1];
        if (offset < 0 || size < 0 || offset + size > Integer.MAX_VALUE) return null;
        params.add(ParamInfo.newBuilder().setOffset((int) offset).setSize((int) size).build());
      }
    } catch (LinkageError e) { // a JNI library without the method
      return null;
    }
  }
}
