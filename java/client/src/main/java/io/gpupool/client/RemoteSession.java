package io.gpupool.client;

import com.google.protobuf.CodedOutputStream;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ServerMessage;
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
 * CallBatch frames (sent at each synchronous call, or at ~1 MiB / 256 calls), and a reader
 * thread that completes each synchronous call's future from its Reply. A Reply that carries
 * a pipelined call's error (deferred_seq) fails the synchronous call with a GpuException
 * naming the pipelined call, looked up among the recent calls' descriptions.
 */
final class RemoteSession implements Closeable {
  static final int FLUSH_BYTES = 1 << 20;
  static final int FLUSH_CALLS = 256;
  private static final int RECENT_CALLS = 4096;
  private static final int FRAME_SLACK = 64; // ClientMessage and CallBatch headers

  /** A synchronous call waiting for its replies. */
  private record Pending(String description, Predicate<Reply> onReply, CompletableFuture<Void> done) {}

  private final Socket socket;
  private final String peer;
  private final OutputStream out;
  private final Closeable companion;
  private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
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

  /** Starts the reader; {@code companion} (the agent connection, or null) is closed with the session. */
  RemoteSession(Socket socket, DataInputStream in, Closeable companion) throws IOException {
    this.socket = socket;
    this.peer = socket.getInetAddress().getHostAddress() + ":" + socket.getPort();
    this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
    this.companion = companion;
    Thread reader = new Thread(() -> read(in), "gpupool-session-" + peer);
    reader.setDaemon(true);
    reader.start();
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
   * Sends a synchronous call (and everything queued before it). {@code onReply} takes each
   * successful Reply and says whether it was the last.
   */
  synchronized CompletableFuture<Void> call(Call.Builder call, String description, Predicate<Reply> onReply) {
    checkOpen();
    CompletableFuture<Void> done = new CompletableFuture<>();
    long seq = nextSeq;
    pending.put(seq, new Pending(description, onReply, done));
    try {
      add(call);
      flush();
    } catch (RuntimeException e) {
      pending.remove(seq);
      throw e;
    }
    return done;
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

  private void read(DataInputStream in) {
    try {
      ServerMessage message;
      while ((message = Frames.read(in)) != null) {
        switch (message.getMessageCase()) {
          case REPLIES:
            for (Reply reply : message.getReplies().getRepliesList()) {
              dispatch(reply);
            }
            break;
          case REFUSED:
            throw new SessionRefusedException(
                RemoteBackend.reason(message.getRefused().getReason()), "the worker at " + peer,
                message.getRefused().getMessage());
          default:
            throw new ProtocolException("the worker at " + peer + " sent " + message.getMessageCase()
                + " during the session");
        }
      }
      fail(new PoolUnavailableException("the worker at " + peer + " closed the session", null));
    } catch (IOException e) {
      fail(new PoolUnavailableException("lost the connection to the worker at " + peer + ": " + e.getMessage(), e));
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void dispatch(Reply reply) {
    Pending call = pending.get(reply.getSeq());
    if (call == null) {
      throw new ProtocolException("the worker at " + peer + " replied to call " + reply.getSeq()
          + ", which waits for no reply");
    }
    if (reply.getResult() != 0) {
      pending.remove(reply.getSeq());
      call.done().completeExceptionally(reply.getDeferredSeq() != 0
          ? new GpuException(describe(reply.getDeferredSeq()), reply.getResult(), call.description())
          : new GpuException(call.description(), reply.getResult()));
      return;
    }
    boolean last;
    try {
      last = call.onReply().test(reply);
    } catch (RuntimeException e) {
      pending.remove(reply.getSeq());
      call.done().completeExceptionally(e);
      throw e;
    }
    if (last) {
      pending.remove(reply.getSeq());
      call.done().complete(null);
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
      Pending call = pending.remove(seq);
      if (call != null) {
        call.done().completeExceptionally(broken);
      }
    }
    closeQuietly();
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
