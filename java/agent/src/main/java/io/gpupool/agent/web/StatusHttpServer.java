package io.gpupool.agent.web;

import io.gpupool.proto.v1.Report;
import io.gpupool.proto.v1.Status;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandler;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.function.Supplier;

/**
 * The agent's HTTP endpoint: the status page, {@code /api/status}, {@code /api/report} and
 * {@code /metrics} (see {@link StatusRoutes} for the routes).
 *
 * <p>Why Netty and not the JDK's HttpServer: the agent already runs Netty event loops for its
 * Unix socket and may share them here. Requests are small (bodies capped at 64 KiB) and
 * aggregated; the routes run on two threads of their own, so a slow report (it reads history)
 * or a status supplier waiting on the agent's lock never stalls the event loop that other
 * connections, or the agent's own socket, are served from.
 *
 * <p>Binding happens in the constructor; port 0 picks a free port, see {@link #address()}.
 */
public final class StatusHttpServer implements AutoCloseable {

  /** Largest request (headers aside) accepted; larger ones get 413. */
  public static final int MAX_REQUEST_BYTES = 64 * 1024;

  private final EventLoopGroup group;
  private final boolean ownGroup;
  private final ExecutorService routeExecutor;
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final StatusRoutes routes;
  private final Channel channel;
  private final InetSocketAddress address;

  /**
   * Binds a server with an event loop of its own.
   *
   * @param host address to bind, e.g. "127.0.0.1" or "0.0.0.0"
   * @param port port to bind; 0 for any free port
   * @param status the agent's current state; called per request to /api/status and /metrics
   * @param report the usage report for jobs that ran since the given unix ms
   */
  public StatusHttpServer(String host, int port, Supplier<Status> status,
      LongFunction<Report> report) throws IOException {
    this(host, port, status, report, null);
  }

  /**
   * Binds a server on {@code group}, or on an event loop of its own if {@code group} is null.
   * A given group stays open on {@link #close()}; it may be NIO or epoll based.
   */
  public StatusHttpServer(String host, int port, Supplier<Status> status,
      LongFunction<Report> report, EventLoopGroup group) throws IOException {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(report, "report");
    this.routes = new StatusRoutes(status, report, System::currentTimeMillis);
    this.ownGroup = group == null;
    this.group = ownGroup
        ? new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("gpupool-http", true),
            NioIoHandler.newFactory())
        : group;
    this.routeExecutor = Executors.newFixedThreadPool(2,
        new DefaultThreadFactory("gpupool-http-route", true));
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(this.group)
        .channel(serverChannelFor(this.group))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            connections.add(ch);
            ch.pipeline()
                .addLast("codec", new HttpServerCodec())
                .addLast("aggregate", new HttpObjectAggregator(MAX_REQUEST_BYTES))
                .addLast("routes", new StatusHttpHandler(routes, routeExecutor));
          }
        });
    ChannelFuture bind = bootstrap.bind(host, port).awaitUninterruptibly();
    if (!bind.isSuccess()) {
      shutdownExecutors();
      throw new IOException("cannot bind the status HTTP server to " + host + ":" + port + ": "
          + bind.cause().getMessage(), bind.cause());
    }
    this.channel = bind.channel();
    this.address = (InetSocketAddress) channel.localAddress();
  }

  /** The address actually bound (the real port when 0 was asked for). */
  public InetSocketAddress address() {
    return address;
  }

  /** The exporter behind {@code /metrics}: its registry takes further collectors. */
  public MetricsExporter metrics() {
    return routes.metrics();
  }

  /**
   * Stops listening, closes open connections (kept-alive ones too: a shared group outlives this
   * server), then releases the threads it created. Idempotent.
   */
  @Override
  public void close() {
    channel.close().awaitUninterruptibly();
    connections.close().awaitUninterruptibly();
    shutdownExecutors();
  }

  private void shutdownExecutors() {
    routeExecutor.shutdownNow();
    if (ownGroup) {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
  }

  /**
   * The agent may hand us its epoll group (its Unix socket needs epoll); else NIO. Epoll is
   * looked up by name because it is a runtime-only dependency (native, Linux only): where it is
   * missing, no group can be an epoll one.
   */
  private static Class<? extends ServerChannel> serverChannelFor(EventLoopGroup group) {
    if (group instanceof IoEventLoopGroup io) {
      try {
        Class<? extends IoHandler> epoll =
            Class.forName("io.netty.channel.epoll.EpollIoHandler").asSubclass(IoHandler.class);
        if (io.isIoType(epoll)) {
          return Class.forName("io.netty.channel.epoll.EpollServerSocketChannel")
              .asSubclass(ServerChannel.class);
        }
      } catch (ClassNotFoundException e) {
        // no epoll classes: the group is NIO (or another transport we then fail to bind on)
      }
    }
    return NioServerSocketChannel.class;
  }
}
