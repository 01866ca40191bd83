package io.gpupool.remote;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A worker serving exactly one remote session on this JVM's CUDA driver (device 0 of what it
 * shows; under the agent, the shim's view with the session's quota). It listens on HOST:0,
 * accepts connections until one attaches with the session's secret, then serves that connection
 * only; when it closes, everything the session held is freed and {@link #finished} completes.
 * With no attach within {@link WorkerLimits#attachTimeoutMs} it gives up the same way.
 *
 * <p>{@code WorkerMain} runs it as the per-session process the agent starts; the Java client's
 * tests run it in-process.
 */
public final class WorkerServer implements AutoCloseable {
  /** An Attach is a few dozen bytes; an unauthenticated peer gets no more than this. */
  static final int MAX_ATTACH_FRAME_BYTES = 4096;

  /**
   * The connections' buffers: pooled, in 16 MiB chunks. With Netty's default allocator every
   * 1 MiB frame (an HtoD chunk being gathered, a DtoH reply) was new memory from the JVM, zeroed
   * and page-faulted each time; here the frames in flight share a chunk that stays allocated
   * (Netty frees a chunk only once it was more than a quarter used and then emptied).
   */
  static final PooledByteBufAllocator BUFFERS = new PooledByteBufAllocator(true, 1, 1, 8192, 11,
      PooledByteBufAllocator.defaultSmallCacheSize(), PooledByteBufAllocator.defaultNormalCacheSize(),
      PooledByteBufAllocator.defaultUseCacheForAllThreads());

  private final WorkerLimits limits;
  private final Session session;
  private final EventLoopGroup group;
  private final ChannelGroup connections;
  private final AtomicReference<Object> owner = new AtomicReference<>();
  private final CompletableFuture<Void> finished = new CompletableFuture<>();
  private Channel listener;

  private WorkerServer(WorkerLimits limits, Session session, EventLoopGroup group) {
    this.limits = limits;
    this.session = session;
    this.group = group;
    this.connections = new DefaultChannelGroup(group.next());
  }

  public static WorkerServer start(String host, byte[] secret, WorkerLimits limits) throws IOException {
    return start(host, secret, limits, null);
  }

  /** As {@link #start(String, byte[], WorkerLimits)}, with TLS when {@code ssl} is not null. */
  public static WorkerServer start(String host, byte[] secret, WorkerLimits limits, SslContext ssl) throws IOException {
    if (secret == null || secret.length == 0) throw new IllegalArgumentException("no session secret");
    byte[] key = secret.clone();
    Session session = Session.open(limits);
    boolean epoll = Epoll.isAvailable();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    WorkerServer server = new WorkerServer(limits, session, group);
    Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    try {
      server.listener = new ServerBootstrap()
          .group(group)
          .channel(channelType)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.ALLOCATOR, BUFFERS)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(4 << 20, 8 << 20))
          // Reads of up to 64 KiB: the bulk of a larger frame (an HtoD chunk) is read straight
          // into the frame's buffer instead (FrameReadAllocator).
          .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(512, 8 << 10, 64 << 10))
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
              if (server.owner.get() != null) {
                c.close();
                return;
              }
              server.connections.add(c);
              BoundedFrameDecoder decoder = new BoundedFrameDecoder(MAX_ATTACH_FRAME_BYTES);
              if (ssl != null) {
                c.pipeline().addLast(ssl.newHandler(c.alloc()));
              } else {
                c.config().setRecvByteBufAllocator(new FrameReadAllocator(c.config().getRecvByteBufAllocator(), decoder));
              }
              c.pipeline()
                  .addLast(decoder)
                  .addLast(FrameEncoder.INSTANCE)
                  .addLast(new AttachHandler(server, key, decoder));
            }
          })
          .bind(host, 0)
          .sync()
          .channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdown();
      throw new IOException("interrupted while binding " + host, e);
    } catch (RuntimeException e) {
      server.shutdown();
      throw new IOException("cannot listen on " + host + ": " + e.getMessage(), e);
    }
    group.schedule(() -> {
      if (server.owner.compareAndSet(null, "attach timed out")) server.shutdown();
    }, limits.attachTimeoutMs(), TimeUnit.MILLISECONDS);
    return server;
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) listener.localAddress();
  }

  /** Completes when the session ended (its connection closed, or no attach in time) and was freed. */
  public CompletableFuture<Void> finished() {
    return finished;
  }

  /** True once a client attached (false after an attach timeout): WorkerMain's exit status. */
  public boolean attached() {
    return owner.get() instanceof Channel;
  }

  /** Ends the session now (closing its connection) and waits until it was freed. */
  @Override
  public void close() {
    owner.compareAndSet(null, "closed");
    shutdown();
    try {
      finished.get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // the session thread is stuck in the driver; nothing more to do from here
    }
  }

  WorkerLimits limits() {
    return limits;
  }

  /** Live handles of the session (0 once it ended): for tests. */
  int liveHandles() {
    return session.liveHandles();
  }

  /** Makes {@code channel} the session's connection; null if another one (or a timeout) came first. */
  Session claim(Channel channel) {
    if (!owner.compareAndSet(null, channel)) return null;
    if (listener != null) listener.close();
    connections.remove(channel);
    connections.close();
    channel.closeFuture().addListener(f -> shutdown());
    return session;
  }

  private void shutdown() {
    if (listener != null) listener.close();
    connections.close();
    Object o = owner.get();
    if (o instanceof Channel) ((Channel) o).close();
    session.end().whenComplete((v, e) -> {
      // A short quiet period: tasks the closing channels still post (a refusal's send, an
      // autoRead update) run instead of being dropped with "terminated with non-empty task queue".
      group.shutdownGracefully(50, 1000, TimeUnit.MILLISECONDS);
      finished.complete(null);
    });
  }
}
