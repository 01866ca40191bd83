package io.gpupool.agent.remote;

import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * How the agent serves remote sessions.
 *
 * @param listen where clients connect (`gpupool agent --listen HOST:PORT`)
 * @param ssl TLS for the handshake, or null for plain TCP
 * @param tokens the tokens clients must present
 * @param launcher starts each session's worker
 * @param uid the user remote sessions' jobs belong to (the agent's: the workers run as it)
 * @param driverVersion cuDriverGetVersion of the node: a client built for a newer CUDA is refused
 *     (it could call what this driver lacks, LESSONS "Remoting" 7); 0: not checked
 */
public record RemoteOptions(InetSocketAddress listen, SslContext ssl, TokenStore tokens, WorkerLauncher launcher, int uid,
    int driverVersion) {
  public RemoteOptions {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(launcher, "launcher");
  }
}
