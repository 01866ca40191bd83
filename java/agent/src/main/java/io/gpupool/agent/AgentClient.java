package io.gpupool.agent;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The client side of the agent's socket, for the CLI: blocking, JDK Unix-domain sockets, the
 * same varint32-delimited protobuf framing as {@link LocalSocketServer}.
 */
public final class AgentClient implements AutoCloseable {
  /** Where clients and the agent meet unless told otherwise. */
  public static final Path DEFAULT_SOCKET = Path.of("/tmp/gpupool/agent.sock");

  private final Path path;
  private final SocketChannel channel;
  private final InputStream in;
  private final OutputStream out;

  private AgentClient(Path path, SocketChannel channel) {
    this.path = path;
    this.channel = channel;
    this.in = Channels.newInputStream(channel);
    this.out = Channels.newOutputStream(channel);
  }

  /** --socket, else GPUPOOL_SOCKET, else {@link #DEFAULT_SOCKET}. */
  public static Path socketPath(Path option, Map<String, String> env) {
    if (option != null) return option;
    String fromEnv = env.get("GPUPOOL_SOCKET");
    return fromEnv != null && !fromEnv.isEmpty() ? Path.of(fromEnv) : DEFAULT_SOCKET;
  }

  /** Connects, or explains that no agent is there and how to start one. */
  public static AgentClient connect(Path path) throws NoAgentException {
    SocketChannel ch = null;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(path));
      return new AgentClient(path, ch);
    } catch (IOException | UnsupportedOperationException e) {
      try {
        if (ch != null) ch.close();
      } catch (IOException ignored) {
        // already failing
      }
      throw new NoAgentException(path, e);
    }
  }

  public void send(AgentRequest request) throws IOException {
    request.writeDelimitedTo(out);
    out.flush();
  }

  /** The next reply; empty when the agent closed the connection. */
  public Optional<AgentReply> receive() throws IOException {
    return Optional.ofNullable(AgentReply.parseDelimitedFrom(in));
  }

  /** One request, one reply. */
  public static AgentReply call(Path path, AgentRequest request) throws IOException {
    try (AgentClient c = connect(path)) {
      c.send(request);
      return c.receive().orElseThrow(() -> new IOException("the agent at " + path + " closed the connection"));
    }
  }

  public Path path() {
    return path;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** No agent listens on the socket. */
  public static final class NoAgentException extends IOException {
    public NoAgentException(Path path, Exception cause) {
      super("no gpupool agent at " + path + " (" + cause.getMessage() + ").\n"
          + "Start one with `gpupool agent` (on a node without GPUs: `gpupool agent --sim 2`), "
          + "or point --socket / GPUPOOL_SOCKET at the socket of a running agent.", cause);
    }
  }
}
