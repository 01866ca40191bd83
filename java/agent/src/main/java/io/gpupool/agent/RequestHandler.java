package io.gpupool.agent;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.Error;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.DecoderException;
import java.util.logging.Logger;

/**
 * One connection to the agent's socket. Status, report and cancel: one request, one reply,
 * closed. Submit: the connection stays open while the job waits and runs (see agent.proto).
 * A malformed or hostile request gets an error reply and the connection is closed; nothing it
 * sends can stop the agent.
 */
final class RequestHandler extends SimpleChannelInboundHandler<AgentRequest> {
  private static final Logger LOG = Logger.getLogger(RequestHandler.class.getName());

  private final Agent agent;
  private Peer peer = Peer.UNKNOWN;
  private volatile Job submitted; // set once a Submit was accepted on this connection
  private boolean requested;

  RequestHandler(Agent agent) {
    this.agent = agent;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    peer = credentials(ctx.channel());
    super.channelActive(ctx);
  }

  private static Peer credentials(Channel channel) {
    if (channel instanceof EpollDomainSocketChannel epoll) {
      try {
        PeerCredentials c = epoll.peerCredentials();
        return new Peer(c.uid(), c.pid());
      } catch (java.io.IOException e) {
        LOG.warning("no peer credentials: " + e.getMessage());
      }
    }
    return Peer.UNKNOWN;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, AgentRequest request) {
    if (request.getRequestCase() == AgentRequest.RequestCase.FINISHED && submitted != null) {
      agent.connectionClosed(submitted, true);
      ctx.close();
      return;
    }
    if (requested) {
      fail(ctx, "one request per connection (after Submit only Finished may follow)");
      return;
    }
    requested = true;
    switch (request.getRequestCase()) {
      case STATUS -> reply(ctx, AgentReply.newBuilder().setStatus(agent.status()).build());
      case REPORT -> {
        long since = request.getReport().getSinceUnixMs();
        java.util.concurrent.CompletableFuture.supplyAsync(() -> agent.report(since))
            .whenComplete((r, e) -> reply(ctx, e == null ? AgentReply.newBuilder().setReport(r).build()
                : Scheduler.error(Error.Code.UNAVAILABLE, "report failed: " + e)));
      }
      case CANCEL -> agent.cancel(request.getCancel(), peer).whenComplete((r, e) -> reply(ctx,
          e == null ? r : Scheduler.error(Error.Code.UNAVAILABLE, "cancel failed: " + e)));
      case SUBMIT -> agent.submit(request.getSubmit(), peer, new ChannelConnection(ctx.channel()),
          j -> submitted = j);
      default -> fail(ctx, "empty or unknown request");
    }
  }

  private static void reply(ChannelHandlerContext ctx, AgentReply reply) {
    ctx.writeAndFlush(reply).addListener(ChannelFutureListener.CLOSE);
  }

  private static void fail(ChannelHandlerContext ctx, String why) {
    reply(ctx, Scheduler.error(Error.Code.BAD_REQUEST, why));
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    Job j = submitted;
    if (j != null) agent.connectionClosed(j);
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof DecoderException) {
      fail(ctx, "malformed request: " + cause.getMessage());
    } else {
      LOG.fine("connection closed: " + cause);
      ctx.close();
    }
  }

  /** A job's connection, as the scheduler sees it. */
  private static final class ChannelConnection implements JobConnection {
    private final Channel channel;

    ChannelConnection(Channel channel) {
      this.channel = channel;
    }

    @Override
    public void send(AgentReply reply) {
      if (channel.isActive()) channel.writeAndFlush(reply);
    }

    @Override
    public void close() {
      channel.close();
    }

    @Override
    public boolean isOpen() {
      return channel.isActive();
    }

    @Override
    public void sendAndClose(AgentReply reply) {
      if (channel.isActive()) channel.writeAndFlush(reply).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
