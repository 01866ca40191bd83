package io.gpupool.agent.remote;

import io.gpupool.agent.Agent;
import io.gpupool.agent.BoundedVarint32FrameDecoder;
import io.gpupool.proto.v1.ClientMessage;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.protobuf.ProtobufDecoder;
import io.netty.handler.codec.protobuf.ProtobufEncoder;
import io.netty.handler.codec.protobuf.ProtobufVarint32LengthFieldPrepender;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * `gpupool agent --listen HOST:PORT`: where remote clients start sessions. Only the handshake
 * happens here (one small Hello per connection, 64 KiB at most, 30 s to send it); the session's
 * calls go to its worker.
 */
public final class RemoteListener implements AutoCloseable {
  static final int MAX_HELLO_BYTES = 64 * 1024;

  private final EventLoopGroup group;
  private final Channel channel;
  private final ExecutorService launches;

  private RemoteListener(EventLoopGroup group, Channel channel, ExecutorService launches) {
    this.group = group;
    this.channel = channel;
    this.launches = launches;
  }

  public static RemoteListener start(Agent agent, RemoteOptions options) throws IOException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    ExecutorService launches = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "gpupool-worker-launch");
      t.setDaemon(true);
      return t;
    });
    try {
      Channel ch = new ServerBootstrap()
          .group(group)
          .channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
              if (options.ssl() != null) c.pipeline().addLast(options.ssl().newHandler(c.alloc()));
              c.pipeline()
                  .addLast(RemoteHandshakeHandler.HELLO_TIMEOUT, new ReadTimeoutHandler(30))
                  .addLast(new BoundedVarint32FrameDecoder(MAX_HELLO_BYTES))
                  .addLast(new ProtobufDecoder(ClientMessage.getDefaultInstance()))
                  .addLast(new ProtobufVarint32LengthFieldPrepender())
                  .addLast(new ProtobufEncoder())
                  .addLast(new RemoteHandshakeHandler(agent, options, launches));
            }
          })
          .bind(options.listen())
          .sync()
          .channel();
      return new RemoteListener(group, ch, launches);
    } catch (InterruptedException e) {
      group.shutdownGracefully();
      launches.shutdownNow();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while binding " + options.listen(), e);
    } catch (RuntimeException e) {
      group.shutdownGracefully();
      launches.shutdownNow();
      throw new IOException("cannot listen on " + options.listen() + ": " + e.getMessage(), e);
    }
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully().syncUninterruptibly();
    launches.shutdownNow();
  }
}
