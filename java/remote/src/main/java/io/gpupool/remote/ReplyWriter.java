package io.gpupool.remote;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ReplyBatch;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.BooleanSupplier;

/**
 * Collects a batch's replies into ReplyBatch frames for the session thread. A frame is sent once
 * it holds about 1 MiB (so with a DtoH chunk it stays far below MAX_FRAME_BYTES) and at the end
 * of each CallBatch. Before sending, the session thread waits while the channel is not writable:
 * a client that stops reading stalls its own session instead of filling the worker's memory with
 * unsent replies (Netty's outbound buffer stays under the high water mark plus one frame).
 *
 * <p>A DtoH chunk is sent as a frame of its own, built around the buffer the driver copied the
 * data into (header, data, trailer as one gathered write): the bytes are exactly those protobuf
 * would serialise for ServerMessage{replies{replies{seq, data, offset, last}}}, without copying
 * the data into a message and then into a frame. The session thread then copies the next chunk
 * while the event loop sends this one.
 */
final class ReplyWriter implements ReplySink {
  static final int FLUSH_BYTES = 1024 * 1024;

  private static final int SERVER_MESSAGE_REPLIES = ServerMessage.REPLIES_FIELD_NUMBER;
  private static final int BATCH_REPLIES = ReplyBatch.REPLIES_FIELD_NUMBER;

  private final Channel channel;
  private final BooleanSupplier stopped;
  private final Object writable = new Object();
  private ReplyBatch.Builder pending = ReplyBatch.newBuilder();
  private int pendingBytes;

  ReplyWriter(Channel channel, BooleanSupplier stopped) {
    this.channel = channel;
    this.stopped = stopped;
  }

  @Override
  public void add(Reply reply) {
    pending.addReplies(reply);
    pendingBytes += reply.getSerializedSize() + 8;
    if (pendingBytes >= FLUSH_BYTES) flush();
  }

  @Override
  public ByteBuf buffer(int bytes) {
    return channel.alloc().directBuffer(bytes, bytes);
  }

  @Override
  public void addData(long seq, long offset, boolean last, ByteBuf data) {
    CompositeByteBuf frame;
    try {
      flush(); // the replies before this one go first
      frame = dataFrame(seq, offset, last, data);
    } catch (RuntimeException e) {
      data.release();
      throw e;
    }
    awaitWritable();
    if (stopped.getAsBoolean()) {
      frame.release();
      return;
    }
    channel.writeAndFlush(frame, channel.voidPromise());
  }

  /** The frame of ServerMessage{replies{replies{seq, data, offset, last}}} around {@code data}. */
  private CompositeByteBuf dataFrame(long seq, long offset, boolean last, ByteBuf data) {
    int n = data.readableBytes();
    int trailerSize = (offset != 0 ? CodedOutputStream.computeUInt64Size(Reply.OFFSET_FIELD_NUMBER, offset) : 0)
        + (last ? CodedOutputStream.computeBoolSize(Reply.LAST_FIELD_NUMBER, true) : 0);
    int replySize = (seq != 0 ? CodedOutputStream.computeUInt64Size(Reply.SEQ_FIELD_NUMBER, seq) : 0)
        + (n != 0 ? CodedOutputStream.computeTagSize(Reply.DATA_FIELD_NUMBER) + CodedOutputStream.computeUInt32SizeNoTag(n) + n : 0)
        + trailerSize;
    int batchSize = CodedOutputStream.computeTagSize(BATCH_REPLIES) + CodedOutputStream.computeUInt32SizeNoTag(replySize) + replySize;
    int messageSize = CodedOutputStream.computeTagSize(SERVER_MESSAGE_REPLIES)
        + CodedOutputStream.computeUInt32SizeNoTag(batchSize) + batchSize;
    int headerSize = CodedOutputStream.computeUInt32SizeNoTag(messageSize) + messageSize - n - trailerSize;
    ByteBuf header = channel.alloc().directBuffer(headerSize, headerSize);
    ByteBuf trailer = null;
    CompositeByteBuf frame = channel.alloc().compositeDirectBuffer(3);
    try {
      CodedOutputStream h = CodedOutputStream.newInstance(header.nioBuffer(0, headerSize));
      h.writeUInt32NoTag(messageSize);
      h.writeTag(SERVER_MESSAGE_REPLIES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      h.writeUInt32NoTag(batchSize);
      h.writeTag(BATCH_REPLIES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      h.writeUInt32NoTag(replySize);
      if (seq != 0) h.writeUInt64(Reply.SEQ_FIELD_NUMBER, seq);
      if (n != 0) {
        h.writeTag(Reply.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        h.writeUInt32NoTag(n);
      }
      h.flush();
      header.writerIndex(headerSize);
      frame.addComponent(true, header);
      header = null;
      frame.addComponent(true, data);
      data = null;
      if (trailerSize != 0) {
        trailer = channel.alloc().directBuffer(trailerSize, trailerSize);
        CodedOutputStream t = CodedOutputStream.newInstance(trailer.nioBuffer(0, trailerSize));
        if (offset != 0) t.writeUInt64(Reply.OFFSET_FIELD_NUMBER, offset);
        if (last) t.writeBool(Reply.LAST_FIELD_NUMBER, true);
        t.flush();
        trailer.writerIndex(trailerSize);
        frame.addComponent(true, trailer);
        trailer = null;
      }
      return frame;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (header != null) header.release();
      if (data != null) data.release();
      if (trailer != null) trailer.release();
    }
  }

  void flush() {
    if (pending.getRepliesCount() == 0) return;
    ServerMessage message = ServerMessage.newBuilder().setReplies(pending).build();
    pending = ReplyBatch.newBuilder();
    pendingBytes = 0;
    awaitWritable();
    if (!stopped.getAsBoolean()) channel.writeAndFlush(message, channel.voidPromise());
  }

  /** Ends the connection with Refused UNAVAILABLE. */
  void abort(String why) {
    Refusal.send(channel, io.gpupool.proto.v1.Refused.Reason.UNAVAILABLE, why);
  }

  /** Called by the event loop when the channel's writability changed or it closed. */
  void writabilityChanged() {
    synchronized (writable) {
      writable.notifyAll();
    }
  }

  /** Waits (notified by {@link #writabilityChanged}) while the channel is open but over its high water mark. */
  private void awaitWritable() {
    // On the event loop (a batch executed inline: no DtoH, so a few small replies) it never
    // waits: only the event loop itself could make the channel writable again.
    if (channel.isWritable() || channel.eventLoop().inEventLoop()) return;
    synchronized (writable) {
      while (!channel.isWritable() && channel.isActive() && !stopped.getAsBoolean()) {
        try {
          writable.wait(1000); // a safety net only: every change of writability notifies
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }
}
