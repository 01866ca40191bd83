package io.gpupool.client;

import java.net.URI;

/**
 * Where GPUs come from: this machine ({@code local:0}, device 0) or a pool's agent
 * ({@code gpupool://host:7070?token=T&memory=4GiB&name=x&team=y}; over TLS to the agent and
 * the session's worker: {@code gpupools://host:7070?token=T&trust=/path/ca.pem}, verified
 * against that host name, trusting the PEM's certificates or, without {@code trust}, the
 * JVM's trust store). The same code runs on either:
 *
 * <pre>{@code
 * GpuPool pool = GpuPool.connect(URI.create(args[0]));
 * try (RemoteGpu gpu = pool.acquire(GpuRequest.memory(4L << 30))) {
 *   DeviceBuffer x = gpu.allocate(4L * n);
 *   ...
 * }
 * }</pre>
 *
 * Connecting only checks the address; each {@link #acquire} opens a session.
 */
public final class GpuPool {
  private final PoolUri uri;
  private final Tls tls;
  private final String description;

  private GpuPool(PoolUri uri, Tls tls, String description) {
    this.uri = uri;
    this.tls = tls;
    this.description = description;
  }

  /**
   * IllegalArgumentException for an address that is neither {@code local:N} nor
   * {@code gpupool(s)://}, or whose {@code trust} file holds no readable certificate.
   */
  public static GpuPool connect(URI uri) {
    PoolUri parsed = PoolUri.parse(uri);
    Tls tls = parsed.tls() ? Tls.forHost(parsed.host(), parsed.trust()) : null;
    return new GpuPool(parsed, tls, PoolUri.redacted(uri));
  }

  /** As {@link #connect(URI)}; also takes {@code "local:"} (device 0), which java.net.URI cannot hold. */
  public static GpuPool connect(String uri) {
    return connect(URI.create("local:".equals(uri) ? "local:0" : uri));
  }

  /** Device 0 of this machine, in process. */
  public static GpuPool local() {
    return connect("local:0");
  }

  /**
   * A GPU for this session, held until it is closed. Locally: the device's primary context
   * (the request's memory must fit the device; no quota is enforced). Remotely: the agent
   * admits the session (waiting in its queue unless noWait) and hands it to a worker.
   *
   * @throws SessionRefusedException refused: bad token, no capacity, never fits...
   * @throws PoolUnavailableException the agent or worker cannot be reached, or no driver locally
   */
  public RemoteGpu acquire(GpuRequest request) {
    if (uri.local()) {
      LocalBackend backend = new LocalBackend(uri.ordinal());
      if (request.memoryBytes() > backend.device().totalMemoryBytes()) {
        backend.close();
        throw new SessionRefusedException(SessionRefusedException.Reason.NEVER_FITS, "local:" + uri.ordinal(),
            request.memoryBytes() + " bytes requested, the device has " + backend.device().totalMemoryBytes());
      }
      return new RemoteGpu(backend, "local: " + backend.device().name());
    }
    AgentHandshake.Session session = AgentHandshake.open(uri, tls, request);
    return new RemoteGpu(session.backend(), uri.host() + ":" + uri.port() + " job " + session.jobId());
  }

  public RemoteGpu acquire() {
    return acquire(GpuRequest.any());
  }

  @Override
  public String toString() {
    return "GpuPool[" + description + "]";
  }
}
