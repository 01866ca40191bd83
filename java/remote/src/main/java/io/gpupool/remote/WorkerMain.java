package io.gpupool.remote;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.io.IOException;

/**
 * The worker process of one remote session, as the agent starts it (under the shim, with the
 * session's quota and its secret in GPUPOOL_WORKER_SECRET):
 *
 * <pre>java -cp ... io.gpupool.remote.WorkerMain --bind HOST [--tls-cert PEM --tls-key PEM]</pre>
 *
 * It prints one line, {@code gpupool-worker listening HOST:PORT}, which the agent reads to
 * redirect the client. Exit status: 0 when the session ended, 3 when nobody attached in time,
 * 2 for bad arguments or environment, 1 when the device or the socket could not be opened.
 */
public final class WorkerMain {
  static final int EXIT_USAGE = 2;
  static final int EXIT_NO_ATTACH = 3;

  private WorkerMain() {}

  public static void main(String[] args) {
    String bind = null;
    String cert = null;
    String key = null;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--bind": bind = value; i++; break;
        case "--tls-cert": cert = value; i++; break;
        case "--tls-key": key = value; i++; break;
        default: usage("unknown argument " + args[i]);
      }
    }
    if (bind == null || bind.isEmpty()) usage("--bind HOST is required");
    if ((cert == null) != (key == null)) usage("--tls-cert and --tls-key go together");
    byte[] secret = null;
    try {
      secret = WorkerSecret.parseHex(System.getenv("GPUPOOL_WORKER_SECRET"));
    } catch (IllegalArgumentException e) {
      usage(e.getMessage());
    }
    try {
      SslContext ssl = cert == null ? null : SslContextBuilder.forServer(new File(cert), new File(key)).build();
      WorkerServer server = WorkerServer.start(bind, secret, WorkerLimits.defaults(), ssl);
      System.out.println("gpupool-worker listening " + bind + ":" + server.address().getPort());
      System.out.flush();
      server.finished().join();
      System.exit(server.attached() ? 0 : EXIT_NO_ATTACH);
    } catch (IOException | RuntimeException e) {
      System.err.println("gpupool-worker: " + e.getMessage());
      System.exit(1);
    }
  }

  private static void usage(String problem) {
    System.err.println("gpupool-worker: " + problem);
    System.err.println("usage: WorkerMain --bind HOST [--tls-cert PEM --tls-key PEM]  (secret in GPUPOOL_WORKER_SECRET)");
    System.exit(EXIT_USAGE);
  }
}
