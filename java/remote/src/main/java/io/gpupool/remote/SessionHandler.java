package io.gpupool.remote;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Refused;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The attached connection, on the event loop: checks every batch (only CallBatch, every call a
 * known op, seq increasing by one — anything else is Refused BAD_REQUEST and the session ends)
 * and hands it to the session thread (or runs it at once, see Session#tryExecuteInline).
 *
 * <p>Backpressure: the socket is not read while more than {@link #MAX_QUEUED_BYTES} of calls
 * wait for the session thread, or while the outbound buffer is over its high water mark (the
 * client is not reading its replies). TCP flow control then pushes back on the client, so a fast
 * or stalled client cannot make the worker buffer without bound. While a host-function gate
 * waits for the client's HostFuncDone, reading goes on up to twice that: the Done may sit behind
 * calls another client thread sent meanwhile, and the session could otherwise wait for it forever.
 *
 * <p>HostFuncDone is handled here, on arrival, not queued: the session thread may be waiting on
 * the very stream it opens.
 */
final class SessionHandler extends SimpleChannelInboundHandler<InboundFrame> {
  static final long MAX_QUEUED_BYTES = 64L * 1024 * 1024;

  private final Session session;
  private final AtomicLong queuedBytes = new AtomicLong();
  private long expectedSeq = -1;
  private boolean refused;

  SessionHandler(Session session) {
    this.session = session;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    session.hostFunctions().onAwait(() -> ctx.executor().execute(() -> updateAutoRead(ctx)));
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, InboundFrame frame) {
    boolean queued = false;
    try {
      queued = queue(ctx, frame);
    } finally {
      if (!queued) frame.release();
    }
  }

  /** True if the batch was handed to the session thread, which then releases the frame. */
  private boolean queue(ChannelHandlerContext ctx, InboundFrame frame) {
    if (refused) return false;
    LaunchBatch launches = frame.launches();
    if (launches != null) {
      for (int i = 0; i < launches.count(); i++) {
        if (!nextSeq(ctx, launches.get(i, LaunchBatch.SEQ))) return false;
      }
      if (session.tryExecuteInline(launches, frame.frame().readableBytes())) return false; // executed: the frame is released
      return hand(ctx, frame, done -> session.execute(launches, done));
    }
    ClientMessage message = frame.message();
    if (message.hasHostFuncDone()) {
      long id = message.getHostFuncDone().getId();
      if (!session.hostFunctions().done(id)) {
        refuse(ctx, "HostFuncDone for host function " + Long.toUnsignedString(id) + ", which is not waiting");
      }
      return false;
    }
    if (!message.hasCalls()) {
      refuse(ctx, "an attached session sends only CallBatch and HostFuncDone, not " + message.getMessageCase());
      return false;
    }
    CallBatch batch = message.getCalls();
    for (Call call : batch.getCallsList()) {
      if (call.getOpCase() == Call.OpCase.OP_NOT_SET) {
        refuse(ctx, "call " + Long.toUnsignedString(call.getSeq()) + " has no known op");
        return false;
      }
      if (!nextSeq(ctx, call.getSeq())) return false;
    }
    if (session.tryExecuteInline(batch, frame.frame().readableBytes())) return false; // executed: the frame is released
    return hand(ctx, frame, done -> session.execute(batch, done));
  }

  /** Checks that seq follows the previous call's; refuses the session (false) if not. */
  private boolean nextSeq(ChannelHandlerContext ctx, long seq) {
    if (expectedSeq != -1 && seq != expectedSeq) {
      refuse(ctx, "call seq " + Long.toUnsignedString(seq) + ", expected " + Long.toUnsignedString(expectedSeq));
      return false;
    }
    expectedSeq = seq + 1;
    return true;
  }

  /** Queues the frame's batch for the session thread through {@code execute}, counting its bytes until done. */
  private boolean hand(ChannelHandlerContext ctx, InboundFrame frame, Consumer<Runnable> execute) {
    long size = frame.frame().readableBytes();
    queuedBytes.addAndGet(size);
    updateAutoRead(ctx);
    execute.accept(() -> {
      frame.release(); // the calls' data (views of the frame) is no longer used
      if (queuedBytes.addAndGet(-size) <= MAX_QUEUED_BYTES && !ctx.channel().config().isAutoRead()) {
        ctx.channel().eventLoop().execute(() -> updateAutoRead(ctx));
      }
    });
    return true;
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    updateAutoRead(ctx);
    ReplyWriter writer = session.writer();
    if (writer != null) writer.writabilityChanged();
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    ReplyWriter writer = session.writer();
    if (writer != null) writer.writabilityChanged(); // a session thread waiting to send gives up
    ctx.fireChannelInactive();
  }

  private void updateAutoRead(ChannelHandlerContext ctx) {
    if (refused) return;
    long limit = session.hostFunctions().awaiting() > 0 ? 2 * MAX_QUEUED_BYTES : MAX_QUEUED_BYTES;
    boolean read = queuedBytes.get() <= limit && ctx.channel().isWritable();
    if (ctx.channel().config().isAutoRead() != read) ctx.channel().config().setAutoRead(read);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!refused) refuse(ctx, Refusal.describe(cause));
  }

  private void refuse(ChannelHandlerContext ctx, String why) {
    refused = true;
    session.stop();
    Refusal.send(ctx.channel(), Refused.Reason.BAD_REQUEST, why);
  }
}
