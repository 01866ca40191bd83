package io.gpupool.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ReplyBatch;
import io.gpupool.proto.v1.ServerMessage;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The input side of a session: reads the worker's frames and returns their replies.
 *
 * <p>Threading: not thread-safe; used only by the thread that holds the session's read role
 * (handed over under a lock, which orders the uses). The replies returned by {@link #next} may be
 * views of a buffer reused by the next call: dispatch them before reading again.
 */
final class FrameReader {
  /** Frames at least this large may be one DtoH chunk read straight into its destination. */
  static final int LARGE_FRAME_BYTES = 64 << 10;
  private static final int TAG_SERVER_REPLIES = (ServerMessage.REPLIES_FIELD_NUMBER << 3) | 2;
  private static final int TAG_BATCH_REPLY = (ReplyBatch.REPLIES_FIELD_NUMBER << 3) | 2;
  private static final int TAG_REPLY_DATA = (Reply.DATA_FIELD_NUMBER << 3) | 2;
  private static final int HEAD_BYTES = 64;

  private final DataInputStream in;
  private final String peer;
  private final LongFunction<PendingCall> pending;
  private final Frames.FrameBuffer buffer = new Frames.FrameBuffer();
  private final byte[] head = new byte[HEAD_BYTES];
  private int used;

  /** {@code pending}: the waiting call of a sequence number, or null. */
  FrameReader(DataInputStream in, String peer, LongFunction<PendingCall> pending) {
    this.in = in;
    this.peer = peer;
    this.pending = pending;
  }

  /**
   * The replies of the next frame; null at a clean end of stream. A DtoH chunk read straight
   * into its call's destination comes back as its Reply with empty data (and its offset).
   *
   * @throws SessionRefusedException the worker refused the session
   * @throws ProtocolException the worker sent something else than replies
   */
  List<Reply> next() throws IOException {
    int length = Frames.readLength(in);
    if (length < 0) {
      return null;
    }
    ServerMessage message;
    if (length >= LARGE_FRAME_BYTES) {
      Reply chunk = readLarge(length);
      if (chunk != null) {
        return List.of(chunk);
      }
      message = Frames.readBody(in, length, buffer, used);
    } else {
      message = Frames.readBody(in, length, buffer, 0);
    }
    switch (message.getMessageCase()) {
      case REPLIES:
        return message.getReplies().getRepliesList();
      case REFUSED:
        throw new SessionRefusedException(RemoteBackend.reason(message.getRefused().getReason()),
            "the worker at " + peer, message.getRefused().getMessage());
      default:
        throw new ProtocolException("the worker at " + peer + " sent " + message.getMessageCase()
            + " during the session");
    }
  }

  /**
   * A large frame. If it is one DtoH chunk, ServerMessage{replies{replies{seq, data, offset,
   * last}}} as the worker sends it, of a copy with a destination array whose chunks so far came
   * in order, to where the next chunk goes, its data is read from the socket straight there and
   * its Reply returned with empty data. Otherwise null, with the bytes of the frame read so far
   * ({@link #used}) at the start of the frame buffer, for the ordinary parse.
   */
  private Reply readLarge(int length) throws IOException {
    used = 0;
    long tag = headVarint(length);
    long batch = tag == TAG_SERVER_REPLIES ? headVarint(length) : -1;
    if (batch != length - used) return notAChunk(length);
    tag = headVarint(length);
    long replyBytes = tag == TAG_BATCH_REPLY ? headVarint(length) : -1;
    if (replyBytes != length - used) return notAChunk(length);
    int replyStart = used;
    int fieldsEnd;
    while (true) { // the Reply's varint fields before its data
      fieldsEnd = used;
      tag = headVarint(length);
      if (tag == TAG_REPLY_DATA || tag < 0 || (tag & 7) != 0) break;
      if (headVarint(length) < 0) break;
    }
    long n = tag == TAG_REPLY_DATA ? headVarint(length) : -1;
    if (n <= 0 || n > length - used) return notAChunk(length);
    Reply start = parse(head, replyStart, fieldsEnd - replyStart);
    PendingCall call = pending.apply(start.getSeq());
    if (call == null || call.target == null || !call.inOrder || start.getResult() != 0
        || call.expected + n > call.target.length) {
      return notAChunk(length);
    }
    int at = (int) call.expected;
    readFully(call.target, at, (int) n);
    int rest = length - used - (int) n;
    byte[] tail = buffer.get(rest);
    readFully(tail, 0, rest);
    Reply.Builder reply = start.toBuilder();
    try {
      reply.mergeFrom(tail, 0, rest);
    } catch (InvalidProtocolBufferException e) {
      throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
    }
    if (reply.getOffset() != at) {
      // Not where the next chunk goes: hand it over with its data, as any other reply.
      call.inOrder = false;
      return reply.setData(ByteString.copyFrom(call.target, at, (int) n)).build();
    }
    call.expected += n;
    return reply.build();
  }

  /** A varint of a large frame's head, kept in {@link #head}; -1 where the head is not a plain one. */
  private long headVarint(int length) throws IOException {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (used == head.length || used == length) return -1;
      int b = in.read();
      if (b < 0) throw new EOFException("the connection ended inside a frame");
      head[used++] = (byte) b;
      value |= (long) (b & 0x7f) << shift;
      if (b < 0x80) return value;
    }
    return -1;
  }

  /** Puts the bytes of the frame's head read so far at the start of the frame buffer. */
  private Reply notAChunk(int length) {
    System.arraycopy(head, 0, buffer.get(length), 0, used);
    return null;
  }

  private void readFully(byte[] into, int at, int n) throws IOException {
    try {
      in.readFully(into, at, n);
    } catch (EOFException e) {
      throw new EOFException("the connection ended inside a frame");
    }
  }

  private static Reply parse(byte[] bytes, int at, int n) {
    try {
      return Reply.parseFrom(UnsafeByteOperations.unsafeWrap(bytes, at, n));
    } catch (InvalidProtocolBufferException e) {
      throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
    }
  }
}
