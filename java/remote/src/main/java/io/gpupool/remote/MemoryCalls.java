package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeAsync;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD16;
import static jcuda.driver.JCudaDriver.cuMemsetD16Async;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuMemsetD8;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.MemInfo;
import io.gpupool.proto.v1.MemcpyDtoD;
import io.gpupool.proto.v1.MemcpyDtoH;
import io.gpupool.proto.v1.MemcpyHtoD;
import io.gpupool.proto.v1.Memset;
import io.gpupool.proto.v1.RemoteLimits;
import io.gpupool.proto.v1.Reply;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * Device memory calls. Every client pointer range is checked against the session's regions
 * first ({@link HandleTable#resolve}): outside them the answer is CUDA_ERROR_INVALID_VALUE and
 * the driver is never called. Host data comes from and goes to Java arrays, which the driver
 * treats as pageable memory: an async HtoD copy snapshots it before returning and an async DtoH
 * copy completes before returning (as documented for pageable memory), so the arrays can be
 * reused at once.
 */
final class MemoryCalls {
  static final int CHUNK = RemoteLimits.MAX_CHUNK_BYTES_VALUE;

  private final HandleTable table;
  private final WorkerLimits limits;
  private final Streams streams;

  MemoryCalls(HandleTable table, WorkerLimits limits, Streams streams) {
    this.table = table;
    this.limits = limits;
    this.streams = streams;
  }

  Reply alloc(long seq, long bytes) {
    if (bytes == 0) return ReplySink.result(seq, CudaResult.INVALID_VALUE);
    if (bytes < 0 || bytes > limits.maxAllocationBytes() || table.full()) {
      return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    }
    DevicePointer p = new DevicePointer();
    int r = cuMemAlloc(p, bytes);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    table.addRegion(p, bytes, 0);
    return Reply.newBuilder().setSeq(seq).setHandle(p.address()).build();
  }

  /** cuMemAllocAsync (through {@link DriverFunctions}): an allocation like {@link #alloc}'s. */
  Reply allocAsync(long seq, long bytes, long stream) {
    if (bytes == 0) return ReplySink.result(seq, CudaResult.INVALID_VALUE);
    if (bytes < 0 || bytes > limits.maxAllocationBytes() || table.full()) {
      return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    }
    long raw = streams.raw(stream);
    if (raw == -1) return ReplySink.result(seq, CudaResult.INVALID_HANDLE);
    if (!DriverFunctions.loaded()) return ReplySink.result(seq, CudaResult.NOT_SUPPORTED);
    long[] p = new long[1];
    int r = DriverFunctions.memAllocAsync(p, bytes, raw);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    DevicePointer pointer = new DevicePointer(p[0]);
    table.addRegion(pointer, bytes, 0);
    return Reply.newBuilder().setSeq(seq).setHandle(pointer.address()).build();
  }

  int freeAsync(long dptr, long stream) {
    HandleTable.Region region = table.allocation(dptr);
    if (region == null) return CudaResult.INVALID_VALUE;
    CUstream s = streams.resolve(stream);
    if (s == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    // JCuda refuses a null stream object; one holding the NULL handle is the NULL stream.
    int r = cuMemFreeAsync(region.pointer(), s != null ? s : new CUstream());
    if (r == CudaResult.SUCCESS) table.removeRegion(dptr);
    return r;
  }

  Reply info(long seq) {
    long[] free = new long[1];
    long[] total = new long[1];
    int r = cuMemGetInfo(free, total);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    return Reply.newBuilder().setSeq(seq).setMemInfo(MemInfo.newBuilder().setFree(free[0]).setTotal(total[0])).build();
  }

  int free(long dptr) {
    HandleTable.Region region = table.allocation(dptr);
    if (region == null) return CudaResult.INVALID_VALUE;
    int r = cuMemFree(region.pointer());
    if (r == CudaResult.SUCCESS) table.removeRegion(dptr);
    return r;
  }

  int htod(MemcpyHtoD c) {
    long address = c.getDptr() + c.getOffset();
    if (c.getDptr() < 0 || c.getOffset() < 0 || address < 0) return CudaResult.INVALID_VALUE;
    ByteString data = c.getData();
    CUdeviceptr dst = table.resolve(address, data.size());
    if (dst == null) return CudaResult.INVALID_VALUE;
    if (data.isEmpty()) return CudaResult.SUCCESS;
    // The data is a view of the received frame (direct memory): the driver reads it in place.
    ByteBuffer view = data.asReadOnlyByteBuffer();
    Pointer src = view.isDirect() ? Pointer.to(view) : Pointer.to(data.toByteArray());
    if (!c.getAsync()) return cuMemcpyHtoD(dst, src, data.size());
    CUstream stream = streams.resolve(c.getStream());
    if (stream == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    return cuMemcpyHtoDAsync(dst, src, data.size(), stream);
  }

  /** Streams the bytes back in chunks of at most MAX_CHUNK_BYTES, the last one marked. */
  void dtoh(long seq, MemcpyDtoH c, ReplySink out) {
    long bytes = c.getBytes();
    CUdeviceptr src = table.resolve(c.getDptr(), bytes);
    CUstream stream = c.getAsync() ? streams.resolve(c.getStream()) : null;
    int check = src == null ? CudaResult.INVALID_VALUE : stream == Streams.INVALID ? CudaResult.INVALID_HANDLE : 0;
    if (check != CudaResult.SUCCESS) {
      out.add(Reply.newBuilder().setSeq(seq).setResult(check).setLast(true).build());
      return;
    }
    long offset = 0;
    do {
      int n = (int) Math.min(CHUNK, bytes - offset);
      if (n == 0) {
        out.add(Reply.newBuilder().setSeq(seq).setLast(true).build());
        return;
      }
      // The driver copies straight into the buffer the chunk's frame is sent from.
      ByteBuf chunk = out.buffer(n);
      int r;
      try {
        Pointer dst = Pointer.to(chunk.nioBuffer(0, n));
        CUdeviceptr at = offset == 0 ? src : src.withByteOffset(offset);
        r = c.getAsync() ? cuMemcpyDtoHAsync(dst, at, n, stream) : cuMemcpyDtoH(dst, at, n);
      } catch (RuntimeException e) {
        chunk.release();
        throw e;
      }
      boolean last = r != CudaResult.SUCCESS || offset + n == bytes;
      if (r == CudaResult.SUCCESS) {
        chunk.writerIndex(n);
        out.addData(seq, offset, last, chunk);
      } else {
        chunk.release();
        out.add(Reply.newBuilder().setSeq(seq).setResult(r).setOffset(offset).setLast(true).build());
      }
      if (last) return;
      offset += n;
    } while (true);
  }

  int dtod(MemcpyDtoD c) {
    CUdeviceptr dst = table.resolve(c.getDst(), c.getBytes());
    CUdeviceptr src = table.resolve(c.getSrc(), c.getBytes());
    if (dst == null || src == null) return CudaResult.INVALID_VALUE;
    if (!c.getAsync()) return cuMemcpyDtoD(dst, src, c.getBytes());
    CUstream stream = streams.resolve(c.getStream());
    if (stream == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    return cuMemcpyDtoDAsync(dst, src, c.getBytes(), stream);
  }

  int memset(Memset c) {
    int size = c.getElementSize();
    long count = c.getCount();
    if ((size != 1 && size != 2 && size != 4) || count < 0 || count > Long.MAX_VALUE / 4) return CudaResult.INVALID_VALUE;
    CUdeviceptr dst = table.resolve(c.getDptr(), count * size);
    if (dst == null) return CudaResult.INVALID_VALUE;
    CUstream stream = c.getAsync() ? streams.resolve(c.getStream()) : null;
    if (stream == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    int v = c.getValue();
    boolean async = c.getAsync();
    switch (size) {
      case 1: return async ? cuMemsetD8Async(dst, (byte) v, count, stream) : cuMemsetD8(dst, (byte) v, count);
      case 2: return async ? cuMemsetD16Async(dst, (short) v, count, stream) : cuMemsetD16(dst, (short) v, count);
      default: return async ? cuMemsetD32Async(dst, v, count, stream) : cuMemsetD32(dst, v, count);
    }
  }
}
