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
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * The CUDA side of one session: a session thread that owns the session's context (the primary
 * context of device 0) and executes the calls, in seq order, so no call ever races another on
 * the context. The network side queues batches here; when the session thread is idle and a
 * batch cannot block on the client (no DtoH copy), the event loop, which has the context
 * current too, executes it at once instead: a synchronous call's round trip then has no thread
 * hand-overs on the worker. Either way one batch at a time, under one lock, in arrival order.
 * {@link #end} frees everything the session still holds and releases the context.
 */
final class Session {
  static final int DEVICE = 0;
  /**
   * The most calls a batch executed on the event loop may have (see {@link #tryExecuteInline}):
   * a client's whole batch of pipelined launches (the native client sends 64 per frame), whose
   * hand-over to the session thread and back cost about as much as executing them.
   */
  static final int MAX_INLINE_CALLS = 256;
  /** The largest frame whose batch may be executed on the event loop. */
  static final int MAX_INLINE_BYTES = 64 * 1024;
  /** Internal errors that ended a session (a test hook: the fuzz test expects none). */
  static final AtomicInteger INTERNAL_ERRORS = new AtomicInteger();

  private final WorkerLimits limits;
  private final ExecutorService thread;
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private CUdevice device;
  private CUcontext context;
  /** Held by whichever thread uses the context: executing calls, or freeing the session. */
  private final Object contextGuard = new Object();
  /** Batches handed to the session thread and not yet done. */
  private final AtomicInteger inFlight = new AtomicInteger();
  /** True once the event loop thread has the context current too (see {@link #tryExecuteInline}). */
  private volatile boolean inline;
  private HandleTable table;
  private CallDispatcher dispatcher;
  private Welcome welcome;
  private volatile ReplyWriter writer;
  private volatile boolean stopped;
  private volatile int liveHandles;
  private volatile boolean endRequested;

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
    context = new CUcontext();
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

  /**
   * From now on replies go to {@code channel}. Called on the channel's event loop, which gets
   * the session's context current too, to execute batches inline (see {@link #tryExecuteInline}).
   */
  void attach(Channel channel) {
    writer = new ReplyWriter(channel, () -> stopped);
    dispatcher.hostFunctions().attach(channel);
    if (channel.eventLoop().inEventLoop()) {
      synchronized (contextGuard) {
        inline = cuCtxSetCurrent(context) == CudaResult.SUCCESS;
      }
    }
  }

  ReplyWriter writer() {
    return writer;
  }

  HostFunctions hostFunctions() {
    return dispatcher.hostFunctions();
  }

  /**
   * Executes a batch at once on the calling thread, the event loop (saving the hand-over to the
   * session thread and back that a synchronous call's round trip would otherwise pay), when
   * nothing is queued for or running on the session thread — so calls still execute one at a
   * time, in seq order — and the batch has no DtoH copy (those stream their chunks, waiting for
   * the client to read them, which only the session thread may do). Larger batches (HtoD
   * chunks) and very long ones go to the session thread still, so the event loop reads the
   * next batch meanwhile. Nor while host-function gates are open or the batch places one: a
   * synchronising call could then wait for a HostFuncDone that only the event loop can read.
   * False: use {@link #execute}.
   */
  boolean tryExecuteInline(CallBatch batch, int frameBytes) {
    if (!inlineAllowed(batch.getCallsCount(), frameBytes)) return false;
    for (Call call : batch.getCallsList()) {
      if (call.getOpCase() == Call.OpCase.MEMCPY_DTOH || call.getOpCase() == Call.OpCase.LAUNCH_HOST_FUNC) return false;
    }
    run(batch);
    return true;
  }

  /** {@link #tryExecuteInline(CallBatch, int)} for a decoded batch of launches. */
  boolean tryExecuteInline(LaunchBatch launches, int frameBytes) {
    if (!inlineAllowed(launches.count(), frameBytes)) return false;
    run(launches);
    return true;
  }

  private boolean inlineAllowed(int calls, int frameBytes) {
    return inline && !stopped && calls <= MAX_INLINE_CALLS && frameBytes <= MAX_INLINE_BYTES && inFlight.get() == 0
        && dispatcher.hostFunctions().open() == 0;
  }

  /** Queues a batch; {@code done} runs on the session thread once it was executed (or skipped). */
  void execute(CallBatch batch, Runnable done) {
    submit(() -> run(batch), done);
  }

  /** {@link #execute(CallBatch, Runnable)} for a decoded batch of launches. */
  void execute(LaunchBatch launches, Runnable done) {
    submit(() -> run(launches), done);
  }

  private void submit(Runnable batch, Runnable done) {
    inFlight.incrementAndGet();
    try {
      thread.execute(() -> {
        try {
          batch.run();
        } finally {
          try {
            done.run();
          } finally {
            inFlight.decrementAndGet();
          }
        }
      });
    } catch (RuntimeException e) {
      inFlight.decrementAndGet();
      throw e;
    }
  }

  private void run(CallBatch batch) {
    runLocked(out -> {
      for (Call call : batch.getCallsList()) {
        if (stopped) break;
        dispatcher.run(call, out);
      }
    });
  }

  private void run(LaunchBatch launches) {
    runLocked(out -> {
      ByteBuffer view = ByteBuffer.wrap(launches.bytes());
      for (int i = 0; i < launches.count() && !stopped; i++) {
        int at = (int) launches.get(i, LaunchBatch.PARAMS_INDEX);
        view.limit(at + (int) launches.get(i, LaunchBatch.PARAMS_LENGTH)).position(at);
        dispatcher.runLaunch(launches, i, view);
      }
    });
  }

  /** Runs {@code calls} with the context held, then flushes their replies. */
  private void runLocked(Consumer<ReplyWriter> calls) {
    synchronized (contextGuard) {
      if (endRequested) return;
      try {
        ReplyWriter out = writer;
        calls.accept(out);
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
      }
    }
  }

  /** Stops executing queued calls (the connection is being closed). */
  void stop() {
    stopped = true;
    if (dispatcher != null) dispatcher.hostFunctions().releaseAll();
    ReplyWriter out = writer;
    if (out != null) out.writabilityChanged(); // a session thread waiting to send gives up
  }

  /** Frees the session (once) and completes the returned future when done. */
  synchronized CompletableFuture<Void> end() {
    stopped = true;
    if (dispatcher != null) dispatcher.hostFunctions().releaseAll(); // before free() synchronises
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
    synchronized (contextGuard) {
      freeHeld();
    }
  }

  private void freeHeld() {
    cuCtxSynchronize(); // destroy nothing that queued work still uses; errors do not matter now
    for (long id : table.ids(HandleTable.Kind.EVENT)) cuEventDestroy(table.get(id, HandleTable.Kind.EVENT, CUevent.class));
    for (long id : table.ids(HandleTable.Kind.STREAM)) cuStreamDestroy(table.get(id, HandleTable.Kind.STREAM, CUstream.class));
    for (long id : table.ids(HandleTable.Kind.MODULE)) {
      cuModuleUnload(table.get(id, HandleTable.Kind.MODULE, ModuleCalls.LoadedModule.class).module());
    }
    for (HandleTable.Region r : table.allocations()) cuMemFree(r.pointer());
    dispatcher.vmm().freeAll();
    table.clear();
    liveHandles = 0;
    cuCtxSetCurrent(new CUcontext());
    cuDevicePrimaryCtxRelease(device);
  }
}
