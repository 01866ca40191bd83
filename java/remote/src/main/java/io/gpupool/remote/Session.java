package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.Welcome;
import io.netty.channel.Channel;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * The CUDA side of one session: a single thread that owns the session's context (the primary
 * context of device 0, current on that thread only) and executes every call, in seq order, so
 * no call ever races another on the context. The network side only queues batches here.
 * {@link #end} frees everything the session still holds and releases the context.
 */
final class Session {
  static final int DEVICE = 0;
  /** Internal errors that ended a session (a test hook: the fuzz test expects none). */
  static final AtomicInteger INTERNAL_ERRORS = new AtomicInteger();

  private final WorkerLimits limits;
  private final ExecutorService thread;
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private CUdevice device;
  private HandleTable table;
  private CallDispatcher dispatcher;
  private Welcome welcome;
  private volatile ReplyWriter writer;
  private volatile boolean stopped;
  private volatile int liveHandles;
  private boolean endRequested;

  private Session(WorkerLimits limits) {
    this.limits = limits;
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "gpupool-session");
      t.setDaemon(true);
      return t;
    });
  }

  /** Initialises the driver and the context on the session thread; a failure says which call failed. */
  static Session open(WorkerLimits limits) throws IOException {
    Session s = new Session(limits);
    try {
      s.thread.submit(() -> {
        s.init();
        return null;
      }).get();
      return s;
    } catch (ExecutionException e) {
      s.thread.shutdownNow();
      throw new IOException(e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      s.thread.shutdownNow();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while opening the device", e);
    }
  }

  private void init() throws IOException {
    check("cuInit", cuInit(0));
    device = new CUdevice();
    check("cuDeviceGet", cuDeviceGet(device, DEVICE));
    CUcontext context = new CUcontext();
    check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(context, device));
    int r = cuCtxSetCurrent(context);
    if (r != CudaResult.SUCCESS) {
      cuDevicePrimaryCtxRelease(device);
      check("cuCtxSetCurrent", r);
    }
    table = new HandleTable(limits.maxHandles());
    dispatcher = new CallDispatcher(table, limits);
    welcome = DeviceDescription.welcome(device, DEVICE, limits);
  }

  private static void check(String call, int result) throws IOException {
    if (result != CudaResult.SUCCESS) throw new IOException(call + " failed: " + CUresult.stringFor(result));
  }

  Welcome welcome() {
    return welcome;
  }

  /** From now on replies go to {@code channel}. */
  void attach(Channel channel) {
    writer = new ReplyWriter(channel, () -> stopped);
  }

  ReplyWriter writer() {
    return writer;
  }

  /** Queues a batch; {@code done} runs on the session thread once it was executed (or skipped). */
  void execute(CallBatch batch, Runnable done) {
    thread.execute(() -> {
      try {
        ReplyWriter out = writer;
        for (Call call : batch.getCallsList()) {
          if (stopped) break;
          dispatcher.run(call, out);
        }
        liveHandles = table.size();
        if (!stopped) out.flush();
      } catch (RuntimeException e) {
        // A bug of the worker's, not the client's: end this session rather than continue in an
        // unknown state (and keep this thread, which holds the context, alive).
        INTERNAL_ERRORS.incrementAndGet();
        System.err.println("gpupool-worker: session ended by an internal error: " + e);
        stopped = true;
        ReplyWriter out = writer;
        if (out != null) out.abort("internal error: " + e.getClass().getSimpleName());
      } finally {
        done.run();
      }
    });
  }

  /** Stops executing queued calls (the connection is being closed). */
  void stop() {
    stopped = true;
    ReplyWriter out = writer;
    if (out != null) out.writabilityChanged(); // a session thread waiting to send gives up
  }

  /** Frees the session (once) and completes the returned future when done. */
  synchronized CompletableFuture<Void> end() {
    stopped = true;
    if (!endRequested) {
      endRequested = true;
      thread.execute(() -> {
        try {
          free();
        } finally {
          ended.complete(null);
        }
      });
      thread.shutdown();
    }
    return ended;
  }

  /** Live handles after the last executed batch (0 after {@link #end}); a test hook. */
  int liveHandles() {
    return liveHandles;
  }

  private void free() {
    cuCtxSynchronize(); // destroy nothing that queued work still uses; errors do not matter now
    for (long id : table.ids(HandleTable.Kind.EVENT)) cuEventDestroy(table.get(id, HandleTable.Kind.EVENT, CUevent.class));
    for (long id : table.ids(HandleTable.Kind.STREAM)) cuStreamDestroy(table.get(id, HandleTable.Kind.STREAM, CUstream.class));
    for (long id : table.ids(HandleTable.Kind.MODULE)) {
      cuModuleUnload(table.get(id, HandleTable.Kind.MODULE, ModuleCalls.LoadedModule.class).module());
    }
    for (HandleTable.Region r : table.allocations()) cuMemFree(r.pointer());
    table.clear();
    liveHandles = 0;
    cuCtxSetCurrent(new CUcontext());
    cuDevicePrimaryCtxRelease(device);
  }
}
