package io.gpupool.remote;

import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * remote.proto's Refused: said once, then the connection is closed and nothing more of it is
 * executed. The close lingers: closing a socket with unread input makes the kernel send a
 * reset, which can destroy the Refused before the client reads it (a client refused for an
 * oversized frame is typically still sending it). So the worker sends Refused, shuts its output
 * (the client reads Refused, then end of stream), throws away whatever still arrives without
 * decoding or buffering it, and closes when the client does or after {@link #LINGER_MS}.
 */
final class Refusal {
  static final long LINGER_MS = 2000;

  private Refusal() {}

  static void send(Channel channel, Refused.Reason reason, String message) {
    if (!channel.eventLoop().inEventLoop()) {
      channel.eventLoop().execute(() -> send(channel, reason, message));
      return;
    }
    if (!channel.isActive() || channel.pipeline().get(Discard.class) != null) return;
    channel.pipeline().addFirst(new Discard());
    ServerMessage refused =
        ServerMessage.newBuilder().setRefused(Refused.newBuilder().setReason(reason).setMessage(message)).build();
    channel.writeAndFlush(refused).addListener(f -> {
      if (f.isSuccess() && channel instanceof DuplexChannel) {
        ((DuplexChannel) channel).shutdownOutput();
        channel.config().setAutoRead(true);
        channel.eventLoop().schedule(() -> channel.close(), LINGER_MS, TimeUnit.MILLISECONDS);
      } else {
        channel.close();
      }
    });
  }

  /** What went wrong with a frame, for the Refused message, without echoing the peer's bytes. */
  static String describe(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof TooLongFrameException) return t.getMessage();
    }
    if (cause instanceof DecoderException) return "malformed frame";
    return "bad request: " + cause.getClass().getSimpleName();
  }

  /** Drops all input of a refused connection; the end of its input closes it. */
  private static final class Discard extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!(msg instanceof ByteBuf)) {
        ctx.fireChannelRead(msg);
        return;
      }
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
