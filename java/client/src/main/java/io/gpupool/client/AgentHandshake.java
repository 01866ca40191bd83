package io.gpupool.client;

import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.Queued;
import io.gpupool.proto.v1.Redirect;
import io.gpupool.proto.v1.RemoteLimits;
import io.gpupool.proto.v1.ServerMessage;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The agent's side of acquiring a remote GPU: Hello, Queued while the session waits for a
 * grant, then Redirect to the session's worker, where {@link RemoteBackend#attach} takes
 * over. The agent connection stays open for the session's lifetime and is closed with it.
 * With TLS ({@code gpupools://}) both connections are TLS, and both certificates are verified
 * against the pool's host name: the worker serves the agent's certificate at the address of
 * the Redirect, which is an IP.
 */
final class AgentHandshake {
  /** The CUDA API level of the calls this client makes (JCuda 12.0's cuda.h). */
  static final int CLIENT_CUDA_VERSION = 12000;
  private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
  private static final System.Logger LOG = System.getLogger(AgentHandshake.class.getName());

  record Session(RemoteBackend backend, long jobId) {}

  private AgentHandshake() {}

  /** {@code tls}: null for plain TCP ({@code gpupool://}). */
  static Session open(PoolUri uri, Tls tls, GpuRequest request) {
    String where = "the agent at " + uri.host() + ":" + uri.port();
    Socket agent = new Socket();
    try {
      agent.setTcpNoDelay(true);
      agent.connect(new InetSocketAddress(uri.host(), uri.port()), CONNECT_TIMEOUT_MILLIS);
    } catch (IOException e) {
      close(agent);
      throw new PoolUnavailableException("cannot reach " + where + ": " + e.getMessage(), e);
    }
    if (tls != null) {
      agent = tls.handshake(agent, where);
    }
    try {
      Frames.write(agent.getOutputStream(), ClientMessage.newBuilder().setHello(hello(uri, request)).build());
      DataInputStream in = Frames.input(agent.getInputStream());
      while (true) {
        ServerMessage message = Frames.read(in);
        if (message == null) {
          throw new PoolUnavailableException(where + " closed the connection before it redirected the session"
              + (tls == null ? " (if it serves TLS, use gpupools://)" : ""), null);
        }
        switch (message.getMessageCase()) {
          case QUEUED:
            Queued q = message.getQueued();
            LOG.log(Level.INFO, "waiting for a GPU as job {0}, {1} ahead: {2}", q.getJobId(), q.getAhead(), q.getReason());
            break;
          case REDIRECT:
            Redirect r = message.getRedirect();
            String host = r.getHost().isEmpty() ? uri.host() : r.getHost();
            return new Session(RemoteBackend.attach(host, r.getPort(), r.getSecret().toByteArray(), agent, tls), r.getJobId());
          case REFUSED:
            throw new SessionRefusedException(RemoteBackend.reason(message.getRefused().getReason()), where,
                message.getRefused().getMessage());
          default:
            throw new ProtocolException(where + " answered Hello with " + message.getMessageCase());
        }
      }
    } catch (IOException e) {
      close(agent);
      throw new PoolUnavailableException("lost the connection to " + where + ": " + e.getMessage()
          + (tls == null ? " (if it serves TLS, use gpupools://)" : ""), e);
    } catch (RuntimeException e) {
      close(agent);
      throw e;
    }
  }

  static Hello hello(PoolUri uri, GpuRequest request) {
    return Hello.newBuilder()
        .setProtocolVersion(RemoteLimits.PROTOCOL_VERSION_VALUE)
        .setToken(uri.token())
        .setMemoryBytes(request.memoryBytes() != 0 ? request.memoryBytes() : uri.memoryBytes())
        .setName(request.name() != null ? request.name() : uri.name())
        .setTeam(request.team() != null ? request.team() : uri.team())
        .setNoWait(request.noWait() != null ? request.noWait() : uri.noWait())
        .setClientCudaVersion(CLIENT_CUDA_VERSION)
        .build();
  }

  private static void close(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}
