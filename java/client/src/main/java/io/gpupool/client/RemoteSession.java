package io.gpupool.client;

import com.google.protobuf.CodedOutputStream;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Reply;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * The call stream of one attached session: numbers calls, batches pipelined ones into
 * CallBatch frames (sent at each synchronous call, or at ~1 MiB / 256 calls), and dispatches
 * the worker's replies to the waiting calls. A Reply that carries a pipelined call's error
 * (deferred_seq) fails the synchronous call with a GpuException naming the pipelined call,
 * looked up among the recent calls' descriptions.
 *
 * <p>Threading: any thread may call; sending is serialised on this object. Replies are read by
 * whichever thread holds the {@link ReadRole}: a synchronous caller reads its own reply (no
 * thread hand-off on the round trip), the session's thread ("gpupool-session-HOST:PORT") reads
 * those of async calls and completes their futures. Nobody reads while no reply is due, so a
 * worker that goes away while the session is idle is noticed by the next call, which then fails
 * with PoolUnavailableException (as every later one does).
 */
final class RemoteSession implements Closeable {
  static final int FLUSH_BYTES = 1 << 20;
  static final int FLUSH_CALLS = 256;
  private static final int RECENT_CALLS = 4096;
  private static final int FRAME_SLACK = 64; // ClientMessage and CallBatch headers

  private final Socket socket;
  private final String peer;
  private final OutputStream out;
  private final Closeable companion;
  private final FrameReader reader;
  private final Map<Long, PendingCall> pending = new ConcurrentHashMap<>();
  private final ReadRole role = new ReadRole(this::repliesDue);
  private final Map<Long, String> recent = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
      return size() > RECENT_CALLS;
    }
  };
  private final List<Call> batch = new ArrayList<>();
  private int batchBytes;
  private long nextSeq = 1;
  private volatile RuntimeException broken;

  /** Starts the session's thread; {@code companion} (the agent connection, or null) is closed with the session. */
  RemoteSession(Socket socket, DataInputStream in, Closeable companion) throws IOException {
    this.socket = socket;
    this.peer = socket.getInetAddress().getHostAddress() + ":" + socket.getPort();
    this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
    this.companion = companion;
    this.reader = new FrameReader(in, peer, pending::get);
    Thread thread = new Thread(this::serve, "gpupool-session-" + peer);
    thread.setDaemon(true);
    role.setFallback(thread);
    thread.start();
  }

  /** Queues a pipelined call; no reply unless it fails (then at the next synchronous call). */
  synchronized void pipeline(Call.Builder call, String description) {
    long seq = add(call);
    synchronized (recent) {
      recent.put(seq, description);
    }
    if (batchBytes >= FLUSH_BYTES || batch.size() >= FLUSH_CALLS) {
      flush();
    }
  }

  /**
   * Sends a synchronous call (and everything queued before it) and waits for it, reading the
   * replies on this thread unless another thread is reading. {@code onReply} takes each
   * successful Reply and says whether it was the last. {@code target}: a DtoH copy's destination
   * array, or null; chunks that arrive in order are read from the socket straight into it, and
   * {@code onReply} then gets them with their offset but empty data (it must accept that, as
   * for a zero-length chunk).
   *
   * @throws GpuException the call failed, or a pipelined call before it did
   * @throws PoolUnavailableException the connection is lost
   */
  void callAndWait(Call.Builder call, String description, Predicate<Reply> onReply, byte[] target) {
    PendingCall waiting = send(call, new PendingCall(description, onReply, target, false));
    ReadRole.Claim claim = role.claim(waiting.done);
    if (claim != ReadRole.Claim.DONE) {
      try {
        while (!waiting.done.isDone() && readFrame()) {
          // each frame may hold replies of other calls too; they are dispatched as they come
        }
      } finally {
        if (claim == ReadRole.Claim.OWNER) role.release();
      }
    }
    LocalExecutor.await(waiting.done);
  }

  /**
   * As {@link #callAndWait} without waiting: the future completes on the session's thread (its
   * dependents run there), or fails with the call's GpuException.
   */
  CompletableFuture<Void> callAsync(Call.Builder call, String description, Predicate<Reply> onReply, byte[] target) {
    PendingCall waiting = send(call, new PendingCall(description, onReply, target, true));
    role.replyWanted();
    return waiting.done;
  }

  private synchronized PendingCall send(Call.Builder call, PendingCall waiting) {
    checkOpen();
    long seq = nextSeq;
    pending.put(seq, waiting);
    try {
      add(call);
      flush();
    } catch (RuntimeException e) {
      pending.remove(seq);
      throw e;
    }
    return waiting;
  }

  private long add(Call.Builder call) {
    checkOpen();
    Call c = call.setSeq(nextSeq).build();
    int size = CodedOutputStream.computeMessageSizeNoTag(c) + 5;
    if (size > Frames.MAX_FRAME_BYTES - FRAME_SLACK) {
      throw new IllegalArgumentException("a call of " + size + " bytes exceeds the protocol's frame limit ("
          + Frames.MAX_FRAME_BYTES + " bytes)");
    }
    if (batchBytes + size > Frames.MAX_FRAME_BYTES - FRAME_SLACK) {
      flush();
    }
    batch.add(c);
    batchBytes += size;
    return nextSeq++;
  }

  /** Sends the queued calls. */
  synchronized void flush() {
    if (batch.isEmpty()) {
      return;
    }
    ClientMessage message = ClientMessage.newBuilder()
        .setCalls(CallBatch.newBuilder().addAllCalls(batch)).build();
    batch.clear();
    batchBytes = 0;
    try {
      Frames.write(out, message);
    } catch (IOException e) {
      fail(new PoolUnavailableException("lost the connection to the worker at " + peer + ": " + e.getMessage(), e));
      throw broken;
    }
  }

  /** The session's thread: deferred completions, and reading while only async calls wait. */
  private void serve() {
    for (Runnable work; (work = role.nextWork()) != null; ) {
      if (work == ReadRole.READ) {
        readFrame();
      } else {
        work.run();
      }
    }
  }

  /** Reads one frame and dispatches its replies (the read role's holder); false once failed. */
  private boolean readFrame() {
    try {
      List<Reply> replies = reader.next();
      if (replies == null) {
        fail(new PoolUnavailableException("the worker at " + peer + " closed the session", null));
        return false;
      }
      for (Reply reply : replies) {
        dispatch(reply);
      }
      role.replyDispatched();
      return true;
    } catch (IOException e) {
      fail(new PoolUnavailableException("lost the connection to the worker at " + peer + ": " + e.getMessage(), e));
      return false;
    } catch (RuntimeException e) {
      fail(e);
      return false;
    }
  }

  private void dispatch(Reply reply) {
    PendingCall call = pending.get(reply.getSeq());
    if (call == null) {
      throw new ProtocolException("the worker at " + peer + " replied to call " + reply.getSeq()
          + ", which waits for no reply");
    }
    if (reply.getResult() != 0) {
      pending.remove(reply.getSeq());
      finish(call, reply.getDeferredSeq() != 0
          ? new GpuException(describe(reply.getDeferredSeq()), reply.getResult(), call.description)
          : new GpuException(call.description, reply.getResult()));
      return;
    }
    boolean last;
    try {
      last = call.onReply.test(reply);
    } catch (RuntimeException e) {
      pending.remove(reply.getSeq());
      finish(call, e);
      throw e;
    }
    if (last) {
      pending.remove(reply.getSeq());
      finish(call, null);
    }
  }

  /** Completes a call's future: a synchronous one here, an async one on the session's thread. */
  private void finish(PendingCall call, RuntimeException error) {
    if (call.async) {
      role.defer(() -> complete(call.done, error));
    } else {
      complete(call.done, error);
    }
  }

  private static void complete(CompletableFuture<Void> done, RuntimeException error) {
    if (error == null) {
      done.complete(null);
    } else {
      done.completeExceptionally(error);
    }
  }

  private String describe(long seq) {
    synchronized (recent) {
      String description = recent.get(seq);
      return description != null ? description : "call " + seq + " (a pipelined call)";
    }
  }

  private void fail(RuntimeException cause) {
    if (broken == null) {
      broken = cause;
    }
    for (Long seq : pending.keySet()) {
      PendingCall call = pending.remove(seq);
      if (call != null) {
        finish(call, broken);
      }
    }
    role.stop();
    closeQuietly();
  }

  /** Whether a reply is still due: some call waits, and the connection is intact. */
  private boolean repliesDue() {
    return broken == null && !pending.isEmpty();
  }

  private void checkOpen() {
    if (broken != null) {
      throw broken;
    }
  }

  /**
   * Queues a call that gives something back; dropped once the connection is gone, as the
   * worker then frees everything the session held.
   */
  synchronized void release(Call.Builder call, String description) {
    if (broken == null) {
      pipeline(call, description);
    }
  }

  /** Sends what is queued and ends the session; the worker frees everything it holds. */
  @Override
  public void close() {
    synchronized (this) {
      if (broken == null) {
        try {
          flush();
        } catch (RuntimeException e) {
          // closing anyway
        }
      }
    }
    fail(new IllegalStateException("the session with the worker at " + peer + " was closed"));
  }

  private void closeQuietly() {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to do
    }
    if (companion != null) {
      try {
        companion.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }
}
