package io.gpupool.remote;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.Barrier;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CtxSynchronize;
import io.gpupool.proto.v1.EventCreate;
import io.gpupool.proto.v1.LaunchKernel;
import io.gpupool.proto.v1.MemAlloc;
import io.gpupool.proto.v1.MemFree;
import io.gpupool.proto.v1.MemGetInfo;
import io.gpupool.proto.v1.MemcpyDtoH;
import io.gpupool.proto.v1.MemcpyHtoD;
import io.gpupool.proto.v1.Memset;
import io.gpupool.proto.v1.ModuleGetFunction;
import io.gpupool.proto.v1.ModuleLoadData;
import io.gpupool.proto.v1.StreamCreate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Call builders for the tests (seq is set by RawClient). */
final class Calls {
  private Calls() {}

  static Call.Builder alloc(long bytes) {
    return Call.newBuilder().setMemAlloc(MemAlloc.newBuilder().setBytes(bytes));
  }

  static Call.Builder free(long dptr) {
    return Call.newBuilder().setMemFree(MemFree.newBuilder().setDptr(dptr));
  }

  static Call.Builder info() {
    return Call.newBuilder().setMemGetInfo(MemGetInfo.getDefaultInstance());
  }

  static Call.Builder htod(long dptr, long offset, byte[] data, int from, int length) {
    return Call.newBuilder().setMemcpyHtod(
        MemcpyHtoD.newBuilder().setDptr(dptr).setOffset(offset).setData(ByteString.copyFrom(data, from, length)));
  }

  static Call.Builder dtoh(long dptr, long bytes) {
    return Call.newBuilder().setMemcpyDtoh(MemcpyDtoH.newBuilder().setDptr(dptr).setBytes(bytes));
  }

  static Call.Builder memset(long dptr, int value, int elementSize, long count) {
    return Call.newBuilder().setMemset(
        Memset.newBuilder().setDptr(dptr).setValue(value).setElementSize(elementSize).setCount(count));
  }

  static Call.Builder barrier() {
    return Call.newBuilder().setBarrier(Barrier.getDefaultInstance());
  }

  static Call.Builder sync() {
    return Call.newBuilder().setCtxSynchronize(CtxSynchronize.getDefaultInstance());
  }

  static Call.Builder streamCreate() {
    return Call.newBuilder().setStreamCreate(StreamCreate.getDefaultInstance());
  }

  static Call.Builder eventCreate() {
    return Call.newBuilder().setEventCreate(EventCreate.getDefaultInstance());
  }

  static Call.Builder load(byte[] image) {
    return Call.newBuilder().setModuleLoadData(ModuleLoadData.newBuilder().setImage(ByteString.copyFrom(image)));
  }

  static Call.Builder function(long module, String name) {
    return Call.newBuilder().setModuleGetFunction(ModuleGetFunction.newBuilder().setModule(module).setName(name));
  }

  static Call.Builder launch(long function, int grid, int block, byte[] params) {
    return Call.newBuilder().setLaunchKernel(LaunchKernel.newBuilder().setFunction(function)
        .setGridX(grid).setGridY(1).setGridZ(1).setBlockX(block).setBlockY(1).setBlockZ(1)
        .setParams(ByteString.copyFrom(params)));
  }

  /** Stream calls. */
  static final class Stream {
    private Stream() {}

    static Call.Builder sync(long stream) {
      return Call.newBuilder().setStreamSynchronize(io.gpupool.proto.v1.StreamSynchronize.newBuilder().setStream(stream));
    }
  }

  static byte[] ptx(String kernel) throws IOException {
    String dir = System.getProperty("gpupool.kernels.dir");
    if (dir == null) throw new IllegalStateException("gpupool.kernels.dir is not set (surefire sets it)");
    return Files.readAllBytes(Path.of(dir, kernel + ".ptx"));
  }
}
