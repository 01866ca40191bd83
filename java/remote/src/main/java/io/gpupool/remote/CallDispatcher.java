package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.Reply;
import java.nio.ByteBuffer;

/**
 * Runs one session's calls in seq order and keeps the CUDA-like error contract of remote.proto:
 * a pipelined call gets no reply when it succeeds; its first failure is kept and handed to the
 * next synchronous call instead of executing that call (result + deferred_seq), the way the
 * driver reports an asynchronous error at the next synchronising call. Later pipelined calls
 * still execute (as they would have locally after an ignored error); only the first failure is
 * reported.
 */
final class CallDispatcher {
  private final MemoryCalls memory;
  private final ModuleCalls modules;
  private final Streams streams;
  private final Events events;
  private final HostFunctions hostFunctions;
  private final VmmCalls vmm;

  private boolean deferred;
  private int deferredResult;
  private long deferredSeq;

  CallDispatcher(HandleTable table, WorkerLimits limits) {
    streams = new Streams(table);
    hostFunctions = new HostFunctions(streams);
    vmm = new VmmCalls(table, limits);
    events = new Events(table, streams);
    memory = new MemoryCalls(table, limits, streams);
    modules = new ModuleCalls(table, streams);
  }

  VmmCalls vmm() {
    return vmm;
  }

  HostFunctions hostFunctions() {
    return hostFunctions;
  }

  /** True for the calls that remote.proto lists as pipelined; false for unknown ones too. */
  static boolean pipelined(Call.OpCase op) {
    switch (op) {
      case MEM_FREE: case MEMCPY_HTOD: case MEMCPY_DTOD: case MEMSET: case LAUNCH_KERNEL: case EVENT_RECORD:
      case STREAM_WAIT_EVENT: case MODULE_UNLOAD: case STREAM_DESTROY: case EVENT_DESTROY:
      case LAUNCH_HOST_FUNC: case MEM_FREE_ASYNC:
        return true;
      default:
        return false;
    }
  }

  void run(Call call, ReplySink out) {
    long seq = call.getSeq();
    if (pipelined(call.getOpCase())) {
      defer(runPipelined(call), seq);
      return;
    }
    if (deferred) {
      deferred = false;
      Reply.Builder reply = Reply.newBuilder().setSeq(seq).setResult(deferredResult).setDeferredSeq(deferredSeq);
      if (call.getOpCase() == Call.OpCase.MEMCPY_DTOH) reply.setLast(true);
      out.add(reply.build());
      return;
    }
    runSynchronous(call, out);
  }

  /** Launch {@code i} of a decoded batch (a LaunchKernel call), its packed params in {@code params}. */
  void runLaunch(LaunchBatch b, int i, ByteBuffer params) {
    int r = modules.launch(b.get(i, LaunchBatch.FUNCTION), b.getInt(i, LaunchBatch.GRID_X), b.getInt(i, LaunchBatch.GRID_Y),
        b.getInt(i, LaunchBatch.GRID_Z), b.getInt(i, LaunchBatch.BLOCK_X), b.getInt(i, LaunchBatch.BLOCK_Y),
        b.getInt(i, LaunchBatch.BLOCK_Z), b.getInt(i, LaunchBatch.SHARED_BYTES), b.get(i, LaunchBatch.STREAM), params);
    defer(r, b.get(i, LaunchBatch.SEQ));
  }

  /** Keeps the first failure of a pipelined call for the next synchronous one. */
  private void defer(int result, long seq) {
    if (result != CudaResult.SUCCESS && !deferred) {
      deferred = true;
      deferredResult = result;
      deferredSeq = seq;
    }
  }

  private int runPipelined(Call c) {
    switch (c.getOpCase()) {
      case MEM_FREE: return memory.free(c.getMemFree().getDptr());
      case MEMCPY_HTOD: return memory.htod(c.getMemcpyHtod());
      case MEMCPY_DTOD: return memory.dtod(c.getMemcpyDtod());
      case MEMSET: return memory.memset(c.getMemset());
      case LAUNCH_KERNEL: return modules.launch(c.getLaunchKernel());
      case EVENT_RECORD: return events.record(c.getEventRecord().getEvent(), c.getEventRecord().getStream());
      case STREAM_WAIT_EVENT:
        return streams.waitEvent(c.getStreamWaitEvent().getStream(), c.getStreamWaitEvent().getEvent(),
            c.getStreamWaitEvent().getFlags());
      case MODULE_UNLOAD: return modules.unload(c.getModuleUnload().getModule());
      case STREAM_DESTROY: return streams.destroy(c.getStreamDestroy().getStream());
      case EVENT_DESTROY: return events.destroy(c.getEventDestroy().getEvent());
      case MEM_FREE_ASYNC: return memory.freeAsync(c.getMemFreeAsync().getDptr(), c.getMemFreeAsync().getStream());
      case LAUNCH_HOST_FUNC:
        return hostFunctions.launch(c.getLaunchHostFunc().getStream(), c.getLaunchHostFunc().getId());
      default: throw new IllegalStateException("not pipelined: " + c.getOpCase());
    }
  }

  private void runSynchronous(Call c, ReplySink out) {
    long seq = c.getSeq();
    switch (c.getOpCase()) {
      case MEM_ALLOC: out.add(memory.alloc(seq, c.getMemAlloc().getBytes())); break;
      case MEM_ALLOC_ASYNC:
        out.add(memory.allocAsync(seq, c.getMemAllocAsync().getBytes(), c.getMemAllocAsync().getStream()));
        break;
      case MEM_GET_INFO: out.add(memory.info(seq)); break;
      case MEMCPY_DTOH: memory.dtoh(seq, c.getMemcpyDtoh(), out); break;
      case MODULE_LOAD_DATA: out.add(modules.load(seq, c.getModuleLoadData().getImage().toByteArray())); break;
      case MODULE_GET_FUNCTION:
        out.add(modules.function(seq, c.getModuleGetFunction().getModule(), c.getModuleGetFunction().getName()));
        break;
      case MODULE_GET_GLOBAL:
        out.add(modules.global(seq, c.getModuleGetGlobal().getModule(), c.getModuleGetGlobal().getName()));
        break;
      case STREAM_CREATE: out.add(streams.create(seq, c.getStreamCreate())); break;
      case STREAM_SYNCHRONIZE: out.add(ReplySink.result(seq, streams.synchronize(c.getStreamSynchronize().getStream()))); break;
      case STREAM_QUERY: out.add(ReplySink.result(seq, streams.query(c.getStreamQuery().getStream()))); break;
      case EVENT_CREATE: out.add(events.create(seq, c.getEventCreate().getFlags())); break;
      case EVENT_SYNCHRONIZE: out.add(ReplySink.result(seq, events.synchronize(c.getEventSynchronize().getEvent()))); break;
      case EVENT_QUERY: out.add(ReplySink.result(seq, events.query(c.getEventQuery().getEvent()))); break;
      case EVENT_ELAPSED_TIME:
        out.add(events.elapsed(seq, c.getEventElapsedTime().getStart(), c.getEventElapsedTime().getEnd()));
        break;
      case CTX_SYNCHRONIZE: out.add(ReplySink.result(seq, cuCtxSynchronize())); break;
      case BARRIER: out.add(ReplySink.result(seq, CudaResult.SUCCESS)); break;
      case MEM_GET_ALLOCATION_GRANULARITY:
        out.add(vmm.granularity(seq, c.getMemGetAllocationGranularity().getOption(),
            c.getMemGetAllocationGranularity().getAllocFlags()));
        break;
      case MEM_CREATE: out.add(vmm.create(seq, c.getMemCreate())); break;
      case MEM_RELEASE: out.add(ReplySink.result(seq, vmm.release(c.getMemRelease().getHandle()))); break;
      case MEM_ADDRESS_RESERVE: out.add(vmm.reserve(seq, c.getMemAddressReserve())); break;
      case MEM_ADDRESS_FREE:
        out.add(ReplySink.result(seq, vmm.free(c.getMemAddressFree().getPtr(), c.getMemAddressFree().getBytes())));
        break;
      case MEM_MAP: out.add(ReplySink.result(seq, vmm.map(c.getMemMap()))); break;
      case MEM_UNMAP: out.add(ReplySink.result(seq, vmm.unmap(c.getMemUnmap().getPtr(), c.getMemUnmap().getBytes()))); break;
      case MEM_SET_ACCESS: out.add(ReplySink.result(seq, vmm.setAccess(c.getMemSetAccess()))); break;
      case MEM_GET_ACCESS: out.add(vmm.getAccess(seq, c.getMemGetAccess().getPtr())); break;
      default: throw new IllegalArgumentException("no such call: " + c.getOpCase()); // refused before it gets here
    }
  }
}
