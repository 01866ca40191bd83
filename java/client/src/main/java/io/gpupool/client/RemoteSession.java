package io.gpupool.client;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ServerMessage;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
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

  /**
   * A synchronous call waiting for its replies. {@code target}: a DtoH copy's destination array,
   * into which the reader reads the chunks' data straight from the socket (see {@link #readLarge});
   * {@code expected}, {@code inOrder}: the reader thread's record of the chunks so far.
   */
  private static final class Pending {
    final String description;
    final Predicate<Reply> onReply;
    final CompletableFuture<Void> done;
    final byte[] target;
    long expected;
    boolean inOrder = true;

    Pending(String description, Predicate<Reply> onReply, CompletableFuture<Void> done, byte[] target) {
      this.description = description;
      this.onReply = onReply;
      this.done = done;
      this.target = target;
    }

    String description() { return description; }
    Predicate<Reply> onReply() { return onReply; }
    CompletableFuture<Void> done() { return done; }
  }

  /** Frames at least this large are read by {@link #readLarge}. */
  static final int LARGE_FRAME_BYTES = 64 << 10;
  private static final int TAG_SERVER_REPLIES = (ServerMessage.REPLIES_FIELD_NUMBER << 3) | 2;
  private static final int TAG_BATCH_REPLY = (io.gpupool.proto.v1.ReplyBatch.REPLIES_FIELD_NUMBER << 3) | 2;
  private static final int TAG_REPLY_DATA = (Reply.DATA_FIELD_NUMBER << 3) | 2;
  private static final int HEAD_BYTES = 64;

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
    return call(call, description, onReply, null);
  }

  /**
   * As {@link #call(Call.Builder, String, Predicate)} for a DtoH copy into {@code target}: chunks
   * that arrive in order are read from the socket straight into it, and {@code onReply} then gets
   * them with their offset but empty data (it must accept that, as for a zero-length chunk).
   */
  synchronized CompletableFuture<Void> call(Call.Builder call, String description, Predicate<Reply> onReply,
      byte[] target) {
    checkOpen();
    CompletableFuture<Void> done = new CompletableFuture<>();
    long seq = nextSeq;
    pending.put(seq, new Pending(description, onReply, done, target));
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
      // Replies are dispatched before the next frame is read: a DtoH chunk's data, a view of the
      // reused frame buffer, is copied to its destination by then.
      Frames.FrameBuffer buffer = new Frames.FrameBuffer();
      byte[] head = new byte[HEAD_BYTES];
      int length;
      while ((length = Frames.readLength(in)) >= 0) {
        ServerMessage message = length >= LARGE_FRAME_BYTES
            ? readLarge(in, length, head, buffer)
            : Frames.readBody(in, length, buffer, 0);
        if (message == null) {
          continue; // a DtoH chunk, read into its destination and dispatched
        }
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

  /**
   * A large frame. If it is one DtoH chunk, ServerMessage{replies{replies{seq, data, offset,
   * last}}} as the worker sends it, of a copy with a destination array whose chunks so far came
   * in order, its data is read from the socket straight to where the next chunk goes, and the
   * Reply dispatched with empty data; returns null then. Anything else (or a chunk that turns out
   * to go elsewhere) is returned as a parsed message for the ordinary dispatch, having read the
   * frame's bytes into {@code buffer}.
   */
  private ServerMessage readLarge(DataInputStream in, int length, byte[] head, Frames.FrameBuffer buffer)
      throws IOException {
    int[] used = {0};
    long tag = headVarint(in, head, used, length);
    long batch = tag == TAG_SERVER_REPLIES ? headVarint(in, head, used, length) : -1;
    if (batch != length - used[0]) return Frames.readBody(in, length, buffer, copyHead(head, used[0], buffer, length));
    tag = headVarint(in, head, used, length);
    long replyBytes = tag == TAG_BATCH_REPLY ? headVarint(in, head, used, length) : -1;
    if (replyBytes != length - used[0]) return Frames.readBody(in, length, buffer, copyHead(head, used[0], buffer, length));
    int replyStart = used[0];
    int fieldsEnd;
    while (true) { // the Reply's varint fields before its data
      fieldsEnd = used[0];
      tag = headVarint(in, head, used, length);
      if (tag == TAG_REPLY_DATA || tag < 0 || (tag & 7) != 0) break;
      if (headVarint(in, head, used, length) < 0) break;
    }
    long n = tag == TAG_REPLY_DATA ? headVarint(in, head, used, length) : -1;
    Pending call = null;
    Reply start = null;
    if (n > 0 && n <= length - used[0]) {
      try {
        start = Reply.parseFrom(UnsafeByteOperations.unsafeWrap(head, replyStart, fieldsEnd - replyStart));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
      }
      call = pending.get(start.getSeq());
    }
    if (call == null || call.target == null || !call.inOrder || start.getResult() != 0
        || call.expected + n > call.target.length) {
      return Frames.readBody(in, length, buffer, copyHead(head, used[0], buffer, length));
    }
    int at = (int) call.expected;
    try {
      in.readFully(call.target, at, (int) n);
    } catch (EOFException e) {
      throw new EOFException("the connection ended inside a frame");
    }
    int rest = length - used[0] - (int) n;
    byte[] tail = buffer.get(rest);
    try {
      in.readFully(tail, 0, rest);
    } catch (EOFException e) {
      throw new EOFException("the connection ended inside a frame");
    }
    Reply.Builder reply = start.toBuilder();
    try {
      reply.mergeFrom(tail, 0, rest);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
    }
    if (reply.getOffset() != at) {
      // Not where the next chunk goes: hand it over with its data, as any other reply.
      call.inOrder = false;
      reply.setData(com.google.protobuf.ByteString.copyFrom(call.target, at, (int) n));
      return ServerMessage.newBuilder().setReplies(io.gpupool.proto.v1.ReplyBatch.newBuilder().addReplies(reply)).build();
    }
    call.expected += n;
    dispatch(reply.build());
    return null;
  }

  /** A varint of a large frame's head, kept in {@code head}; -1 where the head is not a plain one. */
  private static long headVarint(DataInputStream in, byte[] head, int[] used, int length) throws IOException {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (used[0] == head.length || used[0] == length) return -1;
      int b = in.read();
      if (b < 0) throw new EOFException("the connection ended inside a frame");
      head[used[0]++] = (byte) b;
      value |= (long) (b & 0x7f) << shift;
      if (b < 0x80) return value;
    }
    return -1;
  }

  /** Puts the {@code used} bytes of a frame's head already read at the start of the frame buffer. */
  private static int copyHead(byte[] head, int used, Frames.FrameBuffer buffer, int length) {
    System.arraycopy(head, 0, buffer.get(length), 0, used);
    return used;
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
