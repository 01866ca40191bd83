package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.Call;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * Which thread reads a session's replies (ReadRole), against a scripted worker: a synchronous
 * caller reads its own, async copies' futures complete on the session's thread, and a worker that
 * left while the session was idle fails the next call.
 */
class RemoteSessionThreadsTest extends ScriptedWorkerTest {
  /** Waits (up to 20 s) until {@code thread}'s stack shows a frame of {@code method}. */
  private static void awaitIn(Thread thread, String method) throws InterruptedException {
    Predicate<StackTraceElement[]> inside = stack -> Arrays.stream(stack)
        .anyMatch(f -> (f.getClassName() + "." + f.getMethodName()).endsWith(method));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!inside.test(thread.getStackTrace())) {
      if (System.nanoTime() > deadline) {
        fail(thread.getName() + " never reached " + method + ": " + Arrays.toString(thread.getStackTrace()));
      }
      Thread.sleep(5);
    }
  }

  private static Thread sessionThread() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("gpupool-session-")).findFirst().orElseThrow();
  }

  @Test
  void aSynchronousCallerReadsItsOwnReplyWhileTheSessionThreadIdles() throws Exception {
    CountDownLatch answer = new CountDownLatch(1);
    CompletableFuture<Void> script = attach(conn -> {
      Call sync = conn.calls().get(0);
      await(answer);
      conn.reply(reply(sync));
    });
    Thread caller = new Thread(gpu::synchronize, "caller");
    caller.start();
    awaitIn(caller, "FrameReader.next"); // the caller itself waits on the socket: no hand-off
    Thread session = sessionThread();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (session.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertEquals(Thread.State.WAITING, session.getState(), Arrays.toString(session.getStackTrace()));
    awaitIn(session, "ReadRole.nextWork"); // waiting for work, not for the socket
    answer.countDown();
    caller.join(20_000);
    assertFalse(caller.isAlive(), "the caller got its reply");
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void anAsyncCopysFutureCompletesOnTheSessionThreadWhoeverReadItsReply() throws Exception {
    byte[] data = {1, 2, 3, 4};
    CountDownLatch registered = new CountDownLatch(1);
    CompletableFuture<Void> script = attach(conn -> {
      Call sync = conn.calls().get(0);
      Call copy = conn.calls().get(0);
      await(registered);
      // One frame: the synchronous call's reply, read by its caller, then the async copy's.
      conn.reply(reply(sync), reply(copy).setData(ByteString.copyFrom(data)).setLast(true));
    });
    Thread caller = new Thread(gpu::synchronize, "caller");
    caller.start();
    awaitIn(caller, "FrameReader.next");
    byte[] dst = new byte[data.length];
    CompletableFuture<String> completedOn;
    try (DeviceBuffer buffer = new DeviceBuffer(gpu, 0x1000, data.length)) {
      completedOn = buffer.copyToAsync(dst, null).thenApply(d -> Thread.currentThread().getName());
      registered.countDown();
      caller.join(20_000);
      assertFalse(caller.isAlive(), "the caller got its reply");
      assertTrue(completedOn.get(20, TimeUnit.SECONDS).startsWith("gpupool-session-"), completedOn.get());
    }
    assertArrayEquals(data, dst);
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void aCallbackOfAnAsyncCopyMayMakeSynchronousCalls() throws Exception {
    CountDownLatch registered = new CountDownLatch(1);
    CompletableFuture<Void> script = attach(conn -> {
      Call copy = conn.calls().get(0);
      await(registered);
      conn.reply(reply(copy).setData(ByteString.copyFrom(new byte[] {9})).setLast(true));
      conn.reply(reply(conn.calls().get(0)).setMemInfo(
          io.gpupool.proto.v1.MemInfo.newBuilder().setFree(5).setTotal(8)));
    });
    try (DeviceBuffer buffer = new DeviceBuffer(gpu, 0x1000, 1)) {
      // The callback runs on the session's thread, which then reads the reply to its own call.
      CompletableFuture<MemoryInfo> info = buffer.copyToAsync(new byte[1], null).thenApply(d -> gpu.memoryInfo());
      registered.countDown();
      assertEquals(5, info.get(20, TimeUnit.SECONDS).freeBytes());
    }
    script.get(20, TimeUnit.SECONDS);
  }

  @Test
  void aWorkerThatLeftWhileTheSessionWasIdleFailsTheNextCallAndEveryLaterOne() throws Exception {
    attach(conn -> {}).get(20, TimeUnit.SECONDS); // the worker closes the connection at once
    PoolUnavailableException e = assertThrows(PoolUnavailableException.class, gpu::synchronize);
    assertTrue(e.getMessage().contains("worker at 127.0.0.1"), e.getMessage());
    assertThrows(PoolUnavailableException.class, () -> gpu.allocate(16));
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(20, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }
}
