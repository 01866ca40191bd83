package io.gpupool.remote;

import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;

/** remote.proto's Refused: said once, then the connection is closed (nothing else is read from it). */
final class Refusal {
  private Refusal() {}

  static void send(Channel channel, Refused.Reason reason, String message) {
    channel.config().setAutoRead(false);
    if (!channel.isActive()) return;
    ServerMessage refused =
        ServerMessage.newBuilder().setRefused(Refused.newBuilder().setReason(reason).setMessage(message)).build();
    channel.writeAndFlush(refused).addListener(ChannelFutureListener.CLOSE);
  }

  /** What went wrong with a frame, for the Refused message, without echoing the peer's bytes. */
  static String describe(Throwable cause) {
    Throwable t = cause;
    while (t.getCause() != null && t.getMessage() == null) t = t.getCause();
    if (t instanceof io.netty.handler.codec.TooLongFrameException) return t.getMessage();
    if (cause instanceof io.netty.handler.codec.DecoderException) return "malformed frame";
    return "bad request: " + cause.getClass().getSimpleName();
  }
}
