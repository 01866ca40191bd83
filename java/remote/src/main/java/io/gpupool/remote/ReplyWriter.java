package io.gpupool.remote;

import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ReplyBatch;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.channel.Channel;
import java.util.function.BooleanSupplier;

/**
 * Collects a batch's replies into ReplyBatch frames for the session thread. A frame is sent once
 * it holds about 1 MiB (so with a DtoH chunk it stays far below MAX_FRAME_BYTES) and at the end
 * of each CallBatch. Before sending, the session thread waits while the channel is not writable:
 * a client that stops reading stalls its own session instead of filling the worker's memory with
 * unsent replies (Netty's outbound buffer stays under the high water mark plus one frame).
 */
final class ReplyWriter implements ReplySink {
  static final int FLUSH_BYTES = 1024 * 1024;

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

  /** Called by the event loop when the channel's writability changed. */
  void writabilityChanged() {
    synchronized (writable) {
      writable.notifyAll();
    }
  }

  private void awaitWritable() {
    synchronized (writable) {
      while (!channel.isWritable() && channel.isActive() && !stopped.getAsBoolean()) {
        try {
          writable.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }
}
