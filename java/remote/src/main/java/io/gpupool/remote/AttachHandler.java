package io.gpupool.remote;

import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.ServerMessage;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;

/**
 * A connection before it is attached: the first message must be an Attach with the session's
 * secret. A wrong secret is Refused BAD_TOKEN and the connection closed before any other work;
 * the right one makes this connection the session's (the worker stops accepting others), raises
 * the frame limit to the session's and answers Welcome.
 */
final class AttachHandler extends SimpleChannelInboundHandler<InboundFrame> {
  private final WorkerServer server;
  private final byte[] secret;
  private final BoundedFrameDecoder decoder;
  private boolean done;

  AttachHandler(WorkerServer server, byte[] secret, BoundedFrameDecoder decoder) {
    this.server = server;
    this.secret = secret;
    this.decoder = decoder;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, InboundFrame frame) {
    ClientMessage message = frame.message();
    try {
      attach(ctx, message);
    } finally {
      frame.release();
    }
  }

  private void attach(ChannelHandlerContext ctx, ClientMessage message) {
    if (done) return;
    done = true;
    if (!message.hasAttach()) {
      Refusal.send(ctx.channel(), Refused.Reason.BAD_REQUEST, "the first message to a worker is Attach");
      return;
    }
    if (!WorkerSecret.matches(secret, message.getAttach().getSecret().toByteArray())) {
      Refusal.send(ctx.channel(), Refused.Reason.BAD_TOKEN, "wrong session secret");
      return;
    }
    Session session = server.claim(ctx.channel());
    if (session == null) {
      Refusal.send(ctx.channel(), Refused.Reason.BAD_TOKEN, "the session is already attached or over");
      return;
    }
    decoder.maxBytes(server.limits().maxFrameBytes());
    decoder.decodeLaunches(); // only the SessionHandler takes InboundFrames without a message
    session.attach(ctx.channel());
    ctx.pipeline().replace(this, "session", new SessionHandler(session));
    ctx.channel().writeAndFlush(ServerMessage.newBuilder().setWelcome(session.welcome()).build());
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (done) return;
    done = true;
    Refusal.send(ctx.channel(), Refused.Reason.BAD_REQUEST, Refusal.describe(cause));
  }
}
