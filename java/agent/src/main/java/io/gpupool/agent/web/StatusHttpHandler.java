package io.gpupool.agent.web;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Answers the aggregated HTTP requests of one connection with what {@link StatusRoutes}
 * returns. One instance per connection.
 *
 * <p>Routes run on {@code executor}, not on the event loop: the status supplier may wait for
 * the agent's lock and a report reads history, and the event loop may be the agent's own.
 * Requests of one connection are chained, so pipelined requests are answered in order.
 *
 * <p>Why this is where failures stop: a request the codec could not parse gets a 400 and the
 * connection is closed (its framing is lost); a route that throws gets a 500 carrying the
 * exception's message; an I/O error closes only that connection. Nothing here ever propagates
 * to the server channel, so one bad client or one bug in a route cannot take the page or
 * {@code /metrics} down for everybody else.
 */
final class StatusHttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger LOG = Logger.getLogger(StatusHttpHandler.class.getName());

  private final StatusRoutes routes;
  private final Executor executor;
  /** The last request's work on this connection; the next one runs after it. */
  private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);

  StatusHttpHandler(StatusRoutes routes, Executor executor) {
    this.routes = routes;
    this.executor = executor;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    boolean head = HttpMethod.HEAD.equals(request.method());
    if (!request.decoderResult().isSuccess()) {
      Throwable cause = request.decoderResult().cause();
      send(ctx, head, HttpReply.text(400, "bad request: "
          + (cause == null ? "malformed" : cause.getMessage())), false);
      return;
    }
    // The request is released when this returns: keep only what the route needs.
    String method = request.method().name();
    String uri = request.uri();
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    try {
      tail = tail.thenRunAsync(() -> {
        try {
          send(ctx, head, answer(method, uri), keepAlive);
        } catch (Throwable t) { // never leave the chain failed: later requests would be dropped
          LOG.log(Level.WARNING, "HTTP reply to " + method + " " + uri + " failed", t);
          ctx.close();
        }
      }, executor);
    } catch (RejectedExecutionException e) {
      send(ctx, head, HttpReply.text(503, "shutting down"), false);
    }
  }

  private HttpReply answer(String method, String uri) {
    try {
      return routes.handle(method, uri);
    } catch (Throwable t) {
      LOG.log(Level.WARNING, "HTTP " + method + " " + uri + " failed", t);
      return HttpReply.text(500, "internal error: " + t);
    }
  }

  /** Writes the reply; HEAD gets the headers GET would (Content-Length included), no body. */
  private static void send(ChannelHandlerContext ctx, boolean head, HttpReply reply,
      boolean keepAlive) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(reply.status()),
        head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(reply.body()));
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, reply.contentType())
        .set(HttpHeaderNames.CONTENT_LENGTH, reply.body().length)
        .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE)
        .set("X-Content-Type-Options", "nosniff");
    for (Map.Entry<String, String> h : reply.headers().entrySet()) {
      response.headers().set(h.getKey(), h.getValue());
    }
    if (keepAlive) {
      // HTTP/1.0 clients only keep the connection when told so.
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(response);
    } else {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.log(Level.FINE, "HTTP connection from " + ctx.channel().remoteAddress() + " failed", cause);
    ctx.close();
  }
}
