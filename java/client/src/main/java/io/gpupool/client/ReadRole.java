package io.gpupool.client;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * Which thread reads a session's socket, and the session's own thread.
 *
 * <p>Why: a synchronous call's reply used to be read by a reader thread that then woke the
 * caller — one more thread wake-up per round trip than a plain blocking socket needs, a third or
 * more of the round trip on a loaded machine. Now the thread that waits reads: a synchronous
 * caller that finds nobody reading takes the role, reads and dispatches frames until its own call
 * is done, and leaves; whoever still waits then takes over. The session's thread (the fallback)
 * reads only while replies are due that no synchronous caller waits to read: those of async
 * copies, whose callers went on.
 *
 * <p>Async calls' futures are handed to the user, and their dependents run on the thread that
 * completes them; so they are completed only on the session's thread, between frames
 * ({@link #defer}), whichever thread read their reply. A synchronous call made from such a
 * dependent reads its own reply there ({@link Claim#NESTED}) instead of waiting for itself.
 *
 * <p>Threading: all state is guarded by this object's monitor. Whoever holds the role has the
 * socket's input side to itself until it leaves; the monitor orders one holder's reads before
 * the next one's.
 */
final class ReadRole {
  /** What {@link #claim} gave the caller. */
  enum Claim {
    /** The call is done (or failed): nothing to read. */
    DONE,
    /** The caller holds the role: read until the call is done, then {@link #release}. */
    OWNER,
    /** The caller already holds it, further up its stack, between frames: read, do not release. */
    NESTED
  }

  private final BooleanSupplier repliesDue;
  private final ArrayDeque<Runnable> completions = new ArrayDeque<>();
  private Thread fallback;
  private Thread holder;
  private volatile int waiters;
  private boolean stopped;
  private boolean fallbackExited;

  /** {@code repliesDue}: whether some call still waits for a reply (and the session is intact). */
  ReadRole(BooleanSupplier repliesDue) {
    this.repliesDue = repliesDue;
  }

  /** The session's thread, which serves {@link #nextWork}; set once, before any call is sent. */
  synchronized void setFallback(Thread fallback) {
    this.fallback = fallback;
  }

  /**
   * A synchronous caller: waits until its call is done or the role is free to take. Not
   * interruptible, as a blocking socket read is not (an interrupt is kept for the caller).
   */
  synchronized Claim claim(CompletableFuture<?> done) {
    Thread me = Thread.currentThread();
    boolean interrupted = false;
    // Counted before looking at the future: a reader that completes it and then sees no waiter
    // (replyDispatched) cannot have completed it after the look.
    waiters++;
    try {
      while (!done.isDone()) {
        if (holder == me) return Claim.NESTED;
        if (holder == null) {
          holder = me;
          return Claim.OWNER;
        }
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      waiters--;
      if (interrupted) me.interrupt();
    }
    handOver(); // it may have been the waiter woken to take over
    return Claim.DONE;
  }

  /** The owner leaves: a waiter takes over, or the session's thread while replies are due. */
  synchronized void release() {
    holder = null;
    handOver();
  }

  /** An async call was sent: someone must read its replies even if nobody waits for them. */
  synchronized void replyWanted() {
    handOver();
  }

  /** A reply was dispatched: a waiter's call may be done. Cheap when nobody waits. */
  void replyDispatched() {
    if (waiters > 0) {
      synchronized (this) {
        notifyAll();
      }
    }
  }

  /** Completes an async call's future on the session's thread (here if it has ended). */
  void defer(Runnable completion) {
    synchronized (this) {
      if (!fallbackExited) {
        completions.add(completion);
        notifyAll();
        return;
      }
    }
    completion.run();
  }

  /** No more reading: the session failed or was closed. Waiters and the session's thread wake. */
  synchronized void stop() {
    stopped = true;
    notifyAll();
  }

  private void handOver() {
    if (holder != null || stopped || !repliesDue.getAsBoolean()) return;
    if (waiters == 0) holder = fallback;
    notifyAll();
  }

  // The session's thread.

  /**
   * Waits for work: a deferred completion to run, or {@link #READ} when it holds the role and
   * should read a frame; null once stopped with nothing left to run (it must then exit).
   */
  synchronized Runnable nextWork() {
    while (true) {
      Runnable completion = completions.poll();
      if (completion != null) return completion;
      if (holder == fallback) {
        if (!stopped && repliesDue.getAsBoolean()) return READ;
        holder = null;
        handOver();
        continue;
      }
      if (stopped) {
        fallbackExited = true;
        return null;
      }
      try {
        wait();
      } catch (InterruptedException e) {
        // nobody interrupts the session's thread; it ends when the session does
      }
    }
  }

  /** Marks {@link #nextWork}'s answer "read a frame". */
  static final Runnable READ = () -> {};
}
