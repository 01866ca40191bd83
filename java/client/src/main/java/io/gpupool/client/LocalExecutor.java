package io.gpupool.client;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The one thread that owns a local GPU's context and makes every driver call, in the
 * order the calls were made, as a remote worker does. It keeps the protocol's error
 * semantics: a pipelined call's first failure is kept and thrown by the next synchronous
 * call, which then does not run.
 */
final class LocalExecutor {
  private final ExecutorService thread;
  private GpuException deferred; // only touched on the thread

  LocalExecutor(String name) {
    thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /** Runs a synchronous call and waits for its result. */
  <T> T call(String description, Supplier<T> body) {
    return await(future(description, body));
  }

  void call(String description, Runnable body) {
    call(description, () -> {
      body.run();
      return null;
    });
  }

  /** Runs a synchronous call without waiting; the future fails with its GpuException. */
  <T> CompletableFuture<T> future(String description, Supplier<T> body) {
    return CompletableFuture.supplyAsync(() -> {
      GpuException pending = deferred;
      if (pending != null) {
        deferred = null;
        throw new GpuException(pending.call(), pending.result(), description);
      }
      return body.get();
    }, thread);
  }

  /** Queues a pipelined call: a driver call returning a CUresult. */
  void pipeline(String description, IntSupplier body) {
    thread.execute(() -> {
      int result;
      try {
        result = body.getAsInt();
      } catch (GpuException e) { // a handle the driver never saw
        result = e.result();
      }
      if (result != 0 && deferred == null) {
        deferred = new GpuException(description, result);
      }
    });
  }

  /** Runs {@code body} last, then stops the thread. */
  void shutdown(Runnable body) {
    try {
      thread.submit(body).get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing: nothing left to report to
    } finally {
      thread.shutdown();
    }
  }

  static <T> T await(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException) {
        throw (RuntimeException) e.getCause();
      }
      if (e.getCause() instanceof Error) {
        throw (Error) e.getCause();
      }
      throw e;
    }
  }
}
