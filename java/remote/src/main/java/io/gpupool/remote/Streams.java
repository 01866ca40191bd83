package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuStreamCreateWithPriority;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamQuery;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.StreamCreate;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Stream calls, and what a client's stream value means: 0 the NULL stream, 1 and 2 CUDA's
 * CU_STREAM_LEGACY and CU_STREAM_PER_THREAD (all calls run on one worker thread, so the latter
 * is that thread's default stream), anything else a stream this session created.
 */
final class Streams {
  /** Returned by {@link #resolve} for a value that is no stream of this session. */
  static final CUstream INVALID = new CUstream();

  private final HandleTable table;

  Streams(HandleTable table) {
    this.table = table;
  }

  CUstream resolve(long value) {
    if (value == 0) return null;
    if (value == 1) return JCudaDriver.CU_STREAM_LEGACY;
    if (value == 2) return JCudaDriver.CU_STREAM_PER_THREAD;
    CUstream s = table.get(value, HandleTable.Kind.STREAM, CUstream.class);
    return s != null ? s : INVALID;
  }

  /**
   * The driver's raw CUstream for a client's stream value (0, 1, 2: the special streams, whose
   * handles are those numbers), or -1 for no stream of this session or an unreadable handle.
   */
  long raw(long value) {
    if (value == 0 || value == 1 || value == 2) return value;
    CUstream s = own(value);
    long raw = s == null ? 0 : DriverParamLayout.rawPointer(s);
    return raw == 0 ? -1 : raw;
  }

  /** Only streams the session created; the special values are no handles. */
  private CUstream own(long value) {
    return table.get(value, HandleTable.Kind.STREAM, CUstream.class);
  }

  Reply create(long seq, StreamCreate c) {
    if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    CUstream s = new CUstream();
    int r = cuStreamCreateWithPriority(s, c.getFlags(), c.getPriority());
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    return Reply.newBuilder().setSeq(seq).setHandle(table.add(HandleTable.Kind.STREAM, s, 0)).build();
  }

  int destroy(long value) {
    CUstream s = own(value);
    if (s == null) return CudaResult.INVALID_HANDLE;
    int r = cuStreamDestroy(s);
    if (r == CudaResult.SUCCESS) table.remove(value);
    return r;
  }

  int synchronize(long value) {
    CUstream s = resolve(value);
    return s == INVALID ? CudaResult.INVALID_HANDLE : cuStreamSynchronize(s);
  }

  int query(long value) {
    CUstream s = resolve(value);
    return s == INVALID ? CudaResult.INVALID_HANDLE : cuStreamQuery(s);
  }

  int waitEvent(long stream, long event, int flags) {
    CUstream s = resolve(stream);
    CUevent e = table.get(event, HandleTable.Kind.EVENT, CUevent.class);
    if (s == INVALID || e == null) return CudaResult.INVALID_HANDLE;
    return cuStreamWaitEvent(s, e, flags);
  }
}
