package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventQuery;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import io.gpupool.proto.v1.Reply;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;

/** Event calls on the session's own events (anything else: CUDA_ERROR_INVALID_HANDLE). */
final class Events {
  private final HandleTable table;
  private final Streams streams;

  Events(HandleTable table, Streams streams) {
    this.table = table;
    this.streams = streams;
  }

  private CUevent own(long value) {
    return table.get(value, HandleTable.Kind.EVENT, CUevent.class);
  }

  Reply create(long seq, int flags) {
    if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    CUevent e = new CUevent();
    int r = cuEventCreate(e, flags);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    return Reply.newBuilder().setSeq(seq).setHandle(table.add(HandleTable.Kind.EVENT, e, 0)).build();
  }

  int destroy(long value) {
    CUevent e = own(value);
    if (e == null) return CudaResult.INVALID_HANDLE;
    int r = cuEventDestroy(e);
    if (r == CudaResult.SUCCESS) table.remove(value);
    return r;
  }

  int record(long event, long stream) {
    CUevent e = own(event);
    CUstream s = streams.resolve(stream);
    if (e == null || s == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    return cuEventRecord(e, s);
  }

  int synchronize(long event) {
    CUevent e = own(event);
    return e == null ? CudaResult.INVALID_HANDLE : cuEventSynchronize(e);
  }

  int query(long event) {
    CUevent e = own(event);
    return e == null ? CudaResult.INVALID_HANDLE : cuEventQuery(e);
  }

  Reply elapsed(long seq, long start, long end) {
    CUevent a = own(start);
    CUevent b = own(end);
    if (a == null || b == null) return ReplySink.result(seq, CudaResult.INVALID_HANDLE);
    float[] ms = new float[1];
    int r = cuEventElapsedTime(ms, a, b);
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    return Reply.newBuilder().setSeq(seq).setMilliseconds(ms[0]).build();
  }
}
