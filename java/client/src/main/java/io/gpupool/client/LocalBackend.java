package io.gpupool.client;

import static jcuda.driver.JCudaDriver.*;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * A GPU of this machine through JCuda: the primary context of one device, owned by one
 * {@link LocalExecutor} thread that makes every call, in order. Handles other than device
 * pointers are this back end's own numbers; everything still held is freed by close.
 */
final class LocalBackend implements GpuBackend {
  /** A device pointer whose address is readable (JCuda keeps it protected). */
  private static final class DevicePointer extends CUdeviceptr {
    long address() {
      return getNativePointer();
    }
  }

  private final LocalExecutor executor;
  private final CUdevice device = new CUdevice();
  private final GpuDevice properties;
  // Only touched on the executor's thread.
  private final Map<Long, DevicePointer> buffers = new HashMap<>();
  private final Map<Long, CUmodule> modules = new HashMap<>();
  private final Map<Long, CUfunction> functions = new HashMap<>();
  private final Map<Long, CUstream> streams = new HashMap<>();
  private final Map<Long, CUevent> events = new HashMap<>();
  private long nextHandle = 1;

  LocalBackend(int ordinal) {
    executor = new LocalExecutor("gpupool-local-gpu-" + ordinal);
    try {
      properties = executor.call("cuInit", () -> open(ordinal));
    } catch (RuntimeException | Error e) {
      executor.shutdown(() -> {});
      if (e instanceof LinkageError) {
        throw new PoolUnavailableException("cannot load the CUDA driver (libcuda.so.1) through JCuda: "
            + e.getMessage() + " (LD_LIBRARY_PATH=" + System.getenv().getOrDefault("LD_LIBRARY_PATH", "") + ")", e);
      }
      throw e;
    }
  }

  private GpuDevice open(int ordinal) {
    JCudaDriver.setExceptionsEnabled(false);
    check("cuInit", cuInit(0));
    check("cuDeviceGet(" + ordinal + ")", cuDeviceGet(device, ordinal));
    CUcontext context = new CUcontext();
    check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(context, device));
    check("cuCtxSetCurrent", cuCtxSetCurrent(context));
    return LocalDevice.read(device);
  }

  static void check(String call, int result) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw new GpuException(call, result);
    }
  }

  @Override public GpuDevice device() { return properties; }

  @Override
  public MemoryInfo memGetInfo() {
    return executor.call("cuMemGetInfo", () -> {
      long[] free = new long[1];
      long[] total = new long[1];
      check("cuMemGetInfo", cuMemGetInfo(free, total));
      return new MemoryInfo(free[0], total[0]);
    });
  }

  @Override
  public long memAlloc(long bytes) {
    String call = "cuMemAlloc(" + bytes + " bytes)";
    return executor.call(call, () -> {
      DevicePointer p = new DevicePointer();
      check(call, cuMemAlloc(p, bytes));
      buffers.put(p.address(), p);
      return p.address();
    });
  }

  @Override
  public void memFree(long dptr) {
    executor.pipeline("cuMemFree", () -> {
      DevicePointer p = buffers.remove(dptr);
      return p == null ? CUresult.CUDA_ERROR_INVALID_VALUE : cuMemFree(p);
    });
  }

  @Override
  public void copyHtoD(long dptr, HostMemory src) {
    String call = "cuMemcpyHtoD(" + src.bytes() + " bytes)";
    executor.call(call, () -> check(call, cuMemcpyHtoD(buffer(dptr), src.pointer(), src.bytes())));
  }

  // An async copy from or to the Java heap cannot be left running on the device: the
  // thread waits for the stream, then copies (the next work on the stream comes after).
  @Override
  public CompletableFuture<Void> copyHtoDAsync(long dptr, HostMemory src, long stream) {
    String call = "cuMemcpyHtoDAsync(" + src.bytes() + " bytes)";
    return executor.future(call, () -> {
      check("cuStreamSynchronize", cuStreamSynchronize(stream(stream)));
      check(call, cuMemcpyHtoD(buffer(dptr), src.pointer(), src.bytes()));
      return null;
    });
  }

  @Override
  public void copyDtoH(HostMemory dst, long dptr) {
    String call = "cuMemcpyDtoH(" + dst.bytes() + " bytes)";
    executor.call(call, () -> check(call, cuMemcpyDtoH(dst.pointer(), buffer(dptr), dst.bytes())));
  }

  @Override
  public CompletableFuture<Void> copyDtoHAsync(HostMemory dst, long dptr, long stream) {
    String call = "cuMemcpyDtoHAsync(" + dst.bytes() + " bytes)";
    return executor.future(call, () -> {
      check("cuStreamSynchronize", cuStreamSynchronize(stream(stream)));
      check(call, cuMemcpyDtoH(dst.pointer(), buffer(dptr), dst.bytes()));
      return null;
    });
  }

  @Override
  public void copyDtoD(long dst, long src, long bytes, long stream, boolean async) {
    executor.pipeline((async ? "cuMemcpyDtoDAsync(" : "cuMemcpyDtoD(") + bytes + " bytes)", () -> async
        ? cuMemcpyDtoDAsync(buffer(dst), buffer(src), bytes, stream(stream))
        : cuMemcpyDtoD(buffer(dst), buffer(src), bytes));
  }

  @Override
  public void memset(long dptr, int value, int elementSize, long count, long stream, boolean async) {
    String call = "cuMemsetD" + 8 * elementSize + (async ? "Async(" : "(") + count + " elements)";
    executor.pipeline(call, () -> {
      CUdeviceptr p = buffer(dptr);
      CUstream s = stream(stream);
      switch (elementSize) {
        case 1: return async ? cuMemsetD8Async(p, (byte) value, count, s) : cuMemsetD8(p, (byte) value, count);
        case 2: return async ? cuMemsetD16Async(p, (short) value, count, s) : cuMemsetD16(p, (short) value, count);
        default: return async ? cuMemsetD32Async(p, value, count, s) : cuMemsetD32(p, value, count);
      }
    });
  }

  @Override
  public long moduleLoad(byte[] image) {
    return executor.call("cuModuleLoadData", () -> {
      CUmodule module = new CUmodule();
      check("cuModuleLoadData", cuModuleLoadData(module, image));
      return put(modules, module);
    });
  }

  @Override
  public void moduleUnload(long module) {
    executor.pipeline("cuModuleUnload", () -> {
      CUmodule m = modules.remove(module);
      return m == null ? CUresult.CUDA_ERROR_INVALID_HANDLE : cuModuleUnload(m);
    });
  }

  @Override
  public Function moduleGetFunction(long module, String name) {
    String call = "cuModuleGetFunction(" + name + ")";
    return executor.call(call, () -> {
      CUfunction f = new CUfunction();
      check(call, cuModuleGetFunction(f, handle(modules, module), name));
      // Parameter layouts need cuFuncGetParamInfo (CUDA 12.4), which JCuda 12.0 lacks.
      return new Function(put(functions, f), name, null, null);
    });
  }

  @Override
  public void launch(Function function, LaunchConfig c, long stream, byte[][] args) {
    Pointer[] params = new Pointer[args.length];
    for (int i = 0; i < args.length; i++) {
      // At least 8 bytes, so that an argument narrower than its parameter is never read past.
      params[i] = Pointer.to(Arrays.copyOf(args[i], Math.max(8, args[i].length)));
    }
    executor.pipeline("cuLaunchKernel(" + function.name() + ")", () -> cuLaunchKernel(
        handle(functions, function.handle()), c.gridDim(0), c.gridDim(1), c.gridDim(2),
        c.blockDim(0), c.blockDim(1), c.blockDim(2), c.sharedBytes(), stream(stream),
        params.length == 0 ? null : Pointer.to(params), null));
  }

  @Override
  public long streamCreate() {
    return executor.call("cuStreamCreate", () -> {
      CUstream s = new CUstream();
      check("cuStreamCreate", cuStreamCreate(s, 0));
      return put(streams, s);
    });
  }

  @Override
  public void streamDestroy(long stream) {
    executor.pipeline("cuStreamDestroy", () -> {
      CUstream s = streams.remove(stream);
      return s == null ? CUresult.CUDA_ERROR_INVALID_HANDLE : cuStreamDestroy(s);
    });
  }

  @Override
  public void streamSynchronize(long stream) {
    executor.call("cuStreamSynchronize", () -> check("cuStreamSynchronize", cuStreamSynchronize(stream(stream))));
  }

  @Override
  public boolean streamQuery(long stream) {
    return executor.call("cuStreamQuery", () -> ready("cuStreamQuery", cuStreamQuery(stream(stream))));
  }

  @Override
  public void streamWaitEvent(long stream, long event) {
    executor.pipeline("cuStreamWaitEvent", () -> cuStreamWaitEvent(stream(stream), handle(events, event), 0));
  }

  @Override
  public long eventCreate() {
    return executor.call("cuEventCreate", () -> {
      CUevent e = new CUevent();
      check("cuEventCreate", cuEventCreate(e, 0));
      return put(events, e);
    });
  }

  @Override
  public void eventDestroy(long event) {
    executor.pipeline("cuEventDestroy", () -> {
      CUevent e = events.remove(event);
      return e == null ? CUresult.CUDA_ERROR_INVALID_HANDLE : cuEventDestroy(e);
    });
  }

  @Override
  public void eventRecord(long event, long stream) {
    executor.pipeline("cuEventRecord", () -> cuEventRecord(handle(events, event), stream(stream)));
  }

  @Override
  public void eventSynchronize(long event) {
    executor.call("cuEventSynchronize", () -> check("cuEventSynchronize", cuEventSynchronize(handle(events, event))));
  }

  @Override
  public boolean eventQuery(long event) {
    return executor.call("cuEventQuery", () -> ready("cuEventQuery", cuEventQuery(handle(events, event))));
  }

  @Override
  public float eventElapsedTime(long start, long end) {
    return executor.call("cuEventElapsedTime", () -> {
      float[] ms = new float[1];
      check("cuEventElapsedTime", cuEventElapsedTime(ms, handle(events, start), handle(events, end)));
      return ms[0];
    });
  }

  @Override
  public void ctxSynchronize() {
    executor.call("cuCtxSynchronize", () -> check("cuCtxSynchronize", cuCtxSynchronize()));
  }

  /** Frees what the session still holds, as a worker does when its client goes, and releases the context. */
  @Override
  public void close() {
    executor.shutdown(() -> {
      cuCtxSynchronize();
      events.values().forEach(e -> cuEventDestroy(e));
      streams.values().forEach(s -> cuStreamDestroy(s));
      modules.values().forEach(m -> cuModuleUnload(m));
      buffers.values().forEach(p -> cuMemFree(p));
      events.clear();
      streams.clear();
      modules.clear();
      functions.clear();
      buffers.clear();
      cuCtxSetCurrent(new CUcontext());
      cuDevicePrimaryCtxRelease(device);
    });
  }

  private static boolean ready(String call, int result) {
    if (result == CUresult.CUDA_ERROR_NOT_READY) {
      return false;
    }
    check(call, result);
    return true;
  }

  private <T> long put(Map<Long, T> table, T value) {
    long handle = nextHandle++;
    table.put(handle, value);
    return handle;
  }

  private static <T> T handle(Map<Long, T> table, long handle) {
    T value = table.get(handle);
    if (value == null) {
      throw new GpuException("handle " + handle, CUresult.CUDA_ERROR_INVALID_HANDLE);
    }
    return value;
  }

  private CUdeviceptr buffer(long dptr) {
    DevicePointer p = buffers.get(dptr);
    if (p == null) {
      throw new GpuException("device pointer 0x" + Long.toHexString(dptr), CUresult.CUDA_ERROR_INVALID_VALUE);
    }
    return p;
  }

  private CUstream stream(long handle) {
    return handle == 0 ? null : handle(streams, handle);
  }
}
