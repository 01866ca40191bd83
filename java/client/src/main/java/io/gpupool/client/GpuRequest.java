package io.gpupool.client;

/**
 * What {@link GpuPool#acquire} asks for: device memory (the session's quota; 0 for a
 * whole GPU), and how the session shows in the pool's status and reports. Values not set
 * here come from the pool's URI ({@code memory=}, {@code name=}, {@code team=},
 * {@code noWait=}). Immutable.
 */
public final class GpuRequest {
  private final long memoryBytes;
  private final String name;
  private final String team;
  private final Boolean noWait;

  private GpuRequest(long memoryBytes, String name, String team, Boolean noWait) {
    if (memoryBytes < 0) {
      throw new IllegalArgumentException("memory must not be negative: " + memoryBytes);
    }
    this.memoryBytes = memoryBytes;
    this.name = name;
    this.team = team;
    this.noWait = noWait;
  }

  /** A quota of {@code bytes} of device memory. */
  public static GpuRequest memory(long bytes) {
    return new GpuRequest(bytes, null, null, null);
  }

  /** A whole GPU, or the URI's {@code memory=} where it has one. */
  public static GpuRequest any() {
    return new GpuRequest(0, null, null, null);
  }

  public GpuRequest name(String name) {
    return new GpuRequest(memoryBytes, name, team, noWait);
  }

  public GpuRequest team(String team) {
    return new GpuRequest(memoryBytes, name, team, noWait);
  }

  /** Refuse at once (NO_CAPACITY) rather than wait in the pool's queue. */
  public GpuRequest noWait(boolean noWait) {
    return new GpuRequest(memoryBytes, name, team, noWait);
  }

  public long memoryBytes() {
    return memoryBytes;
  }

  /** null: not set here. */
  public String name() {
    return name;
  }

  /** null: not set here. */
  public String team() {
    return team;
  }

  /** null: not set here. */
  public Boolean noWait() {
    return noWait;
  }

  @Override
  public String toString() {
    return "GpuRequest[memory=" + memoryBytes + ", name=" + name + ", team=" + team
        + ", noWait=" + noWait + "]";
  }
}
