package io.gpupool.agent;

import io.gpupool.proto.v1.AgentRequest;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.protobuf.ProtobufDecoder;
import io.netty.handler.codec.protobuf.ProtobufEncoder;
import io.netty.handler.codec.protobuf.ProtobufVarint32LengthFieldPrepender;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The agent's Unix socket: varint32-framed protobuf ({@code agent.proto}), one
 * {@link RequestHandler} per connection.
 *
 * <p>Epoll where Netty's native transport loads (it gives the peer's credentials, which
 * submitting and cancelling need); NIO otherwise, where only status and report are served. The
 * socket file is made 0666: any local user may ask, and the kernel's peer credentials — not
 * file permissions — decide what each may do. A socket file left by a dead agent is replaced; one
 * that a live agent answers on is not.
 */
public final class LocalSocketServer implements AutoCloseable {
  static final int MAX_FRAME_BYTES = 1 << 20;

  private final EventLoopGroup group;
  private final Channel channel;
  private final Path path;
  private final boolean epoll;

  private LocalSocketServer(EventLoopGroup group, Channel channel, Path path, boolean epoll) {
    this.group = group;
    this.channel = channel;
    this.path = path;
    this.epoll = epoll;
  }

  public static LocalSocketServer start(Agent agent, Path path) throws IOException {
    return start(agent, path, true);
  }

  /** {@code allowEpoll} false: NIO even where epoll is available (what a node without it gets). */
  static LocalSocketServer start(Agent agent, Path path, boolean allowEpoll) throws IOException {
    prepare(path);
    boolean epoll = allowEpoll && Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    Class<? extends ServerChannel> type =
        epoll ? EpollServerDomainSocketChannel.class : NioServerDomainSocketChannel.class;
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, io);
    try {
      Channel ch = new ServerBootstrap()
          .group(group)
          .channel(type)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel c) {
              c.pipeline()
                  .addLast(new BoundedVarint32FrameDecoder(MAX_FRAME_BYTES))
                  .addLast(new ProtobufDecoder(AgentRequest.getDefaultInstance()))
                  .addLast(new ProtobufVarint32LengthFieldPrepender())
                  .addLast(new ProtobufEncoder())
                  .addLast(new RequestHandler(agent));
            }
          })
          .bind(epoll ? new DomainSocketAddress(path.toFile()) : UnixDomainSocketAddress.of(path))
          .sync()
          .channel();
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
      return new LocalSocketServer(group, ch, path, epoll);
    } catch (InterruptedException e) {
      group.shutdownGracefully();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while binding " + path, e);
    } catch (RuntimeException | IOException e) {
      group.shutdownGracefully();
      throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
    }
  }

  /** Creates the socket's directory; removes a stale socket file; refuses if an agent answers. */
  private static void prepare(Path path) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    if (dir != null && !Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
    if (!Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
        java.nio.file.LinkOption.NOFOLLOW_LINKS).isOther()) {
      throw new IOException(path + " exists and is not a socket; remove it or choose another --socket");
    }
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      probe.connect(UnixDomainSocketAddress.of(path));
      throw new IOException("another agent is serving " + path);
    } catch (IOException refused) {
      if (refused.getMessage() != null && refused.getMessage().startsWith("another agent")) throw refused;
      Files.delete(path); // nobody listens: left by an agent that died
    }
  }

  public Path path() {
    return path;
  }

  /** Whether peers' credentials are known (the epoll transport). */
  public boolean epoll() {
    return epoll;
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully().syncUninterruptibly();
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // nothing listens any more; a later agent replaces the file
    }
  }
}
