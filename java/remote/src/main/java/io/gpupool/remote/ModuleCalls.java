package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleGetGlobal;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import io.gpupool.proto.v1.FunctionInfo;
import io.gpupool.proto.v1.GlobalInfo;
import io.gpupool.proto.v1.LaunchKernel;
import io.gpupool.proto.v1.ParamInfo;
import io.gpupool.proto.v1.Reply;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * Modules, their functions and globals, and kernel launches. A function's parameter layout is
 * what the client needs to pack a launch and what the worker needs to unpack it; it comes from
 * the driver's cuFuncGetParamInfo ({@link DriverFunctions}), whatever the image format, and
 * only where that cannot be called (a driver older than CUDA 12.4, or the JNI library did not
 * load) from the module's PTX ({@link PtxParamLayout}). Launches go through {@link
 * DirectLauncher} where it can take the function, else through JCuda. Asking for
 * the same function or global twice gives the same handle, so a client that looks a kernel up
 * before every launch does not use up its handles.
 */
final class ModuleCalls {
  /** A loaded module and its entries' layouts (null for a cubin/fatbin). */
  record LoadedModule(CUmodule module, Map<String, List<ParamInfo>> layouts) {}

  /** {@code direct}: prepared for {@link DirectLauncher}, or null (launched through JCuda). */
  record Function(CUfunction function, List<ParamInfo> layout, LayoutSource source, DirectLauncher.Prepared direct) {}

  /** Where a function's parameter layout came from. */
  enum LayoutSource { DRIVER, PTX }

  /** The source of the layout of the function most recently looked up (for tests). */
  static volatile LayoutSource lastLayoutSource;

  private final HandleTable table;
  private final Streams streams;
  private final Map<String, Long> functionIds = new HashMap<>();
  private final DirectLauncher launcher = DirectLauncher.create();

  ModuleCalls(HandleTable table, Streams streams) {
    this.table = table;
    this.streams = streams;
  }

  Reply load(long seq, byte[] image) {
    if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    if (image.length == 0) return ReplySink.result(seq, CudaResult.INVALID_VALUE);
    Map<String, List<ParamInfo>> layouts = null;
    if (PtxParamLayout.isPtx(image)) {
      if (image[image.length - 1] != 0) image = Arrays.copyOf(image, image.length + 1); // PTX must end in NUL
      layouts = PtxParamLayout.parse(image);
    }
    CUmodule module = new CUmodule();
    int r = cuModuleLoadData(module, image);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    long id = table.add(HandleTable.Kind.MODULE, new LoadedModule(module, layouts), 0);
    return Reply.newBuilder().setSeq(seq).setHandle(id).build();
  }

  int unload(long id) {
    LoadedModule m = table.get(id, HandleTable.Kind.MODULE, LoadedModule.class);
    if (m == null) return CudaResult.INVALID_HANDLE;
    int r = cuModuleUnload(m.module());
    if (r == CudaResult.SUCCESS) {
      table.removeModuleChildren(id);
      table.remove(id);
      functionIds.keySet().removeIf(k -> k.startsWith(id + "/"));
    }
    return r;
  }

  Reply function(long seq, long moduleId, String name) {
    LoadedModule m = table.get(moduleId, HandleTable.Kind.MODULE, LoadedModule.class);
    if (m == null) return ReplySink.result(seq, CudaResult.INVALID_HANDLE);
    String key = moduleId + "/" + name;
    Long known = functionIds.get(key);
    if (known == null) {
      if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
      CUfunction f = new CUfunction();
      int r = cuModuleGetFunction(f, m.module(), name);
      if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
      LayoutSource source = LayoutSource.DRIVER;
      List<ParamInfo> layout = DriverParamLayout.of(f);
      if (layout == null) {
        source = LayoutSource.PTX;
        layout = m.layouts() == null ? null : m.layouts().get(name);
      }
      if (layout == null) return ReplySink.result(seq, CudaResult.NOT_SUPPORTED); // no layout: cannot launch it
      lastLayoutSource = source;
      DirectLauncher.Prepared direct = launcher == null ? null : launcher.prepare(DriverParamLayout.rawPointer(f), layout);
      known = table.add(HandleTable.Kind.FUNCTION, new Function(f, layout, source, direct), moduleId);
      functionIds.put(key, known);
    }
    Function f = table.get(known, HandleTable.Kind.FUNCTION, Function.class);
    FunctionInfo info = FunctionInfo.newBuilder().setHandle(known).addAllParams(f.layout()).build();
    return Reply.newBuilder().setSeq(seq).setFunction(info).build();
  }

  Reply global(long seq, long moduleId, String name) {
    LoadedModule m = table.get(moduleId, HandleTable.Kind.MODULE, LoadedModule.class);
    if (m == null) return ReplySink.result(seq, CudaResult.INVALID_HANDLE);
    DevicePointer p = new DevicePointer();
    long[] bytes = new long[1];
    int r = cuModuleGetGlobal(p, bytes, m.module(), name);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    if (table.region(p.address()) == null) {
      if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
      table.addRegion(p, bytes[0], moduleId);
    }
    GlobalInfo info = GlobalInfo.newBuilder().setDptr(p.address()).setBytes(bytes[0]).build();
    return Reply.newBuilder().setSeq(seq).setGlobal(info).build();
  }

  int launch(LaunchKernel c) {
    return launch(c.getFunction(), c.getGridX(), c.getGridY(), c.getGridZ(), c.getBlockX(), c.getBlockY(), c.getBlockZ(),
        c.getSharedBytes(), c.getStream(), c.getParams().asReadOnlyByteBuffer());
  }

  /** A LaunchKernel's fields; {@code params} holds the packed parameters from its position to its limit. */
  int launch(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes,
      long streamId, ByteBuffer params) {
    Function f = table.get(function, HandleTable.Kind.FUNCTION, Function.class);
    if (f == null) return CudaResult.INVALID_HANDLE;
    if (f.direct() != null) {
      long raw = streams.raw(streamId);
      return raw == -1 ? CudaResult.INVALID_HANDLE
          : launcher.launch(f.direct(), gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, raw, params);
    }
    CUstream stream = streams.resolve(streamId);
    if (stream == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    byte[] packed = new byte[params.remaining()];
    params.get(packed);
    Pointer kernelParams = KernelParams.unpack(f.layout(), packed);
    if (kernelParams == null) return CudaResult.INVALID_VALUE;
    return cuLaunchKernel(f.function(), gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, kernelParams,
        null);
  }
}
