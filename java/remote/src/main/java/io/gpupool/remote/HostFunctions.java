package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuLaunchHostFunc;

import io.gpupool.proto.v1.HostFuncReady;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.channel.Channel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.driver.CUhostFn;
import jcuda.driver.CUstream;

/**
 * The session's host-function gates (remote.proto, LaunchHostFunc). The client's function never
 * comes here: the worker puts a host function of its own into the stream, which tells the client
 * that the stream reached it (HostFuncReady) and then holds the stream until the client says its
 * function returned (HostFuncDone). So the client's function runs after the stream's earlier
 * work and before its later work, as the driver documents, while every other call stays
 * pipelined.
 *
 * <p>Threading: {@link #launch} runs on whichever thread executes the session's calls; a gate's
 * body on the driver's callback thread; {@link #done} on the event loop when the client's answer
 * arrives; {@link #releaseAll} when the session stops. A released session's gates open at once,
 * so ending a session never waits for a client that is gone.
 */
final class HostFunctions {
  /** Gates a session may have open at once (a client's unanswered host functions). */
  static final int MAX_GATES = 4096;

  private final Streams streams;
  private final ConcurrentHashMap<Long, Gate> gates = new ConcurrentHashMap<>();
  private final AtomicInteger awaiting = new AtomicInteger();
  private volatile Channel channel;
  private volatile Runnable awaitListener = () -> {};
  private volatile boolean released;

  private final class Gate implements CUhostFn {
    final long id;
    final CountDownLatch done = new CountDownLatch(1);
    final AtomicBoolean ready = new AtomicBoolean();

    Gate(long id) {
      this.id = id;
    }

    /** On the driver's callback thread, when the stream reached the gate. */
    @Override
    public void call(Object userData) {
      if (released) return;
      ready.set(true);
      awaiting.incrementAndGet();
      try {
        awaitListener.run();
        send(id, CudaResult.SUCCESS);
        while (!released && !done.await(1, TimeUnit.SECONDS)) {
          // released is checked again: the session may end while the client never answers
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        awaiting.decrementAndGet();
        gates.remove(id, this);
      }
    }
  }

  HostFunctions(Streams streams) {
    this.streams = streams;
  }

  /** Where HostFuncReady goes: the attached connection. */
  void attach(Channel channel) {
    this.channel = channel;
  }

  /** Runs (on any thread) whenever a gate starts waiting for the client; the handler re-checks reading. */
  void onAwait(Runnable listener) {
    awaitListener = listener;
  }

  /** Gates placed and not yet answered (a batch that could wait on one must not block the event loop). */
  int open() {
    return gates.size();
  }

  /** Gates waiting for the client's HostFuncDone right now. */
  int awaiting() {
    return awaiting.get();
  }

  /** LaunchHostFunc: places the gate; a failure is also sent as HostFuncReady{id, result}. */
  int launch(long stream, long id) {
    int r = place(stream, id);
    if (r != CudaResult.SUCCESS) send(id, r);
    return r;
  }

  private int place(long stream, long id) {
    CUstream s = streams.resolve(stream);
    if (s == Streams.INVALID) return CudaResult.INVALID_HANDLE;
    if (released || gates.size() >= MAX_GATES) return CudaResult.OUT_OF_MEMORY;
    Gate gate = new Gate(id);
    if (gates.putIfAbsent(id, gate) != null) return CudaResult.INVALID_VALUE; // the client reused an open id
    // JCuda refuses a null stream object; one holding the NULL handle is the NULL stream.
    int r = cuLaunchHostFunc(s != null ? s : new CUstream(), gate, null);
    if (r != CudaResult.SUCCESS) gates.remove(id, gate);
    return r;
  }

  /**
   * HostFuncDone: opens the gate. False if no gate {@code id} has told the client it is ready —
   * a client that answers what it was not asked breaks the protocol.
   */
  boolean done(long id) {
    Gate gate = gates.get(id);
    if (gate == null || !gate.ready.get()) return false;
    gate.done.countDown();
    return true;
  }

  /** The session stops: every gate opens now and later ones do not wait. */
  void releaseAll() {
    released = true;
    for (Gate g : gates.values()) g.done.countDown();
  }

  private void send(long id, int result) {
    Channel c = channel;
    if (c == null || released) return;
    HostFuncReady.Builder ready = HostFuncReady.newBuilder().setId(id).setResult(result);
    c.writeAndFlush(ServerMessage.newBuilder().setHostFuncReady(ready).build(), c.voidPromise());
  }
}
